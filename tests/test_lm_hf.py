"""HF interop: Qwen3ForCausalLM -> AudioLM parity, export round trip, warm start with a wider vocab."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")
from transformers import Qwen3Config, Qwen3ForCausalLM  # noqa: E402

from audiolm.lm.hf import from_hf, load_hf_qwen3, to_hf  # noqa: E402
from audiolm.lm.model import AudioLM  # noqa: E402

LLAMA3 = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 32}


def tiny_hf(rope=None, tie=False, seed=0) -> Qwen3ForCausalLM:
    torch.manual_seed(seed)
    cfg = Qwen3Config(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=128,
                      rope_parameters=rope or {"rope_type": "default", "rope_theta": 10000.0},
                      tie_word_embeddings=tie)
    model = Qwen3ForCausalLM(cfg).float().eval()
    with torch.no_grad():  # random everything (norm weights too), so parity means something
        for p in model.parameters():
            p.normal_(0, 0.3) if p.ndim > 1 else p.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("rope", [None, LLAMA3], ids=["plain", "llama3"])
def test_from_hf_logits_match(rope):
    hf = tiny_hf(rope)
    ours = from_hf(hf).eval()
    assert isinstance(ours, torch.nn.Module)
    x = torch.randint(0, 97, (2, 40))  # longer than original_max_position: scaling matters
    with torch.no_grad():
        ref = hf(x).logits
        got = ours(x)
    assert got.shape == (2, 40, 97)
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    assert ours.cfg.rope_scaling.type == ("llama3" if rope else "none")


class _Tok:
    """Stand-in for UnifiedTokenizer: anything with save(path) and the special ids."""

    bos_id, eos_id, pad_id = 1, 2, 0

    def save(self, path):
        from tokenizers import Tokenizer, models

        vocab = {f"t{i}": i for i in range(97)}
        Tokenizer(models.WordLevel(vocab, unk_token="t0")).save(path)


@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_to_hf_round_trip(tmp_path, tie):
    ours = from_hf(tiny_hf(LLAMA3, tie=tie, seed=1)).eval()
    out = to_hf(ours, tmp_path / "export", tokenizer=_Tok())
    assert (out / "tokenizer.json").is_file()
    tok_cfg = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_cfg["bos_token"] == "t1" and tok_cfg["eos_token"] == "t2"
    loaded = Qwen3ForCausalLM.from_pretrained(str(out)).float().eval()
    assert loaded.config.bos_token_id == 1 and loaded.config.eos_token_id == 2
    x = torch.randint(0, 97, (2, 40))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).logits, ours(x), atol=1e-4, rtol=1e-4)
    back = from_hf(loaded)
    for (n, a), (_, b) in zip(ours.state_dict().items(), back.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)
    fast = transformers.AutoTokenizer.from_pretrained(str(out))
    assert fast.convert_tokens_to_ids("t5") == 5


def test_warm_start_extends_vocab(tmp_path):
    hf = tiny_hf(seed=2)
    hf.save_pretrained(tmp_path / "qwen3")
    model = load_hf_qwen3(tmp_path / "qwen3", vocab_size=150, keep_rows=90, attention="sdpa")
    assert isinstance(model, AudioLM) and model.cfg.vocab_size == 150
    emb, head = model.embed.weight, model.lm_head.weight
    ref_emb = hf.model.embed_tokens.weight
    torch.testing.assert_close(emb[:90], ref_emb[:90])
    torch.testing.assert_close(emb[90:], ref_emb[:90].mean(0).expand(60, -1))
    torch.testing.assert_close(head[120], hf.lm_head.weight[:90].mean(0))
    x = torch.randint(0, 90, (1, 12))
    with torch.no_grad():  # same logits on the kept rows
        torch.testing.assert_close(model(x)[..., :90], hf(x).logits[..., :90], atol=1e-4, rtol=1e-4)
    with pytest.raises(FileNotFoundError):
        load_hf_qwen3(tmp_path / "missing", vocab_size=150)
