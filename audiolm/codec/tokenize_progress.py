"""What an ``audiolm tokenize`` output knows about its own progress: plan, markers, locks, scratch.

The plan (``OUT.meta/progress/plan.json``) keys the work by the manifest's digest, the shard size
and the codec, so a rerun with other settings is refused instead of mixing two shardings; part
locks keep two runs of one ``--shard-index`` apart; scratch folders carry host and pid so parts of
one job on several machines never share one and only dead runs' leftovers are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
from pathlib import Path

from ..jsonfiles import read_json_object, write_json_atomic
from ..token_shards import meta_dir, progress_dir, scratch_root

log = logging.getLogger("audiolm")

PLAN = "plan.json"


def check_codec_json(out: Path, info: dict) -> None:
    path = meta_dir(out) / "codec.json"
    if path.is_file():
        old = read_json_object(path, "use --restart or a new output folder")
        keys = ("sample_rate", "frame_rate", "n_codebooks", "codebook_size")
        if any(old.get(k) != info.get(k) for k in keys) or old.get("spec") != info.get("spec"):
            raise ValueError(f"{out} already holds tokens of another codec ({old}); use a new output folder")
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, info)


HOST = socket.gethostname()


def scratch_folder(out: Path, index: int) -> Path:
    """This process's scratch folder for shard ``index`` (host and pid in the name: parts of one job
    on several machines never share one)."""
    return scratch_root(out) / f"{index:06d}-{HOST}-{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_scratch(out: Path) -> None:
    """Remove scratch folders of killed runs of this host (another host's, or a live run's, stay)."""
    for tmp in scratch_root(out).glob("*"):
        parts = tmp.name.split("-")
        if len(parts) < 3:
            shutil.rmtree(tmp, ignore_errors=True)
            continue
        host, pid = "-".join(parts[1:-1]), parts[-1]
        if host == HOST and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


class PartLock:
    """``OUT.meta/progress/part-I-of-N.lock``: one run per part at a time; a dead run's lock is taken over."""

    def __init__(self, out: Path, part: int, n_parts: int) -> None:
        self.out = out
        self.path = progress_dir(out) / f"part-{part:05d}-of-{n_parts:05d}.lock"
        self.part, self.n_parts = part, n_parts

    def __enter__(self) -> "PartLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = json.dumps({"host": HOST, "pid": os.getpid()})
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    held = json.loads(self.path.read_text() or "{}")
                except (OSError, ValueError):
                    held = {}
                if held.get("host") == HOST and not _pid_alive(int(held.get("pid", 0) or 0)):
                    log.info("tokenize: taking over the lock of a dead run (%s)", self.path)
                    self.path.unlink(missing_ok=True)
                    continue
                raise ValueError(
                    f"another tokenize run (host {held.get('host')}, pid {held.get('pid')}) is writing part "
                    f"{self.part} of {self.n_parts} into {self.out}; wait for it, or delete {self.path} "
                    "if that run is dead") from None
            with os.fdopen(fd, "w") as f:
                f.write(me)
            return self
        raise ValueError(f"{self.path}: could not take the lock")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def part_from_env() -> tuple[int, int] | None:
    """``(index, count)`` of this process in a SLURM array or a torchrun/SLURM job, if any."""
    env = os.environ
    if env.get("SLURM_ARRAY_TASK_COUNT") and env.get("SLURM_ARRAY_TASK_ID"):
        lo = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        return int(env["SLURM_ARRAY_TASK_ID"]) - lo, int(env["SLURM_ARRAY_TASK_COUNT"])
    for rank, world in (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS")):
        if env.get(world) and int(env[world]) > 1 and env.get(rank):
            return int(env[rank]), int(env[world])
    return None


# -- what defines the work -------------------------------------------------------------------
def manifest_fingerprint(cuts, shard_size: int) -> tuple[dict, dict[int, int]]:
    """``({"cuts": N, "sha256": ...}, {shard index: cut count})`` in one pass over the manifest."""
    h = hashlib.sha256()
    n = 0
    for c in cuts:
        h.update(json.dumps(c.to_dict(), sort_keys=True, default=str).encode())
        h.update(b"\n")
        n += 1
    sizes = {i: min(shard_size, n - i * shard_size) for i in range(-(-n // shard_size))}
    return {"cuts": n, "sha256": h.hexdigest()}, sizes


def _owned_files(out: Path) -> list[Path]:
    meta = meta_dir(out)
    return ([p for pat in ("cuts.*.jsonl.gz", "codes.*.tar") for p in out.glob(pat)]
            + [p for name in ("summary.json", "skips.json", "codec.json") for p in (meta / name,) if p.is_file()])


def restart(out: Path) -> int:
    """Remove what ``audiolm tokenize`` wrote into ``out`` (only its own files); -> files removed."""
    files = _owned_files(out)
    for f in files:
        f.unlink()
    shutil.rmtree(progress_dir(out), ignore_errors=True)
    shutil.rmtree(scratch_root(out), ignore_errors=True)
    return len(files)


def check_plan(out: Path, plan: dict, manifest_name: str) -> None:
    """Write ``plan.json`` for a new output; refuse a rerun whose manifest or shard size differ."""
    prog = progress_dir(out)
    path = prog / PLAN
    markers = sorted(prog.glob("shard-*.json"))
    how = f"pass --restart to discard {out}'s shards and start over, or use a new output folder"
    if path.is_file():
        old = read_json_object(path, how)
        if old.get("manifest") != plan["manifest"]:
            om, nm = old.get("manifest") or {}, plan["manifest"]
            raise ValueError(
                f"{out} was started from another manifest ({om.get('cuts')} cuts, sha256 {str(om.get('sha256'))[:12]}) "
                f"than {manifest_name} ({nm['cuts']} cuts, sha256 {nm['sha256'][:12]}); {how}")
        if old.get("shard_size") != plan["shard_size"]:
            raise ValueError(
                f"{out} was started with --shard-size {old.get('shard_size')} ({len(markers)} shards done); rerun with "
                f"--shard-size {old.get('shard_size')} to continue, or {how}")
        return
    if markers or list(out.glob("cuts.*.jsonl.gz")):
        raise ValueError(f"{out} holds token shards without a record of how they were made; {how}")
    prog.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, plan)
