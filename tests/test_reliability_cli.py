"""How verbs end: one line for user mistakes, non-zero codes for signals and for nothing produced."""

import errno
import signal

from audiolm.errors import Interrupted, NothingProduced, RunFailed, run_verb


def _raise(e):
    def f():
        raise e
    return f


def test_user_mistakes_are_one_line_naming_the_path(capsys):
    e = PermissionError(errno.EACCES, "Permission denied")
    e.filename = "/data/out/codec.json"
    assert run_verb("tokenize", _raise(e)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("audiolm tokenize: error:") and "/data/out/codec.json" in err[0]
    assert run_verb("x", _raise(ValueError("first\nsecond"))) == 2
    assert "first | second" in capsys.readouterr().err
    assert run_verb("x", _raise(EOFError("Compressed file ended"))) == 2


def test_signals_and_failures_are_never_zero(capsys):
    assert run_verb("train lm", _raise(Interrupted(signal.SIGTERM, 7, "run/last.ckpt"))) == 143
    assert "interrupted by SIGTERM at step 7; saved run/last.ckpt" in capsys.readouterr().err
    assert run_verb("x", _raise(KeyboardInterrupt())) == 130
    assert run_verb("x", _raise(NothingProduced("none of the 3 cuts"))) == 1
    assert run_verb("x", _raise(RunFailed("a worker process died"))) == 1
    assert run_verb("x", lambda: None) == 0 and run_verb("x", lambda: 3) == 3


def test_programming_errors_keep_their_traceback():
    import pytest

    with pytest.raises(TypeError):
        run_verb("x", _raise(TypeError("bug")))


def test_truncated_manifest_is_one_line(tmp_path, ckpt, capsys):
    from audiolm.cli import main
    from audiolm.codec.testing import make_fake_cuts

    make_fake_cuts(tmp_path / "a", n=3, seconds=0.5).to_file(tmp_path / "c.jsonl.gz")
    data = (tmp_path / "c.jsonl.gz").read_bytes()
    (tmp_path / "t.jsonl.gz").write_bytes(data[: len(data) // 2])
    assert main(["tokenize", "--codec", ckpt, str(tmp_path / "t.jsonl.gz"), str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "t.jsonl.gz: damaged or not a CutSet manifest" in err and "Traceback" not in err
    assert main(["train", "codec", "quick", f"train_cuts={tmp_path / 't.jsonl.gz'}", f"exp_dir={tmp_path / 'e'}"]) == 2
    assert "t.jsonl.gz: damaged" in capsys.readouterr().err


def test_recipe_marks_a_stage_done_only_when_it_finished(tmp_path):
    """A stage killed by SIGTERM (exit 143) stops the recipe and is redone on the next run."""
    import os
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "audiolm").write_text("#!/bin/sh\nexit ${FAKE_RC:-0}\n")
    (fake / "audiolm").chmod(0o755)
    exp = tmp_path / "exp"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "AUDIOLM_NO_SETUP": "1"}
    cmd = ["bash", "recipes/quickstart/run.sh", "--exp", str(exp), "--stop-stage", "0"]
    proc = subprocess.run(cmd, cwd=repo, env={**env, "FAKE_RC": "143"}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 143 and not (exp / ".done.0.corpus").exists()
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and (exp / ".done.0.corpus").exists()
    # the s2st recipe shares the stage bookkeeping (recipes/lib.sh) and takes its own --quickstart
    qs = tmp_path / "qs"
    for f in ("codec/checkpoints/last.ckpt", "tokenizer.json", "lm/checkpoints/last.ckpt"):
        (qs / f).parent.mkdir(parents=True, exist_ok=True)
        (qs / f).write_text("")
    cmd = ["bash", "recipes/s2st/run.sh", "--exp", str(tmp_path / "s2st"), "--quickstart", str(qs), "--stop-stage", "0"]
    proc = subprocess.run(cmd, cwd=repo, env={**env, "FAKE_RC": "143"}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 143 and not (tmp_path / "s2st" / ".done.0.corpus").exists()
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and (tmp_path / "s2st" / ".done.0.corpus").exists()
    proc = subprocess.run(cmd[:2] + ["--quickstart", str(tmp_path / "none")], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "run the quickstart first" in proc.stderr
    proc = subprocess.run(["bash", "recipes/quickstart/run.sh", "--frobnicate", "1"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown argument --frobnicate" in proc.stderr


def test_every_verb_resolves_to_its_configure_and_run_functions():
    import argparse
    import importlib

    from audiolm.cli import COMMANDS, _func_name

    for path, module_name, help_text in COMMANDS:
        module = importlib.import_module(module_name)
        name = _func_name(path)
        assert callable(getattr(module, f"configure_{name}", None)), (path, module_name)
        assert callable(getattr(module, f"run_{name}", None)), (path, module_name)
        getattr(module, f"configure_{name}")(argparse.ArgumentParser())  # builds without error
        assert help_text
