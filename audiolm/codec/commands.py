"""CLI verbs of the codec area: ``train codec``, ``tokenize``, ``decode``."""

from __future__ import annotations

import argparse
import json
import logging
import warnings


def _quiet() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda", "lightning.pytorch.trainer.connectors.checkpoint_connector"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(LeafSpec|litlogger|does not have many workers|weights_only).*")


def configure_train_codec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="codec config: a YAML path or a name in conf/codec/ (quick, mimi_size)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. trainer.max_steps=2000 train_cuts=...")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_train_codec(args) -> int:
    _quiet()
    from .train import load_train_config, train_codec

    cfg = load_train_config(args.config, args.overrides)
    summary = train_codec(cfg, progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    return 0


def configure_tokenize(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cuts", help="input: a CutSet manifest (.jsonl.gz), a lhotse Shar folder of audio (cuts + "
                        "recording shards), or either as a pipe: command or URL, Shar shards named with a range: "
                        "'pipe:cat /shared/yodas/cuts.{000000..000099}.jsonl.gz' (recording.NNNNNN.tar beside them)")
    parser.add_argument("out", help="output Shar folder (cuts + codes shards, codec.json)")
    parser.add_argument("--codec", required=True, help="codec checkpoint (audiolm train codec) or mimi:PATH")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=1, help="CPU worker processes (one thread each)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (one process)")
    parser.add_argument("--shard-size", type=int, default=1000, help="cuts per shard (the unit of resumption)")
    parser.add_argument("--chunk-seconds", type=float, default=60.0, help="longer audio is encoded in chunks")
    parser.add_argument("--num-shards", type=int, default=None, metavar="N",
                        help="split the job into N parts (machines, GPUs); default: the SLURM array or "
                             "torchrun/SLURM world size when there is one, else 1")
    parser.add_argument("--shard-index", type=int, default=None, metavar="I",
                        help="the part this process encodes (0..N-1): the output shards i with i %% N == I")
    parser.add_argument("--restart", action="store_true",
                        help="discard the shards of an earlier run in OUT (another manifest or shard size) and start over")
    parser.add_argument("--allow-sources", default="", metavar="TYPES",
                        help="also read audio sources of these lhotse types, e.g. 'command,url' (off by default: a "
                             "manifest is data, and such a source runs a shell command or fetches a URL)")
    parser.add_argument("--no-progress", action="store_true")


def run_tokenize(args) -> int:
    _quiet()
    import os

    from ..data.audio_files import ALLOW_ENV
    from .tokenize import tokenize
    from .tokenize_progress import part_from_env

    if args.allow_sources:
        os.environ[ALLOW_ENV] = args.allow_sources  # worker processes inherit it
    if (args.num_shards is None) != (args.shard_index is None):
        raise ValueError("--num-shards and --shard-index go together")
    part, n_parts = (args.shard_index, args.num_shards) if args.num_shards is not None else (part_from_env() or (0, 1))
    if n_parts > 1 and args.num_shards is None:
        print(f"tokenize: part {part} of {n_parts} (from the launcher's environment)")
    s = tokenize(args.codec, args.cuts, args.out, batch_size=args.batch_size, jobs=args.jobs, device=args.device,
                 shard_size=args.shard_size, chunk_seconds=args.chunk_seconds, progress=not args.no_progress,
                 restart_output=args.restart, num_parts=n_parts, part=part)
    where = f" (part {part} of {n_parts} done)" if n_parts > 1 and s["part_complete"] else ""
    print(f"tokenize: {s['cuts_encoded']} cuts encoded, {s['cuts_skipped']} skipped, "
          f"{s['shards_done']}/{s['shards']} shards{where} -> {args.out}")
    print(s["text"])
    return 0 if s["part_complete"] else 1


def configure_decode(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", help="Shar folder written by audiolm tokenize")
    parser.add_argument("out_dir", help="folder for <cut id>.wav")
    parser.add_argument("--codec", required=True, help="codec checkpoint or mimi:PATH")
    parser.add_argument("--max-cuts", type=int, default=0, help="decode only the first N cuts (0 = all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-progress", action="store_true")


def run_decode(args) -> int:
    _quiet()
    from .tokenize import decode_shards

    paths = decode_shards(args.codec, args.shards, args.out_dir, max_cuts=args.max_cuts, device=args.device,
                          progress=not args.no_progress)
    print(f"decode: wrote {len(paths)} files to {args.out_dir}")
    return 0
