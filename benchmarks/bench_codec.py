"""Codec reconstruction quality, bitrate, codebook use and speed on the embedded corpus.

    python benchmarks/bench_codec.py --codec exp/quick/checkpoints/last.ckpt \
        --cuts data/synth/cuts_dev.jsonl.gz [--max-cuts 50] [--asr] [--json out.json]

Reconstruction metrics (``audiolm.codec.metrics.reconstruction_metrics``): log-mel L1 distance,
STOI (pystoi), PESQ-WB when the ``pesq`` package imports, bitrate, per-codebook utilisation;
``--asr`` adds the offline pocketsphinx WER on originals and reconstructions (are the words
recognisable?). Speed (``real_time_factor``): encode/decode on ONE CPU thread, in multiples of
real time, measured as this process's CPU time so other jobs on the machine do not distort it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiolm.codec import load_codec  # noqa: E402
from audiolm.codec.metrics import phone_recognition, real_time_factor, reconstruction_metrics  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--codec", required=True, help="codec checkpoint or mimi:PATH")
    ap.add_argument("--cuts", required=True, help="cuts manifest (e.g. the corpus dev split)")
    ap.add_argument("--max-cuts", type=int, default=50)
    ap.add_argument("--asr", action="store_true", help="pocketsphinx WER on originals vs reconstructions")
    ap.add_argument("--phone-teacher", help="a phone_teacher.pt (the codec run's teacher/): frame phone accuracy "
                    "of that recognizer on originals vs reconstructions")
    ap.add_argument("--word-recognizer", help="a phone recognizer (phone_teacher.pt format) used as word-identification "
                    "judge on originals vs reconstructions (audiolm.codec.intelligibility); trained here on "
                    "--lexicon-cuts (seed 1, independent of the codec's teacher) when the file does not exist")
    ap.add_argument("--lexicon-cuts", help="cuts with word/phone alignments for the judge's lexicon and training "
                    "(e.g. the corpus train split)")
    ap.add_argument("--prefixes", default="1,8", help="also decode from the first k codebooks (comma list)")
    ap.add_argument("--rtf-seconds", type=float, default=10.0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)

    import torch
    from lhotse import CutSet

    torch.set_num_threads(1)
    codec = load_codec(args.codec)
    cuts = CutSet.from_file(args.cuts)
    res = {"codec": codec.info(), "cuts": args.cuts, "machine": f"{platform.processor() or platform.machine()}, "
           f"{torch.get_num_threads()} thread", "speed_1_thread": real_time_factor(codec, seconds=args.rtf_seconds)}
    res["reconstruction"] = {}
    for k in sorted({int(x) for x in args.prefixes.split(",") if x} | {codec.n_codebooks}):
        if k > codec.n_codebooks:
            continue
        r = reconstruction_metrics(codec, cuts, max_cuts=args.max_cuts, asr=args.asr and k == codec.n_codebooks,
                                   n_codebooks=k)
        res["reconstruction"][str(k)] = r
    if args.phone_teacher:
        res["phone_recognition"] = phone_recognition(codec, cuts, args.phone_teacher, max_cuts=args.max_cuts)
    if args.word_recognizer:
        res["word_identification"] = _word_identification(codec, cuts, args)
    full = res["reconstruction"][str(codec.n_codebooks)]
    sp = res["speed_1_thread"]
    print(f"codec {codec.spec}: {codec.frame_rate} Hz x {codec.n_codebooks} codebooks x {codec.codebook_size} "
          f"= {full['bitrate_bps']:.0f} bit/s")
    print(f"speed (1 thread): encode {sp['encode_x_realtime']:.0f}x real time, decode {sp['decode_x_realtime']:.0f}x")
    print("| codebooks | bit/s | mel distance | STOI | PESQ | WER orig | WER recon |")
    print("|---|---|---|---|---|---|---|")
    for k, r in res["reconstruction"].items():
        pesq = f"{r['pesq']:.2f}" if r.get("pesq") is not None else "-"
        wo = f"{r['wer_original']:.3f}" if "wer_original" in r else "-"
        wr = f"{r['wer_reconstruction']:.3f}" if "wer_reconstruction" in r else "-"
        print(f"| {k} | {r['bitrate_bps']:.0f} | {r['mel_distance']:.3f} | {r['stoi']:.3f} | {pesq} | {wo} | {wr} |")
    if "phone_recognition" in res:
        pr = res["phone_recognition"]
        print(f"phone recognizer frame accuracy: original {pr['phone_accuracy_original']:.3f}, "
              f"reconstruction {pr['phone_accuracy_reconstruction']:.3f} ({pr['n_frames']} frames)")
    if "word_identification" in res:
        wi = res["word_identification"]
        print(f"word identification ({wi['n_words']} words, {wi['n_pronunciations']} candidate pronunciations): "
              f"original {wi['word_accuracy_original']:.3f}, reconstruction {wi['word_accuracy_reconstruction']:.3f}; "
              f"free-decoding WER original {wi['wer_original']:.3f}, reconstruction {wi['wer_reconstruction']:.3f}")
    util = full.get("codebook_utilization", [])
    if util:
        print("codebook use (fraction used / perplexity): " +
              ", ".join(f"{q}: {u['used_fraction']:.2f}/{u['perplexity']:.0f}" for q, u in enumerate(util)))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return res


def _word_identification(codec, cuts, args) -> dict:
    from lhotse import CutSet

    from audiolm.codec.intelligibility import word_identification
    from audiolm.codec.teachers import train_phone_teacher

    lexicon_cuts = list(CutSet.from_file(args.lexicon_cuts)) if args.lexicon_cuts else None
    if not Path(args.word_recognizer).exists():
        if not lexicon_cuts:
            raise SystemExit(f"--word-recognizer {args.word_recognizer} does not exist: give --lexicon-cuts to train it")
        train_phone_teacher(lexicon_cuts, 16000, args.word_recognizer, steps=600, seed=1)
    return word_identification(codec, cuts, args.word_recognizer, lexicon_cuts=lexicon_cuts, max_cuts=args.max_cuts)


if __name__ == "__main__":
    main()
