"""Token-shard folders that lhotse opens as they are; folders of older versions still read and migrated."""

import json
import os
import shutil

from lhotse import CutSet

from audiolm.codec.testing import make_fake_cuts
from audiolm.codec.tokenize import open_shards, tokenize
from audiolm.token_shards import meta_dir, progress_dir, read_codec_json
from audiolm.tokens.sources import read_codec_info


def test_fresh_output_opens_with_lhotse_and_an_old_layout_is_read_then_migrated(tmp_path, ckpt, caplog):
    cuts = make_fake_cuts(tmp_path / "audio", n=5, seconds=0.4)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "tok"
    tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=2, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [f"{f}.{i:06d}.{e}" for f, e in (("codes", "tar"), ("cuts", "jsonl.gz"))
                                                     for i in range(3)]
    lhotse_cuts = list(CutSet.from_shar(in_dir=out))
    assert sorted(c.id for c in lhotse_cuts) == sorted(c.id for c in cuts)
    assert lhotse_cuts[0].load_codes().shape[1] == read_codec_json(out)["n_codebooks"]

    # the layout of earlier versions: bookkeeping inside the folder
    old = tmp_path / "old"
    shutil.copytree(out, old)
    for name in ("codec.json", "summary.json", "skips.json"):
        shutil.copy(meta_dir(out) / name, old / name)
    shutil.copytree(progress_dir(out), old / ".progress")
    assert read_codec_info([str(old)]).to_dict() == read_codec_json(out)  # still read where it was
    assert len(list(open_shards(old))) == 5
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), old, shard_size=2, progress=False)  # a rerun migrates
    assert s["complete"] and s["cuts_encoded"] == 5 and "moved codec.json" in caplog.text
    assert not (old / "codec.json").exists() and not (old / ".progress").exists()
    assert (meta_dir(old) / "codec.json").is_file() and len(list(progress_dir(old).glob("shard-*.json"))) == 3
    assert sorted(c.id for c in CutSet.from_shar(in_dir=old)) == sorted(c.id for c in cuts)
    assert json.loads((meta_dir(old) / "summary.json").read_text())["cuts_encoded"] == 5
    assert sorted(os.listdir(old)) == sorted(os.listdir(out))  # shards only
