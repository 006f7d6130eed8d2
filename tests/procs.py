"""Finding the worker processes of a run under test (Linux /proc)."""

from pathlib import Path


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` that are workers (not multiprocessing's resource tracker)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"resource_tracker" not in cmd:
            out.append(int(d.name))
    return out
