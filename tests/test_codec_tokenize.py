"""audiolm tokenize / decode: Shar output, bad input, resumption after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolm.codec.testing import make_fake_cuts
from audiolm.codec.tokenize import open_shards, tokenize
from audiolm.token_shards import meta_dir, progress_dir, scratch_root

REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")


def _bad_corpus(d: Path):
    """Good cuts + every kind of bad input, as a lhotse CutSet."""
    from lhotse import CutSet, MonoCut, Recording

    cuts = list(make_fake_cuts(d, n=3, seconds=1.0))
    sr = 24000

    def add(name, audio, rate=sr):
        p = d / f"{name}.wav"
        sf.write(p, audio, rate)
        rec = Recording.from_file(p, recording_id=name)
        cuts.append(MonoCut(id=name, start=0, duration=rec.duration, channel=rec.channel_ids[0] if rec.num_channels == 1 else 0,
                            recording=rec))

    add("silent", np.zeros(sr, np.float32))
    add("clipped", np.clip(3 * np.sin(np.arange(sr) / 5.0), -1, 1).astype(np.float32))
    add("tiny", 0.1 * np.ones(100, np.float32))  # < half a frame (1920 samples): nothing to store
    add("short", 0.1 * np.ones(1200, np.float32))  # < one frame: padded to one
    add("long", (0.1 * np.random.default_rng(0).standard_normal(12 * sr)).astype(np.float32))
    add("rate16k", (0.1 * np.sin(np.arange(16000) / 7.0)).astype(np.float32), rate=16000)
    # stereo: a MultiCut-free way is a 2-channel recording read as one cut over both channels
    p = d / "stereo.wav"
    sf.write(p, (0.1 * np.random.default_rng(1).standard_normal((sr, 2))).astype(np.float32), sr)
    rec = Recording.from_file(p, recording_id="stereo")
    from lhotse import MultiCut

    cuts.append(MultiCut(id="stereo", start=0, duration=rec.duration, channel=[0, 1], recording=rec))
    # corrupt file: garbage bytes with a .wav name, recorded with a plausible header copied from a real one
    good = Recording.from_file(d / "silent.wav", recording_id="corrupt")
    (d / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    corrupt = good.__class__(id="corrupt", sources=[type(good.sources[0])(type="file", channels=[0], source=str(d / "corrupt.wav"))],
                             sampling_rate=sr, num_samples=sr, duration=1.0)
    cuts.append(MonoCut(id="corrupt", start=0, duration=1.0, channel=0, recording=corrupt))
    missing = good.__class__(id="missing", sources=[type(good.sources[0])(type="file", channels=[0], source=str(d / "nope.wav"))],
                             sampling_rate=sr, num_samples=sr, duration=1.0)
    cuts.append(MonoCut(id="missing", start=0, duration=1.0, channel=0, recording=missing))
    return CutSet.from_cuts(cuts)


def test_tokenize_bad_input_is_handled_and_counted(tmp_path, ckpt):
    from audiolm.codec import load_codec

    cuts = _bad_corpus(tmp_path / "audio")
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "tok"
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, batch_size=4, shard_size=4, chunk_seconds=5.0,
                 progress=False)
    ids = [c.id for c in cuts]
    assert s["complete"] and s["cuts_in"] == len(ids)
    assert sorted(s["skipped_ids"]) == ["corrupt", "missing", "tiny"]
    assert s["skipped_ids"]["corrupt"] == "corrupt or unreadable audio" and s["skipped_ids"]["missing"] == "missing file"
    assert s["skipped_ids"]["tiny"].startswith("shorter than half a frame")
    rep = s["repaired"]
    for reason in ("silent (kept)", "clipped (kept)", "shorter than one frame (padded)", "very long (encoded in chunks)",
                   "downmixed to mono", "resampled 16000 -> 24000 Hz"):
        assert rep.get(reason, 0) >= 1, (reason, rep)
    # every input cut is either encoded (exactly once) or listed as skipped
    encoded = [c.id for c in open_shards(out)]
    assert sorted(encoded + list(s["skipped_ids"])) == sorted(ids) and len(set(encoded)) == len(encoded)
    meta = meta_dir(out)
    info = json.loads((meta / "codec.json").read_text())
    assert info["n_codebooks"] == 8 and info["frame_rate"] == 12.5 and info["spec"] == ckpt
    assert json.loads((meta / "skips.json").read_text())["skipped_ids"] == s["skipped_ids"]
    # only shards in OUT: lhotse's own reader opens the folder as it is
    from lhotse import CutSet

    assert sorted(c.id for c in CutSet.from_shar(in_dir=out)) == sorted(c.id for c in open_shards(out))
    codec = load_codec(ckpt)
    by_id = {c.id: c for c in open_shards(out)}
    for cid, cut in by_id.items():
        codes = cut.codes.load()
        assert codes.dtype == np.int16 and codes.shape[1] == 8
        n = int(round(cut.duration * 24000))
        assert codes.shape[0] in (codec.n_frames(n), codec.n_frames(n) - 1)  # lhotse drops a < half frame
        assert codes.shape[0] == int(np.floor(cut.duration * 12.5 + 0.5))
        assert abs(cut.codes.frame_shift - 0.08) < 1e-9
        assert np.array_equal(cut.load_codes(), codes)
    assert by_id["short"].codes.load().shape[0] == 1
    # the long cut, encoded in chunks, equals a one-shot encoding (causal codec)
    audio = torch.from_numpy(by_id["long"].load_audio())[None]
    assert np.array_equal(codec.encode(audio)[0].numpy().T, by_id["long"].codes.load())  # 12 s = 150 whole frames


def test_tokenize_resumes_after_kill_and_encodes_each_cut_once(tmp_path, ckpt):
    cuts = make_fake_cuts(tmp_path / "audio", n=12, seconds=0.6)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "tok"
    cmd = [sys.executable, "-m", "audiolm", "tokenize", "--codec", ckpt, str(tmp_path / "cuts.jsonl.gz"), str(out),
           "--shard-size", "1", "--batch-size", "1", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUDIOLM_TOKENIZE_SLEEP": "0.3"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list(progress_dir(out).glob("shard-*.json"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(progress_dir(out).glob("shard-*.json")))
    assert 2 <= done_before < 12
    # a killed run may also leave a half-written shard behind: a scratch folder and an unmarked file
    (scratch_root(out) / "000011-otherhost-1").mkdir(parents=True, exist_ok=True)  # another host's: kept
    (scratch_root(out) / "000011-dead").mkdir(parents=True, exist_ok=True)  # no owner: removed
    (out / "cuts.000011.jsonl.gz").write_bytes(b"partial")
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, batch_size=1, progress=False)
    assert s["complete"] and s["cuts_encoded"] == 12 and s["cuts_skipped"] == 0
    ids = [c.id for c in open_shards(out)]
    assert sorted(ids) == sorted(c.id for c in cuts) and len(ids) == 12
    assert [p.name for p in scratch_root(out).iterdir()] == ["000011-otherhost-1"]
    # a third run has nothing left to do
    assert tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, progress=False)["cuts_encoded"] == 12


def test_tokenize_refuses_to_mix_codecs_and_decode_writes_audio(tmp_path, ckpt):
    from audiolm.cli import main

    cuts = make_fake_cuts(tmp_path / "audio", n=3, seconds=0.5)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "tok"
    assert main(["tokenize", "--codec", ckpt, str(tmp_path / "cuts.jsonl.gz"), str(out), "--no-progress"]) == 0
    (meta_dir(out) / "codec.json").write_text(json.dumps({"spec": "other", "sample_rate": 24000, "frame_rate": 12.5,
                                                         "n_codebooks": 8, "codebook_size": 2048}))
    with pytest.raises(ValueError, match="another codec"):
        tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, progress=False)
    (meta_dir(out) / "codec.json").unlink()
    assert main(["decode", "--codec", ckpt, str(out), str(tmp_path / "wav"), "--no-progress"]) == 0
    wavs = sorted((tmp_path / "wav").glob("*.wav"))
    assert len(wavs) == 3
    for w, cut in zip(wavs, sorted(cuts, key=lambda c: c.id)):
        audio, sr = sf.read(w)
        assert sr == 24000 and abs(len(audio) - cut.num_samples) < 2


def test_length_batches_group_similar_lengths_within_both_limits():
    from audiolm.codec.api import length_batches

    sizes = [50, 10, 40, 10, 30, 500, 20]
    batches = length_batches(sizes, batch_size=3, max_samples=130)
    assert sorted(sum(batches, [])) == list(range(len(sizes)))  # every clip once
    assert [[sizes[k] for k in b] for b in batches] == [[10, 10, 20], [30, 40], [50], [500]]
    assert all(len(b) * max(sizes[k] for k in b) <= 130 or len(b) == 1 for b in batches)
