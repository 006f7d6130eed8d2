"""``audiolm prepare ...`` verbs: the embedded synthetic corpus, real corpora and text corpora."""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger("audiolm")


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


# -- synth -------------------------------------------------------------------------------------
def configure_prepare_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="output folder (audio/, cuts_{train,dev,test}.jsonl.gz, stats.json)")
    p.add_argument("--utterances", type=int, default=2000, help="number of utterances (default 2000)")
    p.add_argument("--speakers", type=int, default=8, help="number of distinct voices K (default 8)")
    p.add_argument("--seed", type=int, default=0, help="same seed -> same corpus (default 0)")
    p.add_argument("--test-speakers", type=int, default=None,
                   help="voices heard only in test (default: 2 when K >= 4, one of each gender)")
    p.add_argument("--dev-fraction", type=float, default=0.05, help="share of documents in dev (default 0.05)")
    p.add_argument("--test-fraction", type=float, default=0.1, help="share of documents in test (default 0.1)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--rate-jitter", type=float, default=0.0,
                   help="vary each utterance's rate and pitch around its speaker's by this fraction (default 0: read "
                        "speech at one rate per speaker; the ablations' Emilia proxy uses 0.3)")
    p.add_argument("--condition", choices=["clean", "noisy"], default="clean",
                   help="clean (default) or noisy: a background sound at 5-20 dB SNR under every utterance and a "
                        "synthetic room for half of them (the ablations' YODAS proxy)")


def run_prepare_synth(args: argparse.Namespace) -> int:
    from audiolm.data.espeak import EspeakError
    from audiolm.data.synth import build_synth_corpus

    try:
        stats = build_synth_corpus(args.out, args.utterances, args.speakers, args.seed, args.test_speakers,
                                   jobs=args.jobs, dev_fraction=args.dev_fraction, test_fraction=args.test_fraction,
                                   rate_jitter=args.rate_jitter, condition=args.condition)
    except (ValueError, EspeakError) as e:
        return _fail(str(e))
    sp = stats["splits"]
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v['utterances']} utts / {v['hours']:.3f} h" for k, v in sp.items())
          + f"; {len(stats['speakers'])} speakers ({len(stats['unseen_test_speakers'])} unseen in train)"
          + f"; {stats['wall_seconds']:.1f} s")
    return 0


# -- synth-s2st --------------------------------------------------------------------------------
def configure_prepare_synth_s2st(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="output folder (audio/, cuts_{train,dev,test}.jsonl.gz: one document of two cuts per pair)")
    p.add_argument("--pairs", type=int, default=1000, help="number of sentence pairs (default 1000)")
    p.add_argument("--speakers", type=int, default=4, help="voices per language (default 4)")
    p.add_argument("--seed", type=int, default=0, help="same seed -> same corpus (default 0)")
    p.add_argument("--dev-fraction", type=float, default=0.05, help="share of pairs in dev (default 0.05)")
    p.add_argument("--test-fraction", type=float, default=0.1, help="share of pairs in test (default 0.1)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")


def run_prepare_synth_s2st(args: argparse.Namespace) -> int:
    from audiolm.data.synth_s2st import build_s2st_corpus

    stats = build_s2st_corpus(args.out, args.pairs, args.speakers, args.seed, jobs=args.jobs,
                              dev_fraction=args.dev_fraction, test_fraction=args.test_fraction)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {n} pairs" for k, n in stats["pairs"].items())
          + f"; {stats['audio_hours']['source']:.3f} h es + {stats['audio_hours']['target']:.3f} h en"
          + f"; {stats['wall_seconds']:.1f} s")
    return 0


# -- real corpora --------------------------------------------------------------------------------
def _corpus_args(p: argparse.ArgumentParser, what: str, hashed_splits: bool) -> None:
    p.add_argument("corpus_dir", help=what)
    p.add_argument("out", help="output folder for cuts_{split}.jsonl.gz, stats.json, skipped.json")
    p.add_argument("--max-duration", type=float, default=60.0, help="skip utterances longer than this (s, default 60)")
    if hashed_splits:
        p.add_argument("--dev-fraction", type=float, default=0.01, help="share of documents in dev (hash of the id)")
        p.add_argument("--test-fraction", type=float, default=0.01, help="share of documents in test (hash of the id)")
        p.add_argument("--languages", default="", help="comma-separated language folders to keep (default: all)")
    else:
        p.add_argument("--jobs", type=int, default=1, help="threads for lhotse's recipe")


def _run_corpus(fn, args: argparse.Namespace, **kw) -> int:
    from audiolm.data.corpora import LayoutError

    try:
        stats = fn(args.corpus_dir, args.out, max_duration=args.max_duration, **kw)
    except LayoutError as e:
        return _fail(str(e))
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v['utterances']} utts / {v['hours']:.2f} h" for k, v in stats["splits"].items()))
    return 0


def configure_prepare_librispeech(p: argparse.ArgumentParser) -> None:
    _corpus_args(p, "LibriSpeech folder (holding dev-clean/, train-clean-100/, ... or LibriSpeech/ itself)", False)


def run_prepare_librispeech(args: argparse.Namespace) -> int:
    from audiolm.data.librispeech import prepare_librispeech

    return _run_corpus(prepare_librispeech, args, jobs=args.jobs)


def configure_prepare_libritts(p: argparse.ArgumentParser) -> None:
    _corpus_args(p, "LibriTTS folder (holding dev-clean/, train-clean-100/, ... or LibriTTS/ itself)", False)


def run_prepare_libritts(args: argparse.Namespace) -> int:
    from audiolm.data.librispeech import prepare_libritts

    return _run_corpus(prepare_libritts, args, jobs=args.jobs)


def _langs(args) -> list[str] | None:
    return [x.strip() for x in args.languages.split(",") if x.strip()] or None


def configure_prepare_emilia(p: argparse.ArgumentParser) -> None:
    _corpus_args(p, "Emilia folder: LANG/*.jsonl + mp3 (lhotse layout) or LANG/LANG-B000000.tar (WebDataset release)", True)


def run_prepare_emilia(args: argparse.Namespace) -> int:
    from audiolm.data.emilia import prepare_emilia

    return _run_corpus(prepare_emilia, args, dev_fraction=args.dev_fraction, test_fraction=args.test_fraction,
                       languages=_langs(args))


def configure_prepare_yodas(p: argparse.ArgumentParser) -> None:
    _corpus_args(p, "YODAS2 folder holding data/<lang>000/audio/NNNNNNNN.tar.gz and data/<lang>000/text/NNNNNNNN.json", True)


def run_prepare_yodas(args: argparse.Namespace) -> int:
    from audiolm.data.yodas import prepare_yodas

    return _run_corpus(prepare_yodas, args, dev_fraction=args.dev_fraction, test_fraction=args.test_fraction,
                       languages=_langs(args))


# -- translation corpora -----------------------------------------------------------------------
def _translation_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("corpus_dir", help=what)
    p.add_argument("cv_dir", help="the Common Voice release folder of the source language (clips/ + validated.tsv; "
                                  "release 4, cv-corpus-4-2019-12-10/<lang>, or its parent)")
    p.add_argument("out", help="output folder for cuts_{train,dev,test}.jsonl.gz")
    p.add_argument("--source-language", required=True, help="Common Voice language code, e.g. fr, de, es, zh-CN")
    p.add_argument("--max-duration", type=float, default=60.0, help="skip longer clips (seconds)")


def configure_prepare_cvss(p: argparse.ArgumentParser) -> None:
    _translation_args(p, "an extracted CVSS release (holding train.tsv/dev.tsv/test.tsv + train/ dev/ test/ wavs, "
                         "or <lang>-en/ with them)")
    p.add_argument("--variant", choices=("c", "t"), default="c",
                   help="CVSS-C (one canonical target voice) or CVSS-T (the source speaker's voice)")


def run_prepare_cvss(args: argparse.Namespace) -> int:
    from audiolm.data.cvss import prepare_cvss

    stats = prepare_cvss(args.corpus_dir, args.cv_dir, args.out, source_language=args.source_language,
                         variant=args.variant, max_duration=args.max_duration)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {n} pairs" for k, n in stats["pairs"].items()))
    return 0


def configure_prepare_covost2(p: argparse.ArgumentParser) -> None:
    _translation_args(p, "the folder holding covost_v2.<src>_<tgt>.tsv")
    p.add_argument("--target-language", default="en", help="translation language (default en)")


def run_prepare_covost2(args: argparse.Namespace) -> int:
    from audiolm.data.covost2 import prepare_covost2

    stats = prepare_covost2(args.corpus_dir, args.cv_dir, args.out, source_language=args.source_language,
                            target_language=args.target_language, max_duration=args.max_duration)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v['utterances']} utts / {v['hours']:.2f} h" for k, v in stats["splits"].items()))
    return 0


# -- text ----------------------------------------------------------------------------------------
def configure_prepare_text(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="a .txt/.jsonl/.jsonl.gz/.jsonl.zst file or a folder of them")
    p.add_argument("out", help="output folder for text_{train,dev}.jsonl.gz")
    p.add_argument("--dev-fraction", type=float, default=0.01, help="share of documents in dev (hash of the id)")
    p.add_argument("--field", default="text", help="JSONL field holding the text (default: text)")


def run_prepare_text(args: argparse.Namespace) -> int:
    from audiolm.data.corpora import LayoutError
    from audiolm.data.text import prepare_text

    try:
        stats = prepare_text(args.src, args.out, dev_fraction=args.dev_fraction, field=args.field)
    except LayoutError as e:
        return _fail(str(e))
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v['documents']} docs" for k, v in stats["splits"].items()))
    return 0
