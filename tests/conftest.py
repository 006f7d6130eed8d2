"""Fixtures shared by test modules."""

import pytest
import torch

from audiolm.codec.testing import make_fake_cuts, tiny_codec_overrides


@pytest.fixture(scope="session")
def ckpt(tmp_path_factory):
    """A tiny codec checkpoint written the way `audiolm train codec` writes them (1 step)."""
    from audiolm.codec.train import load_train_config, train_codec

    d = tmp_path_factory.mktemp("codec")
    cuts = make_fake_cuts(d / "audio", n=6, seconds=1.0)
    cuts.to_file(d / "cuts.jsonl.gz")
    cfg = load_train_config(None, tiny_codec_overrides(**{
        "exp_dir": str(d / "exp"), "name": "tiny", "train_cuts": str(d / "cuts.jsonl.gz"), "teacher.kind": "none",
        "loss.adv_weight": 0.0, "trainer.max_steps": 1, "trainer.val_every_n_steps": 1}))
    train_codec(cfg, progress=False)
    return str(d / "exp" / "tiny" / "checkpoints" / "last.ckpt")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests (2-core CI; subprocesses and pools run beside them)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
