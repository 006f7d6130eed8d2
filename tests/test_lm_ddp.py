"""DDP on 2 CPU processes (gloo), launched the way a cluster launches it (torchrun).

The test runs this file as a script under ``python -m torch.distributed.run``; each rank trains
the tiny model on its share of the toy stream and writes the batches it saw and a weight
checksum after every optimizer step.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

STEPS = 6


def _worker(out_dir: str) -> None:
    import lightning.pytorch as pl
    import torch
    from lm_train_toydata import ToyLMData, toy_config

    from audiolm.lm.train import train_lm

    torch.set_num_threads(1)

    class Sums(pl.Callback):
        def __init__(self):
            self.sums = {}

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.sums[trainer.global_step] = float(sum(p.detach().double().sum() for p in pl_module.parameters()))

    cfg = toy_config(out_dir, steps=STEPS * 2, strategy="ddp", devices=2, ckpt_every_n_steps=STEPS)  # budget: 2 ranks
    dm, sums = ToyLMData(), Sums()
    summary = train_lm(cfg, datamodule=dm, callbacks=[sums])
    rank = int(os.environ["RANK"])
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"seen": dm.seen, "sums": sums.sums, "summary": summary}))


def test_ddp_two_cpu_processes(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", __file__, str(tmp_path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    # the token budget counts both ranks: 12 steps' worth of 1-rank batches = 6 steps of 2 ranks
    assert r0["summary"]["steps"] == STEPS and len(r0["seen"]) == STEPS == len(r1["seen"])
    assert not set(r0["seen"]) & set(r1["seen"])  # disjoint data
    assert sorted(r0["seen"] + r1["seen"]) == list(range(2 * STEPS))
    assert r0["sums"] == r1["sums"] and len(r0["sums"]) == STEPS  # weights identical after every step
    s0, s1 = r0["summary"], r1["summary"]
    s0.pop("wall_time_s"), s1.pop("wall_time_s")
    assert s0 == s1  # the validation result is reduced over ranks
    ckpts = sorted(p.name for p in (tmp_path / "toy" / "checkpoints").iterdir())
    assert ckpts == ["last.ckpt", f"step-{STEPS}.ckpt"]


if __name__ == "__main__":
    _worker(sys.argv[1])
