"""``audiolm tokenize``: a CutSet -> lhotse Shar token shards, resumable; ``audiolm decode``: back to audio.

The input manifest is cut into shards of ``shard_size`` cuts in manifest order (shard ``i`` = cuts
``i*shard_size ..``). A shard is encoded into a scratch folder and its files are moved into ``OUT``
(``cuts.{i:06d}.jsonl.gz`` + ``codes.{i:06d}.tar``) before ``OUT.meta/progress/shard-{i:06d}.json``
marks it done; a rerun after a kill skips marked shards and redoes the rest, so every cut ends up
encoded exactly once. The marker records which cuts were skipped and why, so ``skips.json`` lists
every input cut that is not in the output.

What defines the work is kept in ``OUT.meta/progress/plan.json``: the manifest (cut count and a digest
of every cut's JSON), the shard size and the codec. A rerun with another shard size or an edited
manifest is refused with a message saying how to continue (the old settings) or start over
(``--restart``); it never mixes two shardings. With ``--jobs N`` each shard is one task of a
process pool: a worker that dies (the out-of-memory killer) fails the run with a message (finished
shards are kept; a rerun redoes the rest), and workers exit when their parent dies.

Bad input never stops a shard: missing, empty, truncated, corrupt audio, a duration mismatch, a
refused ``command``/``url`` source and audio without a finite sample are skipped, each under its own
reason with the reader's message in the examples; a file whose header disagrees with the manifest
is read at its true rate and the cut re-described (counted); other rates and
channel counts are resampled/downmixed; audio shorter than a frame is padded (shorter than half a
frame: skipped, as lhotse would read zero frames of it); silent and clipped audio is kept and
counted; very long audio is encoded in chunks (exact for a causal codec).

Frames stored per cut: ``round(duration * frame_rate)`` (lhotse's TemporalArray convention, which
``cut.load_codes()`` applies), i.e. the codec's ``ceil(S / hop)`` minus a last frame that covers less
than half a frame of audio.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from lhotse.array import seconds_to_frames

from ..data.audio_files import AudioSkip
from ..errors import NothingProduced
from ..jsonfiles import read_json_object, write_json_atomic
from ..skips import SkipReport
from ..shard_urls import RemoteReadError
from .tokenize_input import TokenizeInput, open_input
from ..token_shards import meta_dir, migrate_legacy, progress_dir, read_codec_info
from .tokenize_progress import (
    PartLock, check_codec_json, check_plan, clean_scratch, manifest_fingerprint, restart, scratch_folder,
)
from .api import encode_padded, length_batches
from .audio import load_cut_checked

log = logging.getLogger("audiolm")



def _shard_name(i: int) -> str:
    return f"shard-{i:06d}.json"


def iter_shards(cuts, shard_size: int):
    """Yield (shard index, list of cuts) in manifest order."""
    buf, i = [], 0
    for c in cuts:
        buf.append(c)
        if len(buf) == shard_size:
            yield i, buf
            buf, i = [], i + 1
    if buf:
        yield i, buf


class ShardEncoder:
    """Encodes one shard of cuts with a codec; collects skips/repairs per cut."""

    def __init__(self, codec, batch_size: int = 16, max_batch_seconds: float = 600.0, chunk_seconds: float = 60.0,
                 load_threads: int = 2):
        self.codec = codec
        self.batch_size, self.max_batch_seconds, self.chunk_seconds = batch_size, max_batch_seconds, chunk_seconds
        self.load_threads = load_threads

    def _prepare(self, cut):
        """-> (audio or None, the cut (re-described when its header disagreed), notes, (reason, detail) or None)."""
        try:
            audio, cut, notes = load_cut_checked(cut, self.codec.sample_rate)
        except AudioSkip as e:
            return None, cut, [], (e.reason, e.detail)
        except Exception as e:  # anything else a reader raises: keep its message
            return None, cut, [], ("corrupt or unreadable audio", f"{type(e).__name__}: {str(e)[:300]}")
        if audio.size == 0:
            return None, cut, notes, ("empty audio", "")
        peak = float(np.abs(audio).max())
        if peak == 0.0:
            notes.append("silent (kept)")
        elif peak > 1.0:
            audio = np.clip(audio, -1.0, 1.0)
            notes.append("samples beyond [-1, 1] (clipped)")
        elif peak >= 0.999:
            notes.append("clipped (kept)")
        if audio.size < self.codec.hop and audio.size >= self.codec.hop // 2:
            notes.append("shorter than one frame (padded)")
        return audio, cut, notes, None

    def encode_shard(self, cuts: list, report: SkipReport, progress=None) -> list:
        """-> cuts with ``codes`` attached (input order, skipped cuts left out and reported)."""
        prepared: dict[int, np.ndarray] = {}
        cuts = list(cuts)
        with ThreadPoolExecutor(max(1, self.load_threads)) as pool:
            for k, (audio, cut, notes, why) in enumerate(pool.map(self._prepare, cuts)):
                cuts[k] = cut
                for n in notes:
                    report.repair(n, cut.id)
                if why is not None:
                    report.skip(why[0], cut.id, why[1])
                else:
                    prepared[k] = audio
        codes: dict[int, np.ndarray] = {}
        sr, chunk_n = self.codec.sample_rate, int(self.chunk_seconds * self.codec.sample_rate)
        long = [k for k, a in prepared.items() if a.size > chunk_n]
        short = [k for k, a in prepared.items() if a.size <= chunk_n]  # length_batches orders them
        for k in long:
            report.repair("very long (encoded in chunks)", cuts[k].id)
            wav = torch.from_numpy(prepared[k])[None, None]
            codes[k] = self.codec.encode_long(wav, chunk_seconds=self.chunk_seconds)[0].cpu().numpy()
            if progress is not None:
                progress.update(1)
        for batch in length_batches([prepared[k].size for k in short], self.batch_size, self.max_batch_seconds * sr):
            batch = [short[b] for b in batch]
            for k, c in zip(batch, encode_padded(self.codec, [prepared[k] for k in batch])):
                codes[k] = c
            if progress is not None:
                progress.update(len(batch))
        result = []
        shift = 1.0 / self.codec.frame_rate
        for k, cut in enumerate(cuts):
            if k not in codes:
                continue
            # lhotse reads round(duration / frame_shift) frames of a TemporalArray (it drops a last frame
            # that is less than half covered); store exactly that many so the manifest and data agree.
            n = min(seconds_to_frames(cut.duration, shift), codes[k].shape[-1])
            if n == 0:
                report.skip("shorter than half a frame (no whole frame of codes)", cut.id)
                continue
            arr = np.ascontiguousarray(codes[k][:, :n].T.astype(np.int16))  # (T, n_q)
            result.append(_without_audio_bytes(cut).attach_tensor("codes", arr, frame_shift=shift, temporal_dim=0))
        if progress is not None:
            progress.update(len(cuts) - len(prepared))
        return result


def _without_audio_bytes(cut):
    """A cut read from Shar audio holds its audio in memory: the token shard keeps lhotse's placeholder."""
    rec = getattr(cut, "recording", None)
    if rec is None or not any(s.type == "memory" for s in rec.sources):
        return cut
    from lhotse.shar.utils import to_shar_placeholder
    from lhotse.utils import fastcopy

    return fastcopy(cut, recording=to_shar_placeholder(rec))


def write_shard(out: Path, index: int, cuts_with_codes: list, n_in: int, report: SkipReport) -> None:
    from lhotse.shar import SharWriter

    tmp = scratch_folder(out, index)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if cuts_with_codes:
        with SharWriter(tmp, fields={"codes": "numpy"}, shard_size=len(cuts_with_codes) + 1, shard_offset=index,
                        warn_unused_fields=False) as w:
            for c in cuts_with_codes:
                w.write(c)
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    marker = {"index": index, "n_in": n_in, "n_out": len(cuts_with_codes), "report": report.to_dict(),
              "skipped_ids": report.skipped_ids}
    prog = progress_dir(out)
    prog.mkdir(parents=True, exist_ok=True)
    write_json_atomic(prog / _shard_name(index), marker, indent=None)
    shutil.rmtree(tmp, ignore_errors=True)


class _Report(SkipReport):
    """SkipReport that also keeps every skipped cut id (so none goes missing silently)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.skipped_ids: dict[str, str] = {}

    def skip(self, reason: str, item: str = "", detail: str = "") -> None:
        super().skip(reason, item, detail)
        self.skipped_ids[item] = reason


# -- worker processes --------------------------------------------------------------------------
_W: dict = {}


def _init_worker(spec, device, batch_size, chunk_seconds) -> None:
    torch.set_num_threads(1)
    from . import load_codec

    _W["enc"] = ShardEncoder(load_codec(spec, device=device), batch_size=batch_size, chunk_seconds=chunk_seconds,
                             load_threads=1)


def _encode_task(task: tuple[str, int, list[dict]]) -> int:
    from lhotse.serialization import deserialize_item

    out, index, cut_dicts = task
    shard = [deserialize_item(d) for d in cut_dicts]
    rep = _Report(f"tokenize shard {index}")
    write_shard(Path(out), index, _W["enc"].encode_shard(shard, rep), len(shard), rep)
    _pause()
    return index


def _pause() -> None:
    pause = float(os.environ.get("AUDIOLM_TOKENIZE_SLEEP", "0"))  # tests: time to kill a run mid-way
    if pause:
        time.sleep(pause)


def tokenize(codec_spec: str, cuts, out_dir, *, batch_size: int = 16, jobs: int = 1, device: str = "cpu",
             shard_size: int = 1000, chunk_seconds: float = 60.0, progress: bool = True, codec=None,
             max_shards: int | None = None, restart_output: bool = False, num_parts: int = 1,
             part: int = 0) -> dict:
    """Encode ``cuts`` (a manifest path or CutSet) into Shar token shards under ``out_dir``; resumable.

    ``num_parts``/``part`` split one job over machines: part ``I`` of ``N`` encodes the shards
    ``i`` with ``i % N == I`` into the same ``out_dir`` (each shard's cuts are fixed by the shard
    size, so any split encodes every cut once); the part that finishes last writes the merged
    summary. ``max_shards`` stops after encoding that many shards in this call (used by tests to
    interrupt); ``restart_output`` first removes a previous run's shards. Returns a summary dict
    (``part_complete``: this part's shards are done; ``complete``: all are). Raises
    :class:`NothingProduced` when every cut was skipped.
    """
    from . import load_codec

    if shard_size < 1:
        raise ValueError(f"--shard-size must be >= 1, not {shard_size}")
    if num_parts < 1 or not 0 <= part < num_parts:
        raise ValueError(f"--shard-index {part} is not in 0..{num_parts - 1} (--num-shards {num_parts})")
    if restart_output and num_parts > 1:
        raise ValueError("--restart with --num-shards > 1 would delete the other parts' work: restart once "
                         "without parts (or delete the output folder), then launch the parts")
    out = Path(out_dir)
    source = open_input(cuts)
    name = source.name
    if out.is_dir():
        migrate_legacy(out)  # an older version kept its bookkeeping inside OUT
    if restart_output and out.is_dir():
        n = restart(out)
        log.info("tokenize: --restart removed %d files of a previous run in %s", n, out)
    try:
        fingerprint, shard_sizes = manifest_fingerprint(source.cuts(), shard_size)
    except RemoteReadError:
        raise
    except (EOFError, OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{name}: damaged or not a CutSet manifest ({type(e).__name__}: {str(e)[:200]})") from None
    if not shard_sizes:
        raise ValueError(f"{name}: the manifest holds no cuts")
    if codec is None:
        codec = load_codec(codec_spec, device=device)
    check_codec_json(out, codec.info())
    check_plan(out, {"manifest": fingerprint, "shard_size": shard_size, "codec": codec.info()}, name)
    with PartLock(out, part, num_parts):
        return _tokenize_part(codec_spec, source, out, name, codec, shard_sizes, batch_size=batch_size,
                              jobs=jobs, device=device, shard_size=shard_size, chunk_seconds=chunk_seconds,
                              progress=progress, max_shards=max_shards, num_parts=num_parts, part=part)


def _tokenize_part(codec_spec, source: TokenizeInput, out: Path, name: str, codec, shard_sizes: dict[int, int], *,
                   batch_size: int, jobs: int, device: str, shard_size: int, chunk_seconds: float, progress: bool,
                   max_shards: int | None, num_parts: int, part: int) -> dict:
    from tqdm import tqdm

    prog = progress_dir(out)
    clean_scratch(out)  # leftovers of killed runs on this host
    done = {int(p.name[6:12]) for p in prog.glob("shard-*.json")}
    mine = [i for i in sorted(shard_sizes) if i % num_parts == part]
    todo = [i for i in mine if i not in done]
    if max_shards is not None:
        todo = todo[:max_shards]
    n_todo = sum(shard_sizes[i] for i in todo)
    t0 = time.time()
    if todo:
        where = f" (part {part} of {num_parts})" if num_parts > 1 else ""
        log.info("tokenize%s: %d shards to encode (%d cuts), %d already done", where, len(todo), n_todo,
                 len(mine) - len(todo))
    bar = tqdm(total=n_todo, desc="tokenize", unit="cut", disable=not progress or not todo)
    try:
        if jobs > 1 and str(device) == "cpu" and len(todo) > 1 and source.named:
            from ..workers import map_unordered

            wanted = set(todo)
            tasks = ((str(out), i, [c.to_dict() for c in shard]) for i, shard in iter_shards(source.with_audio(), shard_size)
                     if i in wanted)
            for _, i in map_unordered(_encode_task, tasks, jobs, what="shard", initializer=_init_worker,
                                      initargs=(codec_spec, str(device), batch_size, chunk_seconds),
                                      name_of=lambda t: f"shard {t[1]}"):
                bar.update(shard_sizes[i])
        elif todo:
            enc = ShardEncoder(codec, batch_size=batch_size, chunk_seconds=chunk_seconds)
            wanted = set(todo)
            for i, shard in iter_shards(source.with_audio(), shard_size):
                if i in wanted:
                    rep = _Report(f"tokenize shard {i}")
                    write_shard(out, i, enc.encode_shard(shard, rep, bar), len(shard), rep)
                    _pause()
    finally:
        bar.close()
    summary = summarize(out, shard_sizes, elapsed=time.time() - t0)
    marked = {int(p.name[6:12]) for p in prog.glob("shard-*.json")}
    summary["part_complete"] = all(i in marked for i in mine)
    summary["part"], summary["num_parts"] = part, num_parts
    if summary["complete"] and summary["cuts_encoded"] == 0:
        raise NothingProduced(f"tokenize: none of the {summary['cuts_in']} cuts of {name} could be encoded\n"
                              + summary["text"])
    return summary


def summarize(out: Path, shard_sizes: dict[int, int], elapsed: float = 0.0) -> dict:
    """Merge the shard markers: counts, skips by reason, and whether every shard is done."""
    total = SkipReport("tokenize")
    skipped_ids: dict[str, str] = {}
    n_in = n_out = n_done = 0
    for i in sorted(shard_sizes):
        p = progress_dir(out) / _shard_name(i)
        if not p.is_file():
            continue
        m = read_json_object(p, f"a damaged progress marker: delete it to redo shard {i}")
        if m.get("n_in") != shard_sizes[i]:
            raise ValueError(f"{p}: marks {m.get('n_in')} cuts, but shard {i} of this manifest has {shard_sizes[i]}; "
                             "pass --restart to start over")
        n_done += 1
        n_in += m["n_in"]
        n_out += m["n_out"]
        skipped_ids.update(m["skipped_ids"])
        for r, n in m["report"]["skipped"].items():
            total.skipped[r] += n
        for r, n in m["report"]["repaired"].items():
            total.repaired[r] += n
        for r, ex in m["report"]["examples"].items():
            total.examples.setdefault(r, []).extend(ex[: max(0, 5 - len(total.examples.get(r, [])))])
    complete = n_done == len(shard_sizes)
    summary = {"complete": complete, "shards": len(shard_sizes), "shards_done": n_done, "cuts_in": n_in,
               "cuts_encoded": n_out, "cuts_skipped": len(skipped_ids), "elapsed_s": round(elapsed, 2),
               **total.to_dict(), "skipped_ids": skipped_ids}
    if complete:
        meta = meta_dir(out)
        for name, doc in (("skips.json", {"skipped_ids": skipped_ids, **total.to_dict()}),
                          ("summary.json", {k: v for k, v in summary.items() if k != "skipped_ids"})):
            write_json_atomic(meta / name, doc)
    summary["text"] = total.summary()
    return summary


def open_shards(shards_dir):
    """The token CutSet of an ``audiolm tokenize`` folder.

    Lists ``cuts.*.jsonl.gz`` / ``codes.*.tar`` explicitly, so folders of older versions (with
    ``codec.json`` inside, which trips lhotse's ``from_shar(in_dir=...)``) open too; a current
    folder also opens with ``lhotse.CutSet.from_shar(in_dir=OUT)`` (see :mod:`audiolm.token_shards`).
    """
    from lhotse import CutSet

    d = Path(shards_dir)
    cuts = sorted(d.glob("cuts.*.jsonl.gz"))
    codes = sorted(d.glob("codes.*.tar"))
    if not cuts:
        raise FileNotFoundError(f"{d}: no cuts.*.jsonl.gz shards (not an audiolm tokenize output?)")
    if [p.name.split(".")[1] for p in cuts] != [p.name.split(".")[1] for p in codes]:
        raise ValueError(f"{d}: cuts and codes shards do not match (an unfinished tokenize? rerun it)")
    return CutSet.from_shar(fields={"cuts": [str(p) for p in cuts], "codes": [str(p) for p in codes]})


def decode_shards(codec_spec: str, shards_dir, out_dir, *, max_cuts: int = 0, device: str = "cpu",
                  progress: bool = True, codec=None) -> list[Path]:
    """Decode ``codes`` of a Shar token folder back to ``OUT_DIR/<cut id>.wav``."""
    import soundfile as sf
    from tqdm import tqdm

    from . import load_codec

    if codec is None:
        codec = load_codec(codec_spec, device=device)
    shards_dir, out = Path(shards_dir), Path(out_dir)
    info = read_codec_info(shards_dir)
    if info is not None and (info.n_codebooks > codec.n_codebooks or info.codebook_size != codec.codebook_size):
        raise ValueError(f"{shards_dir} was tokenized with {info.to_dict()}, which this codec ({codec.info()}) cannot decode")
    out.mkdir(parents=True, exist_ok=True)
    cuts = open_shards(shards_dir)
    written = []
    for k, cut in enumerate(tqdm(cuts, desc="decode", unit="cut", disable=not progress)):
        if max_cuts and k >= max_cuts:
            break
        codes = torch.from_numpy(np.asarray(cut.codes.load(), dtype=np.int64)).T[None]  # all ceil(S/hop) frames
        wav = codec.decode(codes)[0, 0].cpu().numpy()
        n = int(round(cut.duration * codec.sample_rate))
        if len(wav) < n:  # the stored frames may stop up to half a frame early: pad with silence
            wav = np.pad(wav, (0, n - len(wav)))
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in cut.id)
        path = out / f"{name}.wav"
        sf.write(path, wav[:n], codec.sample_rate)
        written.append(path)
    return written
