"""Training under faults: SIGTERM/SIGINT, damaged and moved checkpoints, a full disk."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lm_train_toydata import Recorder, StopAt, ToyLMData, toy_config

from audiolm.checkpointing import AtomicCheckpointIO, newest_valid_checkpoint
from audiolm.errors import Interrupted
from audiolm.lm.train import train_lm

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class SignalAt(pl.Callback):
    """Sends ``signum`` to this very process after optimizer step ``step`` (as a scheduler would)."""

    def __init__(self, step, signum=signal.SIGTERM):
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    rec = Recorder()
    train_lm(toy_config(tmp_path_factory.mktemp("straight"), steps=12, ckpt_every_n_steps=4), datamodule=ToyLMData(),
             callbacks=[rec])
    return rec


def _resumed_equals(straight, cfg, first_step):
    rec, dm = Recorder(), ToyLMData()
    summary = train_lm(cfg, datamodule=dm, callbacks=[rec])
    assert summary is not None and summary["steps"] == 12
    assert sorted(rec.losses) == list(range(first_step, 13))
    for s in range(first_step, 13):
        assert rec.losses[s] == pytest.approx(straight.losses[s], rel=1e-5, abs=1e-6), s


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_exits_nonzero_and_resumes_exactly(tmp_path, straight, signum):
    script = textwrap.dedent(f"""
        import sys, signal, torch
        sys.path.insert(0, {str(TESTS)!r})
        torch.set_num_threads(1)
        from lm_train_toydata import ToyLMData, toy_config
        from test_reliability_train import SignalAt
        from audiolm.errors import run_verb
        from audiolm.lm.train import train_lm
        cfg = toy_config({str(tmp_path)!r}, steps=12, ckpt_every_n_steps=4)
        sys.exit(run_verb("train lm", train_lm, cfg, datamodule=ToyLMData(), callbacks=[SignalAt(6, {int(signum)})]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 128 + signum, proc.stderr[-2000:]
    name = signal.Signals(signum).name
    line = [x for x in proc.stderr.splitlines() if x.startswith("audiolm train lm:")]
    assert line and f"interrupted by {name} at step" in line[-1] and "last.ckpt" in line[-1], proc.stderr[-2000:]
    step = int(line[-1].split(" at step ")[1].split(";")[0])
    assert step in (6, 7)
    last = tmp_path / "toy" / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == step
    assert not (tmp_path / "toy" / "final.json").exists()
    _resumed_equals(straight, toy_config(tmp_path, steps=12, ckpt_every_n_steps=4), step + 1)


def test_in_process_sigterm_raises_interrupted(tmp_path):
    cfg = toy_config(tmp_path, steps=12)
    with pytest.raises(Interrupted) as e:
        train_lm(cfg, datamodule=ToyLMData(), callbacks=[SignalAt(3)])
    assert e.value.exit_code == 143 and e.value.checkpoint.endswith("last.ckpt")


def test_damaged_last_checkpoint_falls_back_to_newest_good_one(tmp_path, straight, capsys):
    cfg = toy_config(tmp_path, steps=12, ckpt_every_n_steps=4)
    train_lm(cfg, datamodule=ToyLMData(), callbacks=[StopAt(6)])
    ck = tmp_path / "toy" / "checkpoints"
    assert sorted(p.name for p in ck.iterdir()) == ["last.ckpt", "step-4.ckpt"]
    data = (ck / "last.ckpt").read_bytes()
    (ck / "last.ckpt").write_bytes(data[: len(data) // 3])  # truncated, as by a full disk before atomic writes
    (ck / "step-8.ckpt.tmp").write_bytes(b"half")  # a write that never finished
    capsys.readouterr()
    _resumed_equals(straight, cfg, 5)
    out = capsys.readouterr().out
    assert "last.ckpt is damaged" in out and "resuming from" in out and "step-4.ckpt" in out
    assert not list(ck.glob("*.tmp"))


def test_moved_run_resumes_from_its_newest_state_and_never_forks_last(tmp_path, straight):
    cfg = toy_config(tmp_path / "a", steps=12, ckpt_every_n_steps=4)
    train_lm(cfg, datamodule=ToyLMData(), callbacks=[StopAt(5)])
    os.rename(tmp_path / "a", tmp_path / "b")  # the run folder moved
    moved = toy_config(tmp_path / "b", steps=12, ckpt_every_n_steps=4)
    train_lm(moved, datamodule=ToyLMData(), callbacks=[StopAt(9)])
    ck = tmp_path / "b" / "toy" / "checkpoints"
    assert sorted(p.name for p in ck.iterdir()) == ["last.ckpt", "step-4.ckpt", "step-8.ckpt"]
    assert torch.load(ck / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 9
    # a checkpoint another tool left under a versioned name wins when it holds more steps
    os.replace(ck / "last.ckpt", ck / "last-v1.ckpt")
    assert newest_valid_checkpoint(ck, say=lambda m: None).name == "last-v1.ckpt"
    _resumed_equals(straight, moved, 10)


def test_atomic_checkpoint_write_keeps_the_old_file_on_a_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "global_step": 1}, path)

    def full_disk(obj, f, *a, **k):
        f.write(b"PK\x03\x04partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "global_step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["global_step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_config_without_data_is_one_line_exit_2(tmp_path, capsys):
    from audiolm.cli import main

    cfg_path = tmp_path / "lm.yaml"
    cfg_path.write_text("name: x\n")
    assert main(["train", "lm", str(cfg_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0] and "Traceback" not in err[0]


def test_codec_sigterm_saves_and_resumes_to_the_same_weights(tmp_path):
    from audiolm.codec.testing import make_fake_cuts, tiny_codec_overrides
    from audiolm.codec.train import load_train_config, train_codec

    cuts = make_fake_cuts(tmp_path / "audio", n=6, seconds=1.0)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")

    def cfg(name, **extra):
        ov = {"exp_dir": str(tmp_path / "exp"), "name": name, "train_cuts": str(tmp_path / "cuts.jsonl.gz"),
              "trainer.val_every_n_steps": 2, "trainer.max_steps": 4, **extra}
        return load_train_config(None, tiny_codec_overrides(**ov))

    train_codec(cfg("full"), progress=False)
    import audiolm.codec.train as ct

    real = ct._checkpoint_callback

    def with_signal(run_dir, c):
        cb = real(run_dir, c)
        cb.on_train_batch_end = lambda tr, m, o, b, i: os.kill(os.getpid(), signal.SIGTERM) if m.train_step == 3 else None
        return cb

    ct._checkpoint_callback = with_signal
    try:
        with pytest.raises(Interrupted) as e:
            train_codec(cfg("cut"), progress=False)
    finally:
        ct._checkpoint_callback = real
    assert e.value.exit_code == 143 and e.value.step == 3
    again = train_codec(cfg("cut"), progress=False)
    assert again["resumed_from"] == 3 and again["steps"] == 4
    a = torch.load(tmp_path / "exp/full/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    b = torch.load(tmp_path / "exp/cut/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
