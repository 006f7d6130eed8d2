"""benchmarks/gpu_check.sh runs end to end without a GPU (--dry-run: CPU, tiny preset) and writes its table."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run_writes_the_matrix(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    res = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--wheels", str(tmp_path / "none")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    table = (tmp_path / "gpu_matrix.md").read_text()
    assert "| tiny | sdpa | eager | 2 x 128 |" in table
    assert "| tiny | xformers |" not in table  # CPU: xformers is left out, not reported as a number
    env_txt = (tmp_path / "env.txt").read_text()
    assert "torch " in env_txt and "attention=auto resolves to: sdpa" in env_txt
    bad = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--frobnicate" in bad.stderr
