"""Loaders for the official benchmark layouts, each giving a :class:`BenchmarkSet` with explicit ids.

Layouts read (what we assumed of each is in docs/evaluation.md):

- **ZeroSpeech 2021** lexical (sWUGGY) and syntactic (sBLIMP) sets: a folder with ``gold.csv``
  and ``<filename>.wav``. Lexical columns ``id, filename, voice, frequency, word, phones, length,
  correct``; syntactic ``id, filename, voice, type, subtype, correct, transcription``. Pairs are
  the rows sharing ``(type, subtype, id, voice)`` (lexical: ``(id, voice)``): the ``correct == 1``
  row against each ``correct == 0`` row. The same reader takes any "gold csv" with at least
  ``id, filename, correct`` (e.g. a spoken StoryCloze set laid out that way).
- **SALMon** released folders: ``<part>/sample_<index>_<option>.wav``; option 0 is the positive
  sample, options 1.. the negatives (as the official generation scripts write them).
- **Hugging Face parquet exports** (sWUGGY / sBLIMP / SALMon / spoken StoryCloze): ``*.parquet``
  files in the folder (recursively), either one row per pair with two audio columns (e.g.
  ``positive_audio``/``negative_audio``, ``correct``/``incorrect``) or one row per candidate with an
  ``audio`` column, a 0/1 ``correct`` (or ``label``) column and a group column (``id``/``pair_id``).
  Audio cells are the datasets-library struct ``{"bytes", "path"}``.
- **Spoken StoryCloze / Topic StoryCloze** (sSC / tSC of the TWIST paper, used by slamkit, Spirit
  LM and Moshi): a folder of ``<n>_correct.wav`` and ``<n>_incorrect.wav`` (the whole story with its
  right or wrong ending), paired on ``<n>``; sub-folders are searched too.
- **HellaSwag** released ``data/`` folder: ``hellaswag_val.jsonl`` is taken (``hellaswag_test.jsonl``
  has no labels; a file whose records lack ``label`` is an error that says so), fields ``ctx_a``,
  ``ctx_b``, ``activity_label``, ``endings``, ``label``.
- **StoryCloze** csv (``InputStoryid, InputSentence1..4, RandomFifthSentenceQuiz1/2, AnswerRightEnding``).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path

from audiolm.eval.items import (
    SPOKEN_MANIFEST,
    TEXT_MANIFEST,
    BenchmarkError,
    BenchmarkSet,
    Choice,
    Item,
    read_spoken_set,
    read_text_set,
)

# ---------------------------------------------------------------------------------------------
# audio helpers


def _wav_cut(path: Path, cut_id: str):
    from lhotse import Recording

    rec = Recording.from_file(path, recording_id=cut_id)
    return rec.to_cut()


def _bytes_cut(data: bytes, cut_id: str):
    from lhotse import Recording

    return Recording.from_bytes(data, recording_id=cut_id).to_cut()


def _cutset(cuts):
    from lhotse import CutSet

    return CutSet.from_cuts(cuts)


# ---------------------------------------------------------------------------------------------
# ZeroSpeech 2021 gold.csv (and any id/filename/correct csv)


def _find_gold(folder: Path, sub: str | None) -> Path | None:
    for cand in ([folder / "gold.csv"] + ([folder / sub / "dev" / "gold.csv", folder / sub / "gold.csv"] if sub else [])):
        if cand.is_file():
            return cand
    return None


def load_gold_csv(task: str, gold: str | Path) -> BenchmarkSet:
    gold = Path(gold)
    folder = gold.parent
    with open(gold, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"id", "filename", "correct"}
    if not rows or not need <= set(rows[0]):
        raise BenchmarkError(f"{task}: {gold} needs columns {sorted(need)}, has {sorted(rows[0]) if rows else 'no rows'}")
    key_cols = [c for c in ("type", "subtype", "id", "voice") if c in rows[0]]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[c] for c in key_cols)].append(r)
    items, cuts, missing = [], {}, []
    for key, rs in groups.items():
        pos = [r for r in rs if int(float(r["correct"])) == 1]
        negs = [r for r in rs if int(float(r["correct"])) == 0]
        if len(pos) != 1 or not negs:
            raise BenchmarkError(f"{task}: {gold}: group {dict(zip(key_cols, key))} has {len(pos)} correct and {len(negs)} incorrect rows")
        for r in pos + negs:
            wav = folder / f"{r['filename']}.wav"
            if not wav.is_file():
                missing.append(wav.name)
                continue
            if r["filename"] not in cuts:
                cuts[r["filename"]] = _wav_cut(wav, r["filename"])
        category = rs[0].get("type", "") or ""
        base = "/".join(key)
        for k, neg in enumerate(negs):
            item_id = base if len(negs) == 1 else f"{base}/{k}"
            meta = {c: pos[0][c] for c in ("word", "transcription", "frequency", "subtype") if c in pos[0]}
            items.append(Item(item_id, [Choice(cut_id=pos[0]["filename"]), Choice(cut_id=neg["filename"])], 0, category, meta))
    if missing:
        raise BenchmarkError(f"{task}: {len(missing)} audio file(s) listed in {gold} are missing (e.g. {missing[:3]})")
    return BenchmarkSet(task, items, _cutset(cuts.values()), str(gold))


# ---------------------------------------------------------------------------------------------
# SALMon released folders

_SALMON_RE = re.compile(r"^(?P<prefix>.*?)_(?P<index>\d+)_(?P<option>\d+)$")


_CLOZE_RE = re.compile(r"^(?P<index>.+)_(?P<kind>correct|incorrect)$")


def load_correct_incorrect_folder(task: str, folder: str | Path) -> BenchmarkSet:
    """``<n>_correct.wav`` / ``<n>_incorrect.wav`` pairs (spoken and Topic StoryCloze releases)."""
    folder = Path(folder)
    groups: dict[str, dict[str, Path]] = defaultdict(dict)
    for wav in sorted(folder.rglob("*.wav")):
        m = _CLOZE_RE.match(wav.stem)
        if m:
            key = str(wav.parent.relative_to(folder) / m["index"])
            groups[key][m["kind"]] = wav
    if not groups:
        raise BenchmarkError(f"{task}: no <n>_correct.wav / <n>_incorrect.wav files in {folder}")
    incomplete = sorted(k for k, v in groups.items() if len(v) != 2)
    if incomplete:
        raise BenchmarkError(f"{task}: {len(incomplete)} stories in {folder} lack their correct or incorrect file "
                             f"(first: {incomplete[0]!r})")
    items, cuts = [], []
    for key in sorted(groups, key=_natural):
        ids = []
        for kind in ("correct", "incorrect"):
            cid = f"{task}-{key.replace('/', '-')}-{kind}"
            cuts.append(_wav_cut(groups[key][kind], cid))
            ids.append(cid)
        items.append(Item(key, [Choice(cut_id=c) for c in ids], 0))
    return BenchmarkSet(task, items, _cutset(cuts), str(folder))


def _natural(key: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _hellaswag_file(task: str, files: list[Path]) -> Path:
    """The labelled file of a HellaSwag ``data/`` folder: val (test has no labels)."""
    val = [f for f in files if "val" in f.stem]
    if val:
        return val[0]
    for f in files:
        with open(f) as fh:
            first = next((line for line in fh if line.strip()), "")
        try:
            if "label" in json.loads(first):
                return f
        except ValueError:
            continue
    raise BenchmarkError(f"{task}: none of {', '.join(f.name for f in files)} has labels "
                         "(HellaSwag's test file has none: use hellaswag_val.jsonl)")


def load_salmon_folder(task: str, folder: str | Path) -> BenchmarkSet:
    folder = Path(folder)
    groups: dict[int, dict[int, Path]] = defaultdict(dict)
    for wav in folder.glob("*.wav"):
        m = _SALMON_RE.match(wav.stem)
        if not m:
            raise BenchmarkError(f"{task}: {wav.name} in {folder} is not named sample_<index>_<option>.wav")
        groups[int(m["index"])][int(m["option"])] = wav
    if not groups:
        raise BenchmarkError(f"{task}: no sample_<index>_<option>.wav files in {folder}")
    items, cuts = [], []
    for index in sorted(groups):
        opts = groups[index]
        if 0 not in opts or len(opts) < 2:
            raise BenchmarkError(f"{task}: sample {index} in {folder} needs option 0 (positive) and at least one negative, has {sorted(opts)}")
        order = sorted(opts)
        ids = []
        for o in order:
            cid = f"{folder.name}_{index}_{o}"
            cuts.append(_wav_cut(opts[o], cid))
            ids.append(cid)
        items.append(Item(f"{folder.name}/{index}", [Choice(cut_id=c) for c in ids], order.index(0), folder.name))
    return BenchmarkSet(task, items, _cutset(cuts), str(folder))


# ---------------------------------------------------------------------------------------------
# Hugging Face parquet exports

PAIR_COLUMNS = [
    ("positive_audio", "negative_audio"),
    ("positive", "negative"),
    ("correct_audio", "incorrect_audio"),
    ("correct", "incorrect"),
    ("audio_correct", "audio_incorrect"),
    ("good_audio", "bad_audio"),
    ("word_audio", "nonword_audio"),
    ("sentence_audio", "non_sentence_audio"),
]
GROUP_COLUMNS = ("pair_id", "item_id", "id")
ID_COLUMNS = ("item_id", "pair_id", "id", "idx", "index")
CATEGORY_COLUMNS = ("type", "category", "subtask", "task")


def _audio_bytes(cell, where: str) -> bytes:
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return bytes(cell["bytes"])
        if cell.get("path") and Path(cell["path"]).is_file():
            return Path(cell["path"]).read_bytes()
    raise BenchmarkError(f"{where}: audio cell has neither bytes nor a readable path")


def load_parquet(task: str, files: list[Path]) -> BenchmarkSet:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise BenchmarkError(f"{task}: reading parquet exports needs pyarrow (pip install pyarrow)") from e
    items, cuts = [], []
    for file in sorted(files):
        rows = pq.read_table(file).to_pylist()
        if not rows:
            continue
        cols = set(rows[0])
        stem = file.stem
        cat_col = next((c for c in CATEGORY_COLUMNS if c in cols), None)
        pair = next((p for p in PAIR_COLUMNS if set(p) <= cols), None)
        if pair is not None:
            id_col = next((c for c in ID_COLUMNS if c in cols), None)
            for n, r in enumerate(rows):
                rid = str(r[id_col]) if id_col else str(n)
                item_id = f"{stem}/{rid}"
                ids = []
                for k, col in enumerate(pair):
                    cid = f"{stem}_{rid}_{k}"
                    cuts.append(_bytes_cut(_audio_bytes(r[col], f"{task}: {file.name} row {n} column {col}"), cid))
                    ids.append(cid)
                items.append(Item(item_id, [Choice(cut_id=c) for c in ids], 0, str(r[cat_col]) if cat_col else ""))
            continue
        label_col = next((c for c in ("correct", "label") if c in cols), None)
        group_col = next((c for c in GROUP_COLUMNS if c in cols), None)
        if "audio" in cols and label_col and group_col:
            groups: dict[str, list[tuple[int, dict]]] = defaultdict(list)
            for n, r in enumerate(rows):
                key = "/".join(str(r[c]) for c in (cat_col, group_col, "voice") if c and c in cols)
                groups[key].append((n, r))
            for key, rs in groups.items():
                pos = [(n, r) for n, r in rs if int(r[label_col]) == 1]
                negs = [(n, r) for n, r in rs if int(r[label_col]) == 0]
                if len(pos) != 1 or not negs:
                    raise BenchmarkError(f"{task}: {file.name}: group {key!r} has {len(pos)} correct and {len(negs)} incorrect rows")
                for k, (n, r) in enumerate(pos + negs):
                    cuts.append(_bytes_cut(_audio_bytes(r["audio"], f"{task}: {file.name} row {n}"), f"{stem}_{n}"))
                for k, (n, _) in enumerate(negs):
                    item_id = f"{stem}/{key}" + (f"/{k}" if len(negs) > 1 else "")
                    items.append(Item(item_id, [Choice(cut_id=f"{stem}_{pos[0][0]}"), Choice(cut_id=f"{stem}_{n}")], 0,
                                      str(pos[0][1][cat_col]) if cat_col else ""))
            continue
        raise BenchmarkError(
            f"{task}: {file} has columns {sorted(cols)}: expected a pair of audio columns "
            f"({', '.join('/'.join(p) for p in PAIR_COLUMNS[:4])}, ...) or audio + correct|label + id|pair_id"
        )
    # a cut can appear once only (pair rows sharing an audio are given distinct ids above)
    return BenchmarkSet(task, items, _cutset(cuts), ", ".join(str(f) for f in files[:3]))


# ---------------------------------------------------------------------------------------------
# text benchmarks


def _hellaswag_clean(text: str) -> str:
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ").strip()


def load_hellaswag_jsonl(task: str, path: str | Path) -> BenchmarkSet:
    """HellaSwag jsonl, preprocessed as lm-evaluation-harness does (activity label + context)."""
    items = []
    with open(path) as f:
        for n, line in enumerate(f):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                if "label" not in r:
                    raise BenchmarkError(f"{task}: {path} has no labels (HellaSwag's test file has none: use "
                                         "hellaswag_val.jsonl)")
                ctx = r["ctx_a"] + " " + r["ctx_b"].capitalize()
                prefix = _hellaswag_clean(r["activity_label"] + ": " + ctx)
                endings = [_hellaswag_clean(e) for e in r["endings"]]
                label = int(r["label"])
            except BenchmarkError:
                raise
            except (KeyError, ValueError, TypeError) as e:
                raise BenchmarkError(f"{task}: line {n + 1} of {path} is not a HellaSwag record ({e!r})") from None
            item_id = str(r.get("ind", n))
            items.append(Item(item_id, [Choice(text=e, prefix=prefix) for e in endings], label, str(r.get("activity_label", ""))))
    return BenchmarkSet(task, items, None, str(path))


def load_storycloze_csv(task: str, path: str | Path) -> BenchmarkSet:
    items = []
    with open(path, newline="") as f:
        for n, r in enumerate(csv.DictReader(f)):
            try:
                prefix = " ".join(r[f"InputSentence{i}"].strip() for i in range(1, 5))
                endings = [r["RandomFifthSentenceQuiz1"].strip(), r["RandomFifthSentenceQuiz2"].strip()]
                answer = int(r["AnswerRightEnding"]) - 1
                item_id = r.get("InputStoryid") or str(n)
            except (KeyError, ValueError) as e:
                raise BenchmarkError(f"{task}: row {n + 1} of {path} is not a StoryCloze record ({e!r})") from None
            items.append(Item(item_id, [Choice(text=e, prefix=prefix) for e in endings], answer))
    return BenchmarkSet(task, items, None, str(path))


# ---------------------------------------------------------------------------------------------
# detection


def load_likelihood_set(task: str, folder: str | Path, *, zerospeech_sub: str | None = None) -> BenchmarkSet:
    """Read a task's set from ``folder`` (a file is accepted too), whatever its layout."""
    p = Path(folder)
    if not p.exists():
        raise BenchmarkError(f"{task}: benchmark data not found at {p} (run `audiolm prepare benchmarks DIR` or point --data {task}=PATH at the official files)")
    if p.is_file():
        if p.suffix == ".jsonl" and p.name != TEXT_MANIFEST:
            return load_hellaswag_jsonl(task, p)
        if p.name == TEXT_MANIFEST:
            return read_text_set(task, p.parent)
        if p.suffix == ".csv":
            head = p.open().readline()
            return load_storycloze_csv(task, p) if "InputSentence1" in head else load_gold_csv(task, p)
        if p.suffix == ".parquet":
            return load_parquet(task, [p])
        raise BenchmarkError(f"{task}: don't know how to read {p}")
    if (p / SPOKEN_MANIFEST).is_file():
        return read_spoken_set(task, p)
    if (p / TEXT_MANIFEST).is_file():
        return read_text_set(task, p)
    gold = _find_gold(p, zerospeech_sub)
    if gold is not None:
        return load_gold_csv(task, gold)
    parquet = sorted(p.rglob("*.parquet"))
    if parquet:
        return load_parquet(task, parquet)
    if any(_SALMON_RE.match(w.stem) for w in p.glob("*.wav")):
        return load_salmon_folder(task, p)
    if any(_CLOZE_RE.match(w.stem) for w in p.rglob("*.wav")):
        return load_correct_incorrect_folder(task, p)
    jsonl = sorted(p.glob("*.jsonl")) or sorted(p.glob("data/*.jsonl"))
    if jsonl:
        return load_hellaswag_jsonl(task, _hellaswag_file(task, jsonl))
    csvs = sorted(p.glob("*.csv"))
    if csvs:
        return load_likelihood_set(task, csvs[0])
    raise BenchmarkError(
        f"{task}: nothing readable in {p}: expected {SPOKEN_MANIFEST} or {TEXT_MANIFEST} (prepared), gold.csv + wavs "
        "(ZeroSpeech), sample_<i>_<k>.wav (SALMon), <n>_correct.wav/<n>_incorrect.wav (spoken/Topic StoryCloze), "
        "*.parquet (Hugging Face), *.jsonl (HellaSwag) or a StoryCloze csv"
    )
