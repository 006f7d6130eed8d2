"""The ``audiolm`` command: a thin map from verbs to the modules that implement them.

Each leaf verb ``a b`` lives in a module exposing ``configure_a_b(parser)`` (adds arguments)
and ``run_a_b(args) -> int | None``. Modules are imported only when their verb is built, so
``audiolm --help`` stays quick and a heavy dependency never slows an unrelated verb.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# (verb path, implementing module, one-line help)
COMMANDS: list[tuple[tuple[str, ...], str, str]] = [
    (("prepare", "synth"), "audiolm.data.commands", "synthesize the embedded offline multi-speaker corpus (espeak-ng)"),
    (("prepare", "synth-s2st"), "audiolm.data.commands",
     "synthesize the offline Spanish->English translation corpus (parallel grammar, espeak-ng voices of each language)"),
    (("prepare", "librispeech"), "audiolm.data.commands", "LibriSpeech folder -> cuts_{split}.jsonl.gz (documents = chapters)"),
    (("prepare", "libritts"), "audiolm.data.commands", "LibriTTS folder -> cuts_{split}.jsonl.gz (documents = chapters)"),
    (("prepare", "emilia"), "audiolm.data.commands", "Emilia (jsonl+mp3 or WebDataset tars) -> cuts (documents = source video)"),
    (("prepare", "cvss"), "audiolm.data.commands",
     "CVSS (+ its Common Voice release) -> speech-to-speech translation pairs (one two-cut document each)"),
    (("prepare", "covost2"), "audiolm.data.commands",
     "CoVoST 2 TSV (+ its Common Voice release) -> speech cuts with their text translation"),
    (("prepare", "yodas"), "audiolm.data.commands", "YODAS2 long-form audio + timed text -> cuts (documents = source video)"),
    (("prepare", "text"), "audiolm.data.commands", "text-only corpus (.txt/.jsonl[.gz|.zst]) -> text_{split}.jsonl.gz"),
    (("prepare", "synth-text"), "audiolm.data.synth_text", "offline text-only documents from the embedded sentence grammar (the text share of the mixture)"),
    (("prepare", "benchmarks"), "audiolm.eval.commands", "build the offline evaluation sets (sWUGGY, sBLIMP, SALMon, ...) from the embedded corpus"),
    (("tokens", "train-bpe"), "audiolm.tokens.commands", "train a byte-level BPE offline and write the unified tokenizer.json"),
    (("tokens", "build"), "audiolm.tokens.commands", "unified tokenizer.json from an existing HF text tokenizer.json (e.g. Llama-3)"),
    (("tokens", "show"), "audiolm.tokens.commands", "print documents of a token shard as readable text (PUA form) for inspection"),
    (("train", "codec"), "audiolm.codec.commands", "train the Mimi-style split-RVQ codec (CONFIG [key=value ...])"),
    (("train", "lm"), "audiolm.lm.commands", "train the interleaved language model (CONFIG [key=value ...])"),
    (("tokenize",), "audiolm.codec.commands", "encode a CutSet into lhotse Shar token shards with a codec (resumable)"),
    (("decode",), "audiolm.codec.commands", "decode token shards back to audio files for listening"),
    (("generate", "continue"), "audiolm.lm.commands", "continue a speech (or text) prompt with a trained LM"),
    (("generate", "tts"), "audiolm.lm.commands", "text-to-speech by prompting a trained LM (optionally with a voice prompt)"),
    (("generate", "asr"), "audiolm.lm.commands", "speech recognition by N-shot prompting a trained LM"),
    (("eval",), "audiolm.eval.commands", "run evaluation tasks on a checkpoint and write report.json"),
    (("scaling", "plan"), "audiolm.scaling.commands", "build an IsoFLOP sweep (one LM config per run) for FLOP budgets"),
    (("scaling", "run"), "audiolm.scaling.commands", "train the runs of a sweep one after another (resumable) or print launch commands"),
    (("scaling", "collect"), "audiolm.scaling.commands", "collect finished runs of a sweep into runs.csv"),
    (("scaling", "fit"), "audiolm.scaling.commands", "fit IsoFLOP parabolas + power laws and the parametric law; write fit.json and plots"),
    (("scaling", "predict"), "audiolm.scaling.commands", "compute-optimal N*, D*, predicted loss and an LM config for a budget"),
    (("export", "hf"), "audiolm.lm.hf_folder", "an LM checkpoint -> a Hugging Face Qwen3 folder (transformers.from_pretrained; back in as hf:DIR)"),
    (("ablations", "run"), "audiolm.ablations.commands",
     "the CPU ablation study: train + evaluate every variant x seed (resumable), results.csv, tables, verdicts, plots"),
    (("ablations", "summarize"), "audiolm.ablations.commands", "rebuild the study's tables, verdicts and plots from results.csv"),
    (("report",), "audiolm.report", "gather an experiment's figures into report.md + report.json"),
]

GROUP_HELP = {
    "prepare": "prepare corpora and benchmark sets as lhotse manifests",
    "tokens": "the unified text+audio tokenizer",
    "train": "train a codec or a language model",
    "generate": "sample from a trained language model",
    "scaling": "IsoFLOP scaling-law studies",
    "export": "write trained models in the ecosystem's formats",
    "ablations": "SODA's design-choice ablations at CPU scale (recipes/ablations/study.yaml)",
}


def _func_name(path: tuple[str, ...]) -> str:
    return "_".join(p.replace("-", "_") for p in path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audiolm",
        description="Native discrete audio foundation models: corpora -> codec -> tokens -> LM -> eval -> scaling.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, module_name, help_text in COMMANDS:
        if len(path) == 1:
            leaf_parent = sub
        else:
            if path[0] not in groups:
                gp = sub.add_parser(path[0], help=GROUP_HELP.get(path[0], ""), description=GROUP_HELP.get(path[0]))
                gsub = gp.add_subparsers(dest="subverb", metavar="SUBVERB")
                gsub.required = True
                groups[path[0]] = gsub
            leaf_parent = groups[path[0]]
        leaf = leaf_parent.add_parser(path[-1], help=help_text, description=help_text)
        leaf.set_defaults(_module=module_name, _func=_func_name(path), _verb=" ".join(path))
    return parser


def _configure_leaf(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser, configuring only the leaf that argv names (imports one module)."""
    parser = build_parser()
    words = [a for a in argv if not a.startswith("-")]
    for path, module_name, _ in COMMANDS:
        if tuple(words[: len(path)]) == path:
            module = importlib.import_module(module_name)
            leaf = _find_leaf(parser, path)
            getattr(module, f"configure_{_func_name(path)}")(leaf)
            break
    return parser


def _find_leaf(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    node = parser
    for word in path:
        action = next(a for a in node._actions if isinstance(a, argparse._SubParsersAction))
        node = action.choices[word]
    return node


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _configure_leaf(argv)
    args = parser.parse_args(argv)
    from audiolm.errors import run_verb

    module = importlib.import_module(args._module)
    return run_verb(args._verb, getattr(module, f"run_{args._func}"), args)


if __name__ == "__main__":
    sys.exit(main())
