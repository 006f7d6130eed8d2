"""audiolm tokenize under faults: changed settings on resume, dead workers, dead parents, unsafe and
mislabelled audio, damaged files, nothing encodable."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiolm.codec.testing import make_fake_cuts
from audiolm.codec.tokenize import open_shards, tokenize
from audiolm.data.audio_files import HEADER_FIXED
from audiolm.token_shards import progress_dir

REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")


def _cmd(ckpt, cuts, out, *extra):
    return [sys.executable, "-m", "audiolm", "tokenize", "--codec", ckpt, str(cuts), str(out), "--no-progress", *extra]


def _pids_with(mark: str, workers_only: bool = False) -> list[int]:
    """Processes whose environment carries ``mark`` (the run under test, its helpers and workers)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if f"AUDIOLM_TEST_MARK={mark}".encode() not in (d / "environ").read_bytes():
                    continue
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if not workers_only or (b"spawn_main" in cmd and b"resource_tracker" not in cmd):
                pids.append(int(d.name))
    return pids


def _wait_for_markers(out: Path, n: int, proc, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if len(list(progress_dir(out).glob("shard-*.json"))) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {n} shards done in time; rc={proc.poll()} {proc.stderr.read().decode()[-2000:]}")


def _encoded_once(out: Path, cuts) -> None:
    ids = [c.id for c in open_shards(out)]
    assert sorted(ids) == sorted(c.id for c in cuts), (len(ids), len(cuts))


def test_rerun_with_another_shard_size_or_manifest_is_refused_then_restart_works(tmp_path, ckpt, capsys):
    from audiolm.cli import main

    cuts = make_fake_cuts(tmp_path / "audio", n=12, seconds=0.5)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "tok"
    tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=2, max_shards=2, progress=False)  # 'killed'
    capsys.readouterr()
    assert main(["tokenize", "--codec", ckpt, str(tmp_path / "cuts.jsonl.gz"), str(out), "--shard-size", "5",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--shard-size 2 (2 shards done)" in err and "--restart" in err and "Traceback" not in err
    # an edited manifest (one cut fewer) is refused the same way, whatever the shard size
    cuts.subset(first=11).to_file(tmp_path / "edited.jsonl.gz")
    with pytest.raises(ValueError, match="another manifest"):
        tokenize(ckpt, str(tmp_path / "edited.jsonl.gz"), out, shard_size=2, progress=False)
    # the old settings continue; nothing duplicated or lost
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=2, progress=False)
    assert s["complete"] and s["cuts_encoded"] == 12
    _encoded_once(out, cuts)
    # --restart with new settings starts over cleanly
    assert main(["tokenize", "--codec", ckpt, str(tmp_path / "cuts.jsonl.gz"), str(out), "--shard-size", "5",
                 "--restart", "--no-progress"]) == 0
    assert len(list(out.glob("cuts.*.jsonl.gz"))) == 3
    _encoded_once(out, cuts)


def _start_pool_run(tmp_path, ckpt):
    """``tokenize --jobs 2`` of 10 one-cut shards in a subprocess, slowed down, once a shard is done."""
    cuts = make_fake_cuts(tmp_path / "audio", n=10, seconds=0.5)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    out, mark = tmp_path / "tok", uuid.uuid4().hex
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUDIOLM_TOKENIZE_SLEEP": "0.5", "AUDIOLM_TEST_MARK": mark}
    proc = subprocess.Popen(_cmd(ckpt, tmp_path / "cuts.jsonl.gz", out, "--jobs", "2", "--shard-size", "1"),
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_markers(out, 1, proc)
    return cuts, out, mark, proc


def test_a_killed_worker_fails_the_run_and_a_rerun_finishes(tmp_path, ckpt):
    cuts, out, mark, proc = _start_pool_run(tmp_path, ckpt)
    workers = _pids_with(mark, workers_only=True)
    assert workers, "no worker processes found"
    os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer does
    rc = proc.wait(timeout=60)  # before: waited forever
    err = proc.stderr.read().decode()
    assert rc == 1 and "worker process died" in err and "rerun" in err, err[-2000:]
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, jobs=2, progress=False)
    assert s["complete"] and s["cuts_encoded"] == 10
    _encoded_once(out, cuts)


def test_a_killed_parent_takes_its_workers_with_it(tmp_path, ckpt):
    cuts, out, mark, proc = _start_pool_run(tmp_path, ckpt)
    proc.kill()
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and _pids_with(mark):
        time.sleep(0.1)
    assert not _pids_with(mark), "workers outlived their parent"
    n_files = len(list(out.glob("cuts.*")))
    time.sleep(1.0)
    assert len(list(out.glob("cuts.*"))) == n_files  # nobody writes into the output any more
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), out, shard_size=1, progress=False)
    assert s["complete"] and s["cuts_encoded"] == 10
    _encoded_once(out, cuts)


def _cut_of(path: Path, cid: str, sr: int, n: int, channels=(0,), type_="file", start=0.0, duration=None):
    from lhotse import MonoCut, Recording
    from lhotse.audio import AudioSource

    rec = Recording(id=cid, sources=[AudioSource(type=type_, channels=list(channels), source=str(path))],
                    sampling_rate=sr, num_samples=n, duration=n / sr)
    return MonoCut(id=cid, start=start, duration=duration if duration is not None else n / sr, channel=0, recording=rec)


def test_unsafe_sources_mislabelled_rates_and_damaged_files(tmp_path, ckpt, monkeypatch):
    from lhotse import CutSet

    d = tmp_path / "audio"
    good = list(make_fake_cuts(d, n=2, seconds=1.0))
    sr = 24000
    wave = (0.1 * np.sin(np.arange(2 * sr) / 9.0)).astype(np.float32)
    sf.write(d / "r16.wav", wave[:32000], 16000)  # 2 s of 16 kHz audio
    sf.write(d / "r48.wav", np.repeat(wave, 2)[: 2 * 48000], 48000)
    sf.write(d / "ok.wav", wave, sr)
    data = (d / "ok.wav").read_bytes()
    (d / "trunc.wav").write_bytes(data[: len(data) // 2])
    (d / "empty.wav").write_bytes(b"")
    sf.write(d / "nan.wav", np.full(sr, np.nan, np.float32), sr, subtype="FLOAT")
    sentinel = tmp_path / "PWNED"
    cuts = good + [
        _cut_of(f"touch {sentinel}; cat {d / 'ok.wav'}", "cmd", sr, 2 * sr, type_="command"),
        _cut_of("http://127.0.0.1:9/x.wav", "url", sr, 2 * sr, type_="url"),
        _cut_of(d / "r16.wav", "r16", sr, 32000),  # the manifest says 24 kHz: 1.33 s instead of 2 s
        _cut_of(d / "r48.wav", "r48", sr, 96000),  # says 24 kHz: 4 s instead of 2 s
        _cut_of(d / "r16.wav", "r16part", sr, 32000, start=0.2, duration=0.5),  # part of a mislabelled file
        _cut_of(d / "trunc.wav", "trunc", sr, 2 * sr),
        _cut_of(d / "empty.wav", "empty", sr, 2 * sr),
        _cut_of(d / "nope.wav", "missing", sr, 2 * sr),
        _cut_of(d / "nan.wav", "nan", sr, sr),
    ]
    CutSet.from_cuts(cuts).to_file(tmp_path / "cuts.jsonl.gz")
    s = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), tmp_path / "tok", shard_size=4, progress=False)
    why = s["skipped_ids"]
    assert not sentinel.exists(), "a manifest ran a shell command"
    assert why == {"cmd": "refused audio source type 'command'", "url": "refused audio source type 'url'",
                   "r16part": "sample rate/channel mismatch (part of a recording)", "trunc": "truncated file",
                   "empty": "empty file", "missing": "missing file", "nan": "no finite sample (all NaN/inf)"}
    assert any("AUDIOLM_ALLOW_SOURCES=command" in e for e in s["examples"]["refused audio source type 'command'"])
    assert s["repaired"][HEADER_FIXED] == 2
    by_id = {c.id: c for c in open_shards(tmp_path / "tok")}
    assert by_id["r16"].duration == pytest.approx(2.0) and by_id["r48"].duration == pytest.approx(2.0)
    assert by_id["r16"].codes.load().shape[0] == by_id["r48"].codes.load().shape[0] == 25  # 2 s at 12.5 Hz
    # the user may opt in explicitly
    monkeypatch.setenv("AUDIOLM_ALLOW_SOURCES", "command")
    CutSet.from_cuts(cuts[2:3]).to_file(tmp_path / "cmd.jsonl.gz")
    s = tokenize(ckpt, str(tmp_path / "cmd.jsonl.gz"), tmp_path / "tok_cmd", progress=False)
    assert s["cuts_encoded"] == 1 and sentinel.exists()


def test_every_cut_bad_exits_nonzero(tmp_path, ckpt, capsys):
    from lhotse import CutSet

    from audiolm.cli import main

    CutSet.from_cuts([_cut_of(tmp_path / f"n{i}.wav", f"n{i}", 24000, 24000) for i in range(3)]).to_file(
        tmp_path / "cuts.jsonl.gz")
    assert main(["tokenize", "--codec", ckpt, str(tmp_path / "cuts.jsonl.gz"), str(tmp_path / "tok"),
                 "--no-progress"]) == 1
    assert "none of the 3 cuts" in capsys.readouterr().err
    assert main(["tokenize", "--codec", ckpt, str(tmp_path / "absent.jsonl.gz"), str(tmp_path / "t2"),
                 "--no-progress"]) == 2
    assert "absent.jsonl.gz not found" in capsys.readouterr().err


def test_prepare_synth_fails_when_a_worker_dies(tmp_path):
    from procs import children

    proc = subprocess.Popen([sys.executable, "-m", "audiolm", "prepare", "synth", str(tmp_path / "c"), "--utterances",
                             "400", "--speakers", "2", "--jobs", "2"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not children(proc.pid):
        time.sleep(0.02)
    kids = children(proc.pid)
    assert kids, "no worker seen"
    os.kill(kids[0], signal.SIGKILL)
    rc = proc.wait(timeout=120)  # before: multiprocessing.Pool waited forever
    err = proc.stderr.read().decode()
    assert rc == 1 and "worker process died" in err, err[-2000:]
    assert not (tmp_path / "c" / "cuts_train.jsonl.gz").exists()  # nothing reads as a finished corpus
