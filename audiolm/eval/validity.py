"""Is each offline benchmark measuring something the corpus teaches? Oracles and trivial baselines.

For every set of ``audiolm prepare benchmarks`` (pointed at the training corpus with ``--corpus``)
this scores each item with:

- **trivial baselines** — text: the choice with fewer BPE tokens (or characters) wins; spoken:
  the shorter audio wins. A set whose baseline is far from chance rewards length, not knowledge;
- **oracles that know the training data** — a word 4-gram (text minimal pairs, story endings), a
  6-gram over the corpus grammar's word classes (``noun:pl``, ``verb:3sg``, function words as
  themselves: it knows the grammar, not the words; tBLIMP),
  a word 4-gram with a context cache (stories: entities are re-mentioned), a character 5-gram
  over the words as they occur in running text (tWUGGY), a BPE 4-gram (every text set, with the
  tokenizer), an espeak-phone 4-gram fitted on the corpus' phone alignments (sWUGGY, sBLIMP) and a
  codebook-0 4-gram fitted on the training token shards (spoken sets, with the codec).

An oracle near 1 says the set is learnable from the corpus; a model between the baseline and
the oracle has learned part of it. Scores: accuracy ± standard error over items, as the LM's.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from audiolm.eval.items import BenchmarkSet
from audiolm.eval.oracles import NGram, cache_logprob
from audiolm.eval.scoring import choice_accuracy, mean_and_stderr

log = logging.getLogger("audiolm")

_WORD = re.compile(r"[A-Za-z']+|[^\sA-Za-z']")
TEXT_SETS = ("twuggy", "tblimp", "text_storycloze", "hellaswag")
SPOKEN_SETS = ("swuggy", "sblimp", "sstorycloze", "topic_sstorycloze")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _acc(scores: list[Sequence[float]], answers: list[int]) -> dict:
    acc, se = mean_and_stderr(np.asarray([choice_accuracy(s, a) for s, a in zip(scores, answers)]))
    return {"accuracy": acc, "stderr": se, "n": len(answers)}


def _read_jsonl_gz(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


class TrainingModels:
    """The count models of one training corpus (fitted lazily, once)."""

    def __init__(self, corpus_dirs: Sequence[str | Path], tokenizer=None, token_dirs: Sequence[str] = ()) -> None:
        self.docs: list[str] = []
        self.phone_seqs: list[list[str]] = []
        for d in map(Path, corpus_dirs):
            cuts = d / "cuts_train.jsonl.gz"
            if cuts.is_file():
                for rec in _read_jsonl_gz(cuts):
                    sup = (rec.get("supervisions") or [{}])[0]
                    if sup.get("text"):
                        self.docs.append(sup["text"])
                    ali = (sup.get("alignment") or {}).get("phone")
                    if ali:
                        self.phone_seqs.append([_phone(_sym(a)) for a in ali if not _pause(_sym(a))])
            txt = d / "text_train.jsonl.gz"
            if txt.is_file():
                self.docs += [str(r.get("text", "")) for r in _read_jsonl_gz(txt)]
        if not self.docs:
            raise FileNotFoundError(f"no training text in {', '.join(map(str, corpus_dirs))} (cuts_train/text_train.jsonl.gz)")
        self.tokenizer = tokenizer
        self.token_dirs = list(token_dirs)
        self._cache: dict[str, NGram] = {}

    def _get(self, name: str, build: Callable[[], NGram]) -> NGram:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    @property
    def word4(self) -> NGram:
        return self._get("word4", lambda: NGram(4).fit(words(d) for d in self.docs))

    @property
    def tag6(self) -> NGram:
        return self._get("tag6", lambda: NGram(6).fit(grammar_tags(words(d)) for d in self.docs))

    @property
    def char5(self) -> NGram:
        # characters of the words as they occur in running text: " word" (lower case only)
        def types() -> Counter:
            return Counter(tuple(" " + w.lower()) for d in self.docs for w in re.findall(r"[A-Za-z]+", d))
        return self._get("char5", lambda: NGram(5).fit_counts(types()))

    @property
    def bpe4(self) -> NGram | None:
        if self.tokenizer is None:
            return None
        return self._get("bpe4", lambda: NGram(4).fit(self.tokenizer.encode_text(d) for d in self.docs))

    @property
    def phone4(self) -> NGram | None:
        if not self.phone_seqs:
            return None
        return self._get("phone4", lambda: NGram(4).fit(self.phone_seqs))

    @property
    def cb0(self) -> NGram | None:
        if not self.token_dirs:
            return None

        def seqs():
            from audiolm.tokens.sources import find_shards, load_shard

            for unit in find_shards(self.token_dirs):
                for _, utts, _ in load_shard(unit):
                    for codes, _ in utts:
                        if codes is not None:
                            yield [int(c) for c in np.asarray(codes)[0]]
        return self._get("cb0", lambda: NGram(4).fit(seqs()))


# words whose identity is the grammar (kept as themselves by grammar_tags), and classes of others
CLOSED_CLASS = set("""a an this that these those i we you they she he me us them him it is are was were am be been
being has have had do does did will not and but so because when who there to of in on at by for into under over
myself yourself himself herself ourselves themselves . , ? !""".split())
FUNCTION_CLASSES = {**{w: "det" for w in "the some many few my our their his her your its".split()},
                    **{w: "prep" for w in "near with behind beside from".split()}}


def _tag_table() -> dict[str, str]:
    from audiolm.data.sentences import GENDERED_PERSONS, article, load_lexicon

    feats: dict[str, set] = {}
    pos: dict[str, str] = {}
    for e in load_lexicon().entries():
        for w in e.form.lower().split():
            pos.setdefault(w, e.pos)
            feats.setdefault(w, set()).add(e.feature)
    gender = {w: g for g, ws in GENDERED_PERSONS.items() for w in ws}
    table = {}
    for w, p in pos.items():
        fs = "/".join(sorted(f for f in feats[w] if f))  # "verb:participle/past" for regular verbs
        tag = f"{p}:{fs}" if fs else p
        if w in gender:
            tag += ":" + gender[w]
        if article(w) == "an":
            tag += ":v"  # a vowel sound follows "an"
        table[w] = tag
    return table


_TAGS: dict[str, str] | None = None


def grammar_tags(ws: Sequence[str]) -> list[str]:
    """Each word as its lexicon class and features (``noun:pl``, ``verb:3sg``, ``noun:sg:female``,
    ``adj:v`` for a vowel onset), function words as themselves or their class: the view of a model
    that knows the corpus grammar, not its vocabulary."""
    global _TAGS
    if _TAGS is None:
        _TAGS = _tag_table()
    return [w if w in CLOSED_CLASS else FUNCTION_CLASSES.get(w) or _TAGS.get(w, "other") for w in ws]


def _sym(a) -> str:
    return a["symbol"] if isinstance(a, dict) else a[0]  # lhotse AlignmentItem as dict or list


def _pause(sym: str) -> bool:
    return sym.strip("_:; ") == ""


def _phone(sym: str) -> str:
    return sym.replace("'", "").replace(",", "")  # stress marks are not phones


def text_oracles(task: str, bset: BenchmarkSet, m: TrainingModels) -> dict:
    items = bset.items
    answers = [it.answer for it in items]
    out: dict = {"baselines": {}, "oracles": {}}
    tok = m.tokenizer
    length = (lambda t: len(tok.encode_text(t))) if tok else len
    out["baselines"]["fewer_tokens" if tok else "fewer_characters"] = _acc(
        [[-length((" " + c.text) if (c.prefix or task == "twuggy") else c.text) for c in it.choices] for it in items], answers)
    if task == "twuggy":
        out["oracles"]["char_5gram"] = _acc([[m.char5.score([], list(" " + c.text.lower()))[0] for c in it.choices]
                                             for it in items], answers)
    else:
        def ctx_target(c):
            return words(c.prefix), words(c.text)
        out["oracles"]["word_4gram"] = _acc([[m.word4.score(*ctx_target(c))[0] for c in it.choices] for it in items], answers)
        if task == "tblimp":
            out["oracles"]["grammar_6gram"] = _acc([[m.tag6.score([], grammar_tags(words(c.text)))[0] for c in it.choices]
                                                   for it in items], answers)
        if task in ("text_storycloze", "hellaswag"):
            out["oracles"]["word_4gram_cache"] = _acc(
                [[cache_logprob(m.word4, *ctx_target(c))[0] for c in it.choices] for it in items], answers)
    if m.bpe4 is not None:
        def bpe(c):
            ctx = tok.encode_text(c.prefix) if c.prefix else []
            return ctx, tok.encode_text((" " + c.text) if (c.prefix or task == "twuggy") else c.text)
        out["oracles"]["bpe_4gram"] = _acc([[m.bpe4.score(*bpe(c))[0] for c in it.choices] for it in items], answers)
    return out


def spoken_oracles(task: str, bset: BenchmarkSet, m: TrainingModels, encode=None, frame_rate: float | None = None) -> dict:
    items = bset.items
    answers = [it.answer for it in items]
    cuts = bset.cuts
    out: dict = {"baselines": {}, "oracles": {}}
    out["baselines"]["shorter_audio"] = _acc([[-cuts[c.cut_id].duration for c in it.choices] for it in items], answers)
    if m.phone4 is not None and task in ("swuggy", "sblimp"):
        from audiolm.data.espeak import Espeak

        es = Espeak()

        def phones(c):
            return [_phone(p) for p in es.phonemes(cuts[c.cut_id].supervisions[0].text) if not _pause(p)]
        scores = []
        for it in items:
            s = []
            for c in it.choices:
                lp, n = m.phone4.score([], phones(c))
                s.append(lp / max(n, 1))
            scores.append(s)
        out["oracles"]["phone_4gram"] = _acc(scores, answers)
    if encode is not None and m.cb0 is not None:
        codes = encode(task, cuts, [c.cut_id for it in items for c in it.choices])
        scores = []
        for it in items:
            s = []
            for c in it.choices:
                seq = [int(x) for x in np.asarray(codes[c.cut_id])[0]]
                start = (cuts[c.cut_id].custom or {}).get("ending_start")
                k = int(round(float(start) * frame_rate)) if start is not None and frame_rate else 0
                lp, n = m.cb0.score(seq[:k], seq[k:])
                s.append(lp / max(n, 1))
            scores.append(s)
        out["oracles"]["codebook0_4gram"] = _acc(scores, answers)
    return out


def validity_report(bench_dir: str | Path, corpus_dirs: Sequence[str], *, tokenizer=None, token_dirs: Sequence[str] = (),
                    codec_spec: str | None = None, max_items: int | None = None, tasks: Sequence[str] | None = None) -> dict:
    """Chance, baselines and oracles for each offline set found under ``bench_dir``."""
    from audiolm.eval.tasks import load_task_set

    m = TrainingModels(corpus_dirs, tokenizer, token_dirs)
    encode, frame_rate = None, None
    if codec_spec:
        from audiolm.eval.context import EvalContext

        ctx = EvalContext(model=None, tokenizer=None, layout=None, codec_spec=codec_spec,
                          cache_dir=Path(bench_dir) / ".codes")
        encode, frame_rate = ctx.encode_cuts, float(ctx.get_codec().frame_rate)
    report: dict = {"bench": str(bench_dir), "corpus": list(map(str, corpus_dirs)), "tasks": {}}
    for task in tasks or (TEXT_SETS + SPOKEN_SETS):
        if not (Path(bench_dir) / task).exists():
            continue
        bset = load_task_set(task, bench_dir).subset(max_items)
        res = text_oracles(task, bset, m) if task in TEXT_SETS else spoken_oracles(task, bset, m, encode, frame_rate)
        res["n"] = len(bset.items)
        res["chance"] = float(np.mean([1 / len(it.choices) for it in bset.items]))
        report["tasks"][task] = res
        log.info("%s: %s", task, {k: round(v["accuracy"], 3) for k, v in {**res["baselines"], **res["oracles"]}.items()})
    return report


def render_validity(report: dict) -> str:
    lines = ["| set | n | chance | baselines | oracles |", "|---|---|---|---|---|"]
    for task, r in report["tasks"].items():
        f = lambda d: ", ".join(f"{k} {v['accuracy']:.3f} ± {v['stderr']:.3f}" for k, v in d.items()) or "-"  # noqa: E731
        lines.append(f"| {task} | {r['n']} | {r['chance']:.2f} | {f(r['baselines'])} | {f(r['oracles'])} |")
    return "\n".join(lines)
