"""audiolm tokenize split over machines: --num-shards N --shard-index I into one output folder."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audiolm.codec.testing import make_fake_cuts
from audiolm.codec.tokenize import open_shards, tokenize
from audiolm.codec.tokenize_progress import PartLock, part_from_env
from audiolm.token_shards import meta_dir, progress_dir, scratch_root

REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")


def _codes_by_id(out):
    return {c.id: np.asarray(c.load_codes()) for c in open_shards(out)}


def test_two_parts_in_two_processes_equal_one_process(tmp_path, ckpt):
    cuts = make_fake_cuts(tmp_path / "audio", n=9, seconds=0.5)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    one = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), tmp_path / "one", shard_size=2, progress=False)
    assert one["complete"]
    out = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "audiolm", "tokenize", "--codec", ckpt,
                               str(tmp_path / "cuts.jsonl.gz"), str(out), "--shard-size", "2", "--num-shards", "2",
                               "--shard-index", str(i), "--no-progress"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
        assert "done)" in stdout
    a, b = _codes_by_id(tmp_path / "one"), _codes_by_id(out)
    assert sorted(a) == sorted(b) == sorted(c.id for c in cuts)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    summary = json.loads((meta_dir(out) / "summary.json").read_text())  # the part that finished last merged it
    assert summary["complete"] and summary["cuts_encoded"] == 9 and summary["shards"] == 5
    assert not list(progress_dir(out).glob("*.lock")) and not list(scratch_root(out).glob("*"))


def test_a_part_alone_encodes_its_shards_and_says_the_job_is_not_complete(tmp_path, ckpt):
    cuts = make_fake_cuts(tmp_path / "audio", n=6, seconds=0.4)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), tmp_path / "o", shard_size=1, num_parts=3, part=1,
                 progress=False)
    assert s["part_complete"] and not s["complete"] and s["shards_done"] == 2
    assert sorted(p.name for p in (tmp_path / "o").glob("cuts.*")) == ["cuts.000001.jsonl.gz", "cuts.000004.jsonl.gz"]
    assert not (meta_dir(tmp_path / "o") / "summary.json").exists()


def test_overlapping_runs_of_one_part_are_refused_and_dead_locks_taken_over(tmp_path, ckpt):
    cuts = make_fake_cuts(tmp_path / "audio", n=4, seconds=0.4)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "o"
    with PartLock(out, 0, 2):  # a live run holds part 0 of 2
        with pytest.raises(ValueError, match=r"another tokenize run .* part 0 of 2"):
            tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, num_parts=2, part=0, progress=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = progress_dir(out) / "part-00000-of-00002.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, num_parts=2, part=0, progress=False)
    assert s["part_complete"] and not lock.exists()
    with pytest.raises(ValueError, match="--restart with --num-shards"):
        tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, num_parts=2, part=1,
                 restart_output=True, progress=False)
    with pytest.raises(ValueError, match="--shard-index 2 is not in 0..1"):
        tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, num_parts=2, part=2, progress=False)


def test_part_from_the_launchers_environment(monkeypatch):
    for k in ("SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "RANK", "WORLD_SIZE",
              "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(k, raising=False)
    assert part_from_env() is None
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    assert part_from_env() == (3, 4)
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "8")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "6")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    assert part_from_env() == (5, 8)  # arrays win; --array=1-8 counts from its first id
