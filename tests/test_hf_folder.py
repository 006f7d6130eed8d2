"""`audiolm export hf` and hf:DIR: a trained LM through transformers and back, token for token."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from audiolm.cli import main  # noqa: E402
from audiolm.config import to_dict  # noqa: E402
from audiolm.lm.checkpoint import load_lm  # noqa: E402
from audiolm.lm.generate import generate  # noqa: E402
from audiolm.lm.hf_folder import HFFolderError, load_hf_lm  # noqa: E402
from audiolm.lm.module import LMModule  # noqa: E402
from audiolm.lm.train_config import LMTrainConfig  # noqa: E402
from audiolm.tokens.testing import tiny_tokenizer  # noqa: E402

CODEC = {"spec": "mimi:/models/mimi", "sample_rate": 24000, "frame_rate": 12.5, "n_codebooks": 4, "codebook_size": 64}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny randomly initialised LM checkpoint in the format `audiolm train lm` writes."""
    torch.manual_seed(0)
    tok = tiny_tokenizer(n_codebooks=4, codebook_size=64)
    cfg = LMTrainConfig(name="tiny")
    m = cfg.model
    m.vocab_size, m.d_model, m.n_layers, m.n_heads, m.n_kv_heads, m.ffn_dim, m.max_seq_len = tok.vocab.size, 64, 2, 4, 2, 128, 256
    m.attention, m.init_std = "sdpa", 0.2  # large weights: logits far from uniform, generation not trivial
    cfg.data.layout, cfg.data.codebooks, cfg.data.seq_len = "delay", [0, 1, 2, 3], 128
    module = LMModule(to_dict(cfg), codec=CODEC, tokenizer_json=tok.hf.to_str())
    path = tmp_path_factory.mktemp("lm") / "last.ckpt"
    torch.save({"state_dict": module.state_dict(), "audiolm": module.checkpoint_meta(), "global_step": 7}, path)
    return path


def test_export_loads_in_transformers_with_equal_logits_and_greedy_tokens(ckpt, tmp_path):
    out = tmp_path / "hf"
    assert main(["export", "hf", str(ckpt), str(out)]) == 0
    ours = load_lm(ckpt)
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(out)).float().eval()
    assert type(hf).__name__ == "Qwen3ForCausalLM"
    v = ours.tokenizer.vocab
    gen_cfg = json.loads((out / "generation_config.json").read_text())
    assert gen_cfg["eos_token_id"] == [v.text_end, v.audio_end, ours.tokenizer.eos_id]
    meta = json.loads((out / "audiolm.json").read_text())
    assert meta["codec"] == CODEC and meta["layout"] == "delay" and meta["codebooks"] == [0, 1, 2, 3]
    assert meta["frame_rate"] == 12.5 and meta["step"] == 7
    prompt = [ours.tokenizer.bos_id, v.text_start] + ours.tokenizer.encode_text("quiet river") + [v.text_end, v.audio_start]
    x = torch.tensor([prompt])
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, ours.model(x), atol=1e-4, rtol=1e-4)
        hf_ids = hf.generate(x, max_new_tokens=24, do_sample=False, eos_token_id=gen_cfg["eos_token_id"],
                             pad_token_id=gen_cfg["pad_token_id"])[0, len(prompt):].tolist()
    mine = generate(ours.model, [prompt], max_new_tokens=24, temperature=0.0, stop_ids=gen_cfg["eos_token_id"])[0]
    assert mine == hf_ids and len(mine) >= 2
    fast = transformers.AutoTokenizer.from_pretrained(str(out))
    pua = chr(int(v.audio_id_to_pua(v.audio_id(2, 5))))
    assert fast.convert_tokens_to_ids(pua) == v.audio_id(2, 5)


def test_hf_folder_back_in_as_hf_spec(ckpt, tmp_path):
    out = tmp_path / "hf"
    main(["export", "hf", str(ckpt), str(out)])
    a, b = load_lm(ckpt), load_lm(f"hf:{out}")
    assert b.codec_spec == CODEC["spec"] and b.codec_info.to_dict() == CODEC and b.layout.name == a.layout.name
    assert b.layout.codebooks == a.layout.codebooks and b.tokenizer.vocab.size == a.tokenizer.vocab.size
    assert b.config.data.seq_len == 128 and b.step == 7
    x = torch.randint(0, a.tokenizer.vocab.size, (1, 30))
    with torch.no_grad():
        torch.testing.assert_close(b.model(x), a.model(x), atol=1e-5, rtol=1e-5)


def test_bad_folders_name_what_is_wrong(ckpt, tmp_path):
    out = tmp_path / "hf"
    main(["export", "hf", str(ckpt), str(out)])
    with pytest.raises(HFFolderError, match="no config.json"):
        load_hf_lm(tmp_path / "nothing")
    (out / "audiolm.json").unlink()
    with pytest.raises(HFFolderError, match="pass --layout and --codebooks"):
        load_hf_lm(out)
    lm = load_hf_lm(out, layout="frame_major", codebooks=[0, 1, 2, 3], codec="mimi:/x")
    assert lm.layout.codebooks == [0, 1, 2, 3] and lm.codec_spec == "mimi:/x"
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "vocab_size": 100}))
    with pytest.raises(HFFolderError, match="token ids, but the model"):
        load_hf_lm(out, layout="frame_major", codebooks=[0, 1, 2, 3])
    (out / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    with pytest.raises(HFFolderError, match="model_type 'llama'"):
        load_hf_lm(out)


def test_command_line_flags_reach_a_folder_without_audiolm_json(ckpt, tmp_path):
    import argparse

    from audiolm.lm.hf_folder import add_hf_arguments, hf_options

    out = tmp_path / "hf"
    main(["export", "hf", str(ckpt), str(out)])
    (out / "audiolm.json").unlink()  # as a folder from elsewhere would be
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--codec")
    add_hf_arguments(p)
    args = p.parse_args([f"hf:{out}", "--layout", "delay", "--codebooks", "0,1,2,3", "--codec", "mimi:/m"])
    lm = load_lm(args.checkpoint, **hf_options(args))
    assert lm.layout.codebooks == [0, 1, 2, 3] and lm.codec_spec == "mimi:/m"
    assert hf_options(p.parse_args(["x.ckpt"])) == {}


def test_fine_tuning_from_a_folder_that_covers_the_vocabulary_keeps_every_row(ckpt, tmp_path):
    from audiolm.lm.train import _warm_start

    out = tmp_path / "hf"
    main(["export", "hf", str(ckpt), str(out)])
    src = load_lm(ckpt)
    cfg = LMTrainConfig(name="ft", init_from=f"hf:{out}")
    cfg.trainer.max_tokens = 1024
    from audiolm.lm.train_config import validate_train_config

    validate_train_config(cfg)  # strips hf:
    assert cfg.init_from == str(out)
    cfg.model.vocab_size, cfg.model.attention = src.tokenizer.vocab.size, "sdpa"
    model, _ = _warm_start(cfg, src.tokenizer)
    torch.testing.assert_close(model.embed.weight, src.model.embed.weight)  # audio rows too, not re-initialised
