"""``audiolm report EXP``: one page that says what an experiment produced.

Gathers what each stage left in the experiment folder (corpus stats, codec run, token shards,
LM ``final.json`` and tensorboard scalars, the evaluation ``report.json``), measures the codec
(bitrate, reconstruction quality, semantic probe) when a codec checkpoint is there, draws the
loss curves, and writes ``EXP/report.json`` + ``EXP/report.md`` + ``EXP/plots/*.png``.
Missing stages are reported as missing, never invented.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from audiolm.token_shards import codec_json_path

# Layout of an experiment folder as written by recipes/quickstart/run.sh (other recipes reuse it).
CORPUS = "data/corpus"
CODEC_CKPT = "codec/checkpoints/last.ckpt"
LM_DIR = "lm"
VALIDITY_REPORT = "eval/validity.json"
EVAL_REPORT = "eval/report.json"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def read_scalars(tb_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """All scalar series of a tensorboard run folder: ``{tag: [(step, value), ...]}``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not tb_dir.is_dir():
        return {}
    acc = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, float(e.value)) for e in acc.Scalars(tag)] for tag in acc.Tags().get("scalars", [])}


def codec_figures(exp: Path, probe_cuts: Path | None, max_cuts: int = 24) -> dict:
    """Bitrate, reconstruction quality on dev and the semantic probe of the experiment's codec."""
    import torch
    from lhotse import CutSet

    from audiolm.codec import load_codec
    from audiolm.codec.metrics import reconstruction_metrics, semantic_probe

    ckpt = exp / CODEC_CKPT
    if not ckpt.is_file():
        return {"missing": str(ckpt)}
    torch.set_num_threads(max(1, torch.get_num_threads()))
    codec = load_codec(str(ckpt))
    out: dict[str, Any] = {
        "checkpoint": str(ckpt),
        "sample_rate": int(codec.sample_rate),
        "frame_rate": float(codec.frame_rate),
        "n_codebooks": int(codec.n_codebooks),
        "codebook_size": int(codec.codebook_size),
        "bitrate_bps": float(codec.frame_rate * codec.n_codebooks * math.log2(codec.codebook_size)),
    }
    summary = _read_json(exp / "codec" / "train_summary.json")
    if summary:
        out["training"] = summary
    corpus = probe_cuts or exp / CORPUS
    dev, train, test = (corpus / f"cuts_{s}.jsonl.gz" for s in ("dev", "train", "test"))
    if dev.is_file():
        out["reconstruction"] = reconstruction_metrics(codec, CutSet.from_file(dev), max_cuts=max_cuts)
    if train.is_file() and test.is_file():
        out["semantic_probe"] = semantic_probe(codec, CutSet.from_file(train), CutSet.from_file(test), max_cuts=200)
    if dev.is_file() and train.is_file():
        out["word_identification"] = _word_identification(codec, corpus, CutSet.from_file(dev), max_cuts)
    return out


def _word_identification(codec, corpus: Path, dev, max_cuts: int) -> dict:
    """Are the words of the reconstructions recognisable? The corpus' ASR judge (own seed, not the
    codec's teacher; the one the eval stage trained and cached, else trained now); skipped when the
    cuts carry no word alignments."""
    from audiolm.codec.intelligibility import CorpusRecognizer, word_identification
    from audiolm.codec.phones import has_phone_alignments

    dev = list(dev)
    if not has_phone_alignments(dev):
        return {"skipped": "no phone/word alignments in the corpus"}
    judge = CorpusRecognizer.from_corpus(corpus)
    return word_identification(codec, dev, judge.recognizer, lexicon=judge.lex, max_cuts=max_cuts)


def _plot_curves(scalars: dict, out_dir: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    plots = {}
    groups = {
        "lm_loss": [t for t in ("train/loss", "val/loss") if t in scalars],
        "lm_modality_loss": sorted(t for t in scalars if t.startswith(("train/loss_", "val/loss_"))),
    }
    for name, tags in groups.items():
        if not tags:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        for tag in tags:
            steps, values = zip(*scalars[tag])
            ax.plot(steps, values, marker="o" if tag.startswith("val/") else None, ms=3, label=tag)
        ax.set_xlabel("step")
        ax.set_ylabel("NLL (nats/token)")
        ax.set_title(name.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        plots[name] = str(path.relative_to(out_dir.parent))
    return plots


def lm_figures(exp: Path) -> dict:
    run = exp / LM_DIR
    final = _read_json(run / "final.json")
    if final is None:
        return {"missing": str(run / "final.json")}
    scalars = read_scalars(run / "tb")
    out = {"final": final, "plots": _plot_curves(scalars, exp / "plots")}
    if "train/loss" in scalars and len(scalars["train/loss"]) >= 2:
        first, last = scalars["train/loss"][0][1], scalars["train/loss"][-1][1]
        out["train_loss_first"], out["train_loss_last"] = first, last
    return out


def sample_audio(exp: Path, eval_report: dict | None) -> dict | None:
    """The first generated TTS sample with the text asked for and the ASR judge's transcript."""
    if not eval_report:
        return None
    tts = eval_report.get("tasks", {}).get("tts", {})
    wavs = sorted((exp / "eval" / "audio").glob("tts*.wav")) if (exp / "eval" / "audio").is_dir() else []
    examples = tts.get("examples") or []
    if not wavs and not examples:
        return None
    out: dict[str, Any] = {}
    if wavs:
        out["audio"] = str(wavs[0].relative_to(exp))
    if examples:
        out["text"], out["judge_transcript"] = examples[0].get("text"), examples[0].get("judge")
    return out


def build_report(exp: str | Path, probe_cuts: str | Path | None = None, skip_codec: bool = False) -> dict:
    exp = Path(exp)
    if not exp.is_dir():
        raise FileNotFoundError(f"experiment folder {exp} does not exist")
    t0 = time.time()
    corpus = _read_json(exp / CORPUS / "stats.json")
    eval_report = _read_json(exp / EVAL_REPORT)
    report = {
        "experiment": str(exp),
        "corpus": corpus or {"missing": str(exp / CORPUS / "stats.json")},
        "codec": {"skipped": True} if skip_codec else codec_figures(exp, Path(probe_cuts) if probe_cuts else None),
        "tokens": {s: _read_json(codec_json_path(exp / "tokens" / s) or exp / "tokens" / s / "codec.json")
                   for s in ("train", "dev", "test")
                   if (exp / "tokens" / s).is_dir()},
        "lm": lm_figures(exp),
        "benchmarks": (eval_report or {}).get("tasks", {"missing": str(exp / EVAL_REPORT)}),
        "validity": _read_json(exp / VALIDITY_REPORT),
        "sample": sample_audio(exp, eval_report),
        "stage_seconds": _stage_times(exp),
    }
    xm = (eval_report or {}).get("tasks", {}).get("cross_modal", {})
    if xm and "error" not in xm:
        report["lm"]["cross_modal"] = {k: v for k, v in xm.items() if k != "nll_vector"}
        report["lm"]["nll_vector"] = xm.get("nll_vector", {})
    report["report_seconds"] = time.time() - t0
    (exp / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (exp / "report.md").write_text(render_markdown(report))
    return report


def _stage_times(exp: Path) -> dict[str, float]:
    f = exp / "stage_times.tsv"
    if not f.is_file():
        return {}
    out: dict[str, float] = {}
    for line in f.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            out[f"{parts[0]}_{parts[1]}"] = float(parts[2])
    return out


def _v(x: Any, digits: int = 3) -> str:
    if isinstance(x, float):
        return f"{x:.{digits}f}" if math.isfinite(x) else "nan"
    return "-" if x is None else str(x)


def render_markdown(r: dict) -> str:
    lines = [f"# Report: {r['experiment']}", ""]
    c = r["corpus"]
    lines += ["## Corpus", ""]
    if "splits" in c:
        lines += ["| split | utterances | hours |", "|---|---|---|"]
        lines += [f"| {k} | {v.get('utterances')} | {_v(v.get('hours'))} |" for k, v in c["splits"].items()]
        lines += ["", f"speakers: {len(c.get('speakers', []))} ({len(c.get('unseen_test_speakers', []))} heard only in test)", ""]
    else:
        lines += [f"missing: {c.get('missing')}", ""]
    cd = r["codec"]
    lines += ["## Codec", ""]
    if "bitrate_bps" in cd:
        lines += [f"{cd['n_codebooks']} codebooks x {cd['codebook_size']} entries at {cd['frame_rate']} Hz "
                  f"= {cd['bitrate_bps']:.0f} bit/s", ""]
        rec = cd.get("reconstruction", {})
        if rec:
            lines += ["| reconstruction (dev) | value |", "|---|---|"]
            lines += [f"| {k} | {_v(v)} |" for k, v in rec.items() if isinstance(v, (int, float)) and k != "frame_rate"]
            lines += [""]
        probe = cd.get("semantic_probe", {})
        if probe:
            lines += ["Semantic probe (phone accuracy from one codebook's tokens; the split is real when "
                      "codebook 0 beats the last codebook clearly):", "", "| codebook | accuracy |", "|---|---|"]
            lines += [f"| {q} | {_v(a)} |" for q, a in probe.get("accuracy", {}).items()]
            lines += [f"| majority-class chance | {_v(probe.get('chance'))} |", ""]
        wi = cd.get("word_identification", {})
        if "word_accuracy_original" in wi:
            lines += ["Word identification (are the words recognisable?): a phone recogniser fitted to the corpus "
                      f"picks each aligned word among {wi['n_pronunciations']} pronunciations "
                      f"(chance {1 / wi['n_pronunciations']:.4f}), {wi['n_words']} dev words:", "",
                      "| audio | word accuracy |", "|---|---|",
                      f"| original | {_v(wi['word_accuracy_original'])} |",
                      f"| codec reconstruction | {_v(wi['word_accuracy_reconstruction'])} |", ""]
            if "wer_original" in wi:
                lines += [f"Free decoding with the same recogniser (a word loop, no boundaries): WER "
                          f"{_v(wi['wer_original'])} on originals, {_v(wi['wer_reconstruction'])} on reconstructions.", ""]
    else:
        lines += [f"{cd}", ""]
    lm = r["lm"]
    lines += ["## Language model", ""]
    if "final" in lm:
        f = lm["final"]
        lines += [f"tokens: {_v(f.get('tokens'))}, steps: {f.get('steps')}, parameters: {f.get('params')}",
                  f"validation NLL: {_v(f.get('val_loss'))} nats/token; "
                  f"{_v(f.get('val_bits_per_audio_second'), 1)} bits per second of audio", ""]
        per = f.get("val_loss_per_modality") or {}
        if per:
            lines += ["| modality | val NLL |", "|---|---|"] + [f"| {k} | {_v(v)} |" for k, v in per.items()] + [""]
        for name, path in lm.get("plots", {}).items():
            lines += [f"![{name}]({path})", ""]
    else:
        lines += [f"missing: {lm.get('missing')}", ""]
    xm = lm.get("cross_modal")
    if xm:
        lines += ["Cross-modal gain (nats per token; positive = the other modality helps; "
                  f"{xm.get('n')} held-out utterances):", "",
                  "| direction | alone | after the other modality | gain ± s.e. |", "|---|---|---|---|",
                  f"| text given its audio (ASR direction) | {_v(xm.get('text_nll_alone'))} | {_v(xm.get('text_nll_after_audio'))} "
                  f"| {_v(xm.get('text_gain_nats'))} ± {_v(xm.get('text_gain_stderr'))} |",
                  f"| audio given its transcript (TTS direction) | {_v(xm.get('audio_nll_alone'))} | "
                  f"{_v(xm.get('audio_nll_after_text'))} | {_v(xm.get('audio_gain_nats'))} ± {_v(xm.get('audio_gain_stderr'))} |", ""]
    vec = lm.get("nll_vector")
    if vec:
        lines += ["NLL vector (held-out utterances, each modality given the other):", "", "| component | value |", "|---|---|"]
        lines += [f"| {k} | {_v(v)} |" for k, v in vec.items()] + [""]
    lines += benchmark_table(r["benchmarks"], (r.get("validity") or {}).get("tasks", {}))
    s = r.get("sample")
    if s:
        lines += ["## A generated sample (TTS)", "",
                  f"asked: {s.get('text')!r}", "", f"ASR judge heard: {s.get('judge_transcript')!r}", ""]
        if s.get("audio"):
            lines += [f"audio: `{s['audio']}`", ""]
    if r.get("stage_seconds"):
        lines += ["## Wall time per stage (s)", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in r["stage_seconds"].items()] + [""]
    lines += [f"Tensorboard: `tensorboard --logdir {r['experiment']}` (codec and LM runs).", ""]
    return "\n".join(lines)


def benchmark_table(bench: dict, validity: dict) -> list[str]:
    """Every score beside its n, standard error, chance, trivial baseline and oracles."""
    lines = ["## Benchmarks", "",
             "Likelihood tasks: accuracy ± one standard error; baseline = the choice with fewer scored tokens "
             "(shorter audio) wins; oracles know the training data (`benchmarks/benchmark_validity.py`).", "",
             "| task | model | codebook 0 | chance | baseline | oracles | scoring | n |", "|---|---|---|---|---|---|---|---|"]
    rest = []
    for task, m in bench.items():
        if not isinstance(m, dict):
            lines.append(f"| {task} | missing: {m} | | | | | | |")
        elif "error" in m:
            lines.append(f"| {task} | ERROR: {m['error'][:120]} | | | | | | |")
        elif "accuracy" in m:
            orc = validity.get(task, {}).get("oracles", {})
            orc_s = ", ".join(f"{k} {_v(v.get('accuracy'), 2)}" for k, v in orc.items()) or "-"
            cb0 = f"{_v(m['accuracy_codebook0'])} ± {_v(m.get('stderr_codebook0'))}" if "accuracy_codebook0" in m else "-"
            how = m.get("aggregation", "") + (f", {m['scored']}" if m.get("scored") else "") + \
                (f", cb {m['codebooks']}" if m.get("codebooks") else "")
            lines.append(f"| {task} | {_v(m['accuracy'])} ± {_v(m.get('stderr'))} | {cb0} | {_v(m.get('chance'))} | "
                         f"{_v(m.get('baseline_fewer_tokens'))} | {orc_s} | {how} | {m.get('n')} |")
        elif task != "cross_modal":
            for k in ("wer", "wer_baseline_constant", "cer", "similarity", "wer_reference", "wer_codec_floor", "ended"):
                if k in m:
                    rest.append(f"| {task} | {k} | {_v(m[k])} | {m.get('n')} |")
    lines += [""]
    if rest:
        lines += ["| task | metric | value | n |", "|---|---|---|---|"] + rest + [""]
    return lines


def configure_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("exp", help="experiment folder (e.g. exp/quickstart)")
    p.add_argument("--probe-cuts", default=None, help="corpus folder with cuts_{train,dev,test}.jsonl.gz for the codec figures")
    p.add_argument("--skip-codec", action="store_true", help="don't measure the codec (faster)")


def run_report(args: argparse.Namespace) -> int:
    try:
        r = build_report(args.exp, args.probe_cuts, args.skip_codec)
    except FileNotFoundError as e:
        print(f"error: {e}")
        return 2
    print((Path(args.exp) / "report.md").read_text())
    print(f"wrote {Path(args.exp) / 'report.md'} and report.json ({r['report_seconds']:.0f} s)")
    return 0
