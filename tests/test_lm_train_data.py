"""End to end on the real data path: fake speech cuts -> tiny codec -> Shar token shards ->
LMDataModule -> ``audiolm train lm quickstart ...`` (loss falls) -> ``load_lm`` -> ``audiolm generate``."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolm.cli import main
from audiolm.config import load_config, to_dict


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tiny_codec_checkpoint(path: Path) -> str:
    """A randomly initialised tiny codec saved the way ``audiolm train codec`` saves one."""
    from audiolm.codec.config import CodecTrainConfig
    from audiolm.codec.model import SplitRVQCodec
    from audiolm.codec.testing import tiny_codec_overrides

    torch.manual_seed(0)
    cfg = load_config(CodecTrainConfig, None, tiny_codec_overrides())
    model = SplitRVQCodec(cfg.model)
    torch.save({"hyper_parameters": {"config": to_dict(cfg)},
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    torch.set_num_threads(1)
    from lhotse import CutSet

    from audiolm.codec import load_codec
    from audiolm.codec.testing import make_fake_cuts
    from audiolm.codec.tokenize import tokenize
    from audiolm.tokens.tokenizer import train_bpe

    root = tmp_path_factory.mktemp("lmdata")
    spec = _tiny_codec_checkpoint(root / "codec.ckpt")
    codec = load_codec(spec)
    cuts = make_fake_cuts(root / "wav", n=16, seconds=1.5)
    train, dev = CutSet.from_cuts(list(cuts)[:12]), CutSet.from_cuts(list(cuts)[12:])
    dev.to_file(root / "cuts_dev.jsonl.gz")
    tokenize(spec, train, root / "tokens" / "train", progress=False, codec=codec)
    tokenize(spec, dev, root / "tokens" / "dev", progress=False, codec=codec)
    texts = [s.text for c in cuts for s in c.supervisions] * 4
    tok = train_bpe(texts, vocab_size=300, n_codebooks=codec.n_codebooks, codebook_size=codec.codebook_size)
    tok.save(root / "tokenizer.json")
    return root, spec, codec


def test_train_on_token_shards_then_load_and_generate(corpus, capsys):
    root, spec, codec = corpus
    overrides = [
        f"exp_dir={root / 'exp'}", f"data.tokenizer={root / 'tokenizer.json'}",
        f"data.train_shards=[{root / 'tokens' / 'train'}]", f"data.val_shards=[{root / 'tokens' / 'dev'}]",
        "data.seq_len=128", "data.batch_size=4", "data.num_workers=0", "trainer.max_tokens=15360",  # 30 steps
        "trainer.val_every_n_steps=15", "trainer.ckpt_every_n_steps=15", "trainer.log_every_n_steps=5",
        "trainer.progress_bar=false", "optim.lr=1e-2", "model.max_seq_len=128",
    ]
    assert main(["train", "lm", "quickstart", *overrides]) == 0
    run = root / "exp" / "quickstart"
    final = json.loads((run / "final.json").read_text())
    from audiolm.lm.checkpoint import load_lm

    lm = load_lm(run / "checkpoints" / "last.ckpt")
    V = lm.model.vocab_size
    assert V == lm.tokenizer.vocab.size and lm.codec_spec == spec and lm.codec_info.n_codebooks == codec.n_codebooks
    assert lm.layout.codebooks == list(range(codec.n_codebooks)) and lm.step == 30
    # the loss fell well below a uniform guess over the vocabulary, per token and for every modality
    assert final["steps"] == 30 and final["val_loss"] < math.log(V) - 1.5, final
    assert all(v is not None and v < math.log(V) for k, v in final["val_loss_per_modality"].items() if k != "text")
    assert final["val_bits_per_audio_second"] > 0
    hp = (run / "hparams.yaml").read_text()
    assert spec in hp and "git_sha" in hp

    # generation from the trained checkpoint: continuation, TTS and N-shot ASR
    wav = root / "wav" / "utt0012.wav"
    ckpt = str(run / "checkpoints" / "last.ckpt")
    out = root / "gen" / "cont.flac"
    assert main(["generate", "continue", ckpt, "--wav", str(wav), "--prompt-seconds", "0.5", "--seconds", "0.5",
                 "--out", str(out), "--device", "cpu"]) == 0
    audio, sr = sf.read(out)
    assert sr == codec.sample_rate and len(audio) > 0.5 * sr and np.isfinite(audio).all()
    out = root / "gen" / "tts.wav"
    assert main(["generate", "tts", ckpt, "--text", "a e i", "--voice-wav", str(wav), "--voice-text", "a o",
                 "--seconds", "0.5", "--out", str(out), "--device", "cpu"]) == 0
    assert sf.info(out).samplerate == codec.sample_rate
    capsys.readouterr()
    assert main(["generate", "asr", ckpt, str(wav), "--shots", "2", "--shots-from", str(root / "cuts_dev.jsonl.gz"),
                 "--max-new-tokens", "8", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.strip() != ""  # a transcript (of a barely trained model) was printed
    assert main(["generate", "continue", ckpt, "--text", "a e", "--max-new-tokens", "5", "--device", "cpu"]) == 0
    out = root / "gen" / "cut.wav"
    assert main(["generate", "continue", ckpt, "--cuts", str(root / "cuts_dev.jsonl.gz"), "--prompt-seconds", "0.3",
                 "--seconds", "0.3", "--new-only", "--out", str(out), "--device", "cpu"]) == 0
    assert sf.info(out).duration <= 0.3 + 2 / codec.frame_rate


def test_exact_resume_with_lm_datamodule(corpus, tmp_path):
    """Stop + resume through train_lm on the real LMDataModule equals an uninterrupted run."""
    import lightning.pytorch as pl
    from lm_train_toydata import toy_config

    from audiolm.lm.train import train_lm
    from audiolm.tokens.datamodule import DataConfig, LMDataModule
    from audiolm.tokens.tokenizer import UnifiedTokenizer

    root, _, codec = corpus
    tok = UnifiedTokenizer.from_file(root / "tokenizer.json")
    rng = np.random.default_rng(0)
    docs = [(f"d{i}", [(rng.integers(0, codec.codebook_size, (codec.n_codebooks, int(rng.integers(3, 8)))), "a e i o")
                       for _ in range(3)]) for i in range(24)]

    def data():
        return LMDataModule.from_documents(tok, train=docs, val=docs[:2], frame_rate=codec.frame_rate,
                                           config=DataConfig(seq_len=96, batch_size=2, num_workers=0), docs_per_unit=4)

    class Rec(pl.Callback):
        def __init__(self, stop=None):
            self.losses, self.stop = {}, stop

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.losses[trainer.global_step] = float(outputs["loss"])
            if self.stop and trainer.global_step >= self.stop:
                trainer.should_stop = True

    def config(d):
        cfg = toy_config(tmp_path / d, steps=10, ckpt_every_n_steps=5)
        cfg.model.vocab_size, cfg.model.max_seq_len, cfg.data.seq_len, cfg.data.batch_size = tok.vocab.size, 96, 96, 2
        cfg.trainer.max_tokens = 10 * 2 * 96
        return cfg

    straight, first, second = Rec(), Rec(stop=5), Rec()
    train_lm(config("a"), datamodule=data(), tokenizer=tok, callbacks=[straight])
    assert train_lm(config("b"), datamodule=data(), tokenizer=tok, callbacks=[first]) is None
    train_lm(config("b"), datamodule=data(), tokenizer=tok, callbacks=[second])
    assert sorted(second.losses) == list(range(6, 11))
    for step in range(6, 11):
        assert second.losses[step] == pytest.approx(straight.losses[step], rel=1e-5), step


def test_train_lm_cli_reports_config_errors(corpus, capsys):
    root, _, _ = corpus
    assert main(["train", "lm", "quickstart", f"exp_dir={root / 'exp2'}", "trainer.strategy=dp"]) == 2
    assert "trainer.strategy" in capsys.readouterr().err
    assert main(["train", "lm", "quickstart", f"exp_dir={root / 'exp2'}", "data.train_shards=[]"]) == 2
    assert "data.train_shards" in capsys.readouterr().err
