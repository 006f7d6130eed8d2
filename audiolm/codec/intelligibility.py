"""Word identification on the embedded corpus: are the words of a codec's reconstructions recognisable?

A general-English recogniser (pocketsphinx) already fails on espeak voices (WER ~0.9 on the
original recordings), so its WER on reconstructions mostly measures itself. This judge is fitted
to the corpus instead:

* a phone recogniser (:class:`~audiolm.codec.teachers.PhoneTeacher`, trained on the *original*
  train audio; train it with its own seed so it is not the codec's distillation teacher) turns
  audio into per-frame phone log-posteriors (100 frames/s);
* the lexicon is every pronunciation seen in the corpus alignments (the phones espeak gave each
  word), so homophones and context variants are one candidate each;
* each aligned word span is identified as the pronunciation whose left-to-right Viterbi path
  through those frames scores best. It is correct when that pronunciation belongs to the spoken
  word (a homophone counts: a listener could not tell either).

Closed vocabulary and oracle word boundaries make it a word-*identification* accuracy (chance is
one over the number of pronunciations, ~1/3000). :func:`decode_words` also recognises without the
boundaries (a word loop over the lexicon), which gives a WER; what matters is reconstruction versus
original under the same judge.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from audiolm.resample import resample
from .phones import SIL, phone_items

_PUNCT = re.compile(r"[^\w']+")


def normalize_word(word: str) -> str:
    return _PUNCT.sub("", word.lower())


def word_spans(cut) -> list[tuple[str, float, float, tuple[str, ...]]]:
    """(word, start, end, phones) for each aligned word of ``cut`` (times relative to the cut)."""
    phones = sorted(phone_items(cut), key=lambda it: it.start)
    out = []
    for sup in cut.supervisions:
        for w in (getattr(sup, "alignment", None) or {}).get("word", []) or []:
            end = w.start + w.duration
            pron = tuple(p.symbol for p in phones
                         if p.symbol != SIL and w.start - 1e-4 <= p.start < end - 1e-4)
            word = normalize_word(w.symbol)
            if word and pron:
                out.append((word, w.start, end, pron))
    return out


@dataclass
class Lexicon:
    """Distinct pronunciations (rows of ``ids``, padded with -1) and the words that use each."""

    prons: list[tuple[str, ...]]
    words: list[frozenset[str]]
    ids: np.ndarray  # [P, K] phone ids, -1 padded
    lengths: np.ndarray  # [P]
    spellings: list[str] | None = None  # the most frequent word of each pronunciation (transcripts)

    def spelling(self, i: int) -> str:
        return self.spellings[i] if self.spellings else min(self.words[i])

    @classmethod
    def from_cuts(cls, cuts, phones: list[str]) -> "Lexicon":
        p2i = {p: i for i, p in enumerate(phones)}
        uses: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for cut in cuts:
            for word, _, _, pron in word_spans(cut):
                if all(p in p2i for p in pron):
                    uses[pron][word] += 1
        if not uses:
            raise ValueError("no word/phone alignments in these cuts (supervision.alignment['word'] and ['phone'] "
                             "are needed: the synth corpus has them)")
        prons = sorted(uses)
        k = max(len(p) for p in prons)
        ids = np.full((len(prons), k), -1, dtype=np.int64)
        for r, pron in enumerate(prons):
            ids[r, : len(pron)] = [p2i[p] for p in pron]
        return cls(prons, [frozenset(uses[p]) for p in prons], ids, np.array([len(p) for p in prons]),
                   [uses[p].most_common(1)[0][0] for p in prons])

    def __len__(self) -> int:
        return len(self.prons)


def _emissions(logp: np.ndarray, lex: Lexicon) -> np.ndarray:
    """[T, P, K] log-posterior of each pronunciation's k-th phone at each frame (-inf on padding)."""
    emit = logp[:, np.clip(lex.ids, 0, None)]
    emit[:, lex.ids < 0] = -np.inf
    return emit


def viterbi_scores(logp: np.ndarray, lex: Lexicon) -> np.ndarray:
    """Best left-to-right path score of every pronunciation through frames ``logp`` [T, C].

    Each phone holds at least one frame; a pronunciation longer than the span scores -inf.
    """
    t_len = logp.shape[0]
    emit = _emissions(logp, lex)
    delta = np.full(lex.ids.shape, -np.inf)
    delta[:, 0] = emit[0, :, 0]
    for t in range(1, t_len):
        moved = np.concatenate([np.full((delta.shape[0], 1), -np.inf), delta[:, :-1]], axis=1)
        delta = np.maximum(delta, moved) + emit[t]
    return delta[np.arange(len(lex)), lex.lengths - 1]


@torch.no_grad()
def phone_log_posteriors(recognizer, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[T, C] log-posteriors of ``recognizer`` (a PhoneTeacher) at its frame rate."""
    x = resample(audio.astype(np.float32), sample_rate, recognizer.sample_rate)
    logits = recognizer.net(recognizer.log_mel(torch.from_numpy(x)[None]))[0]
    return logits.log_softmax(0).T.double().numpy()


def identify_words(recognizer, audio: np.ndarray, sample_rate: int, cut, lex: Lexicon,
                   logp: np.ndarray | None = None) -> list[tuple[str, bool]]:
    """(spoken word, identified correctly?) for each aligned word of ``cut`` heard in ``audio``
    (``logp``: its phone log-posteriors, when the caller has them already)."""
    if logp is None:
        logp = phone_log_posteriors(recognizer, audio, sample_rate)
    rate = recognizer.frame_rate
    out = []
    for word, start, end, _ in word_spans(cut):
        i0, i1 = int(round(start * rate)), min(int(round(end * rate)), logp.shape[0])
        if i1 - i0 < 1:
            continue
        best = int(np.argmax(viterbi_scores(logp[i0:i1], lex)))
        out.append((word, word in lex.words[best]))
    return out


@torch.no_grad()
def word_identification(codec, cuts, recognizer, *, lexicon_cuts=None, lexicon: Lexicon | None = None,
                        max_cuts: int = 50, max_seconds: float = 10.0) -> dict:
    """Word-identification accuracy on originals and on ``codec`` reconstructions of ``cuts``.

    ``recognizer``: a PhoneTeacher or the path of a saved one. The lexicon is ``lexicon``, else built
    from ``lexicon_cuts`` plus ``cuts`` (pronunciations only, no audio).
    """
    from .metrics import _cuts_list, _encode_all
    from .teachers import PhoneTeacher

    if not isinstance(recognizer, PhoneTeacher):
        recognizer = PhoneTeacher.load(recognizer)
    cuts = _cuts_list(cuts, max_cuts)
    lex = lexicon or Lexicon.from_cuts(list(lexicon_cuts or []) + cuts, recognizer.phones)
    sr = codec.sample_rate
    hits, errors, total = {"original": 0, "reconstruction": 0}, {"original": 0, "reconstruction": 0}, 0
    for cut, audio, codes in _encode_all(codec, cuts, max_seconds):
        rec = codec.decode(codes[None])[0, 0].cpu().numpy()[: audio.size]
        rec = np.pad(rec, (0, audio.size - rec.size))
        ref = [w for w, *_ in word_spans(cut)]
        for key, x in (("original", audio), ("reconstruction", rec)):
            logp = phone_log_posteriors(recognizer, x, sr)
            res = identify_words(recognizer, x, sr, cut, lex, logp)
            hits[key] += sum(ok for _, ok in res)
            errors[key] += word_errors(ref, decode_words(logp, lex), lex)
            if key == "original":
                total += len(res)
    return {"n_words": total, "n_pronunciations": len(lex),
            "word_accuracy_original": hits["original"] / max(total, 1),
            "word_accuracy_reconstruction": hits["reconstruction"] / max(total, 1),
            "wer_original": errors["original"] / max(total, 1),
            "wer_reconstruction": errors["reconstruction"] / max(total, 1)}


def decode_words(logp: np.ndarray, lex: Lexicon, *, sil_id: int = 0, word_penalty: float = -32.0) -> list[int]:
    """Free word recognition: the best sequence of lexicon pronunciations (indices) through ``logp``.

    A word loop over every pronunciation, with optional silence (phone ``sil_id``) before, between
    and after words and a log-penalty per word (fewer spurious short words; -32 gave the lowest
    WER of -8/-16/-32 on the embedded corpus' dev originals, 0.03, and reconstructions); Viterbi
    with word-level backpointers. No word boundaries are given, unlike :func:`identify_words`.
    """
    t_len = logp.shape[0]
    if t_len == 0:
        return []
    # one flat array of states, each pronunciation's phones contiguous (no -1 padding to carry: 2.9x
    # faster than a [P, K] grid on the quickstart's lexicon, the same words)
    firsts = np.concatenate([[0], np.cumsum(lex.lengths)[:-1]]).astype(np.int64)
    lasts = firsts + lex.lengths - 1
    phone_of_state = lex.ids[lex.ids >= 0]
    emit_all = logp[:, phone_of_state]  # [T, S]
    delta = np.full(phone_of_state.size, -np.inf)
    start = np.zeros(phone_of_state.size, dtype=np.int64)
    moved, moved_start = np.empty_like(delta), np.empty_like(start)
    end_word = np.zeros(t_len, dtype=np.int64)  # best pronunciation ending at t, its start frame, score
    end_start = np.zeros(t_len, dtype=np.int64)
    end_score = np.full(t_len, -np.inf)
    sil = np.full(t_len, -np.inf)  # best path at t that is in silence
    sil_from_end = np.zeros(t_len, dtype=bool)
    entry_from_end = np.zeros(t_len, dtype=bool)  # how a word starting at t was entered
    for t in range(t_len):
        if t == 0:
            entry, from_end = 0.0, False
            sil[0] = logp[0, sil_id]
        else:
            from_end = end_score[t - 1] > sil[t - 1]
            entry = max(end_score[t - 1], sil[t - 1]) + word_penalty
            sil_from_end[t] = from_end
            sil[t] = max(end_score[t - 1], sil[t - 1]) + logp[t, sil_id]
        entry_from_end[t] = from_end
        moved[1:], moved_start[1:] = delta[:-1], start[:-1]  # stay on a phone or move to the next
        moved[firsts], moved_start[firsts] = entry, t  # a first phone is entered from outside the word
        adv = moved > delta
        np.copyto(delta, moved, where=adv)
        np.copyto(start, moved_start, where=adv)
        delta += emit_all[t]
        ends = delta[lasts]
        w = int(np.argmax(ends))
        end_word[t], end_start[t], end_score[t] = w, start[lasts[w]], ends[w]
    words: list[int] = []
    t, in_word = t_len - 1, end_score[-1] >= sil[-1]
    while t >= 0:
        if in_word:
            words.append(int(end_word[t]))
            s = int(end_start[t])
            in_word, t = bool(entry_from_end[s]), s - 1
        else:
            in_word, t = bool(sil_from_end[t]), t - 1
    return words[::-1]


def word_errors(ref: list[str], hyp: list[int], lex: Lexicon) -> int:
    """Levenshtein distance between spoken words and decoded pronunciations (a homophone matches)."""
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r not in lex.words[h]))
    return int(d[-1])


class CorpusRecognizer:
    """An offline ASR judge for a corpus with word/phone alignments (the embedded one): the phone
    recogniser + the corpus lexicon + :func:`decode_words`. Closed vocabulary: words the corpus never
    says cannot be recognised. ``audiolm eval --set asr_judge=corpus:CORPUS_DIR`` uses it."""

    def __init__(self, recognizer, lex: Lexicon, name: str = "corpus") -> None:
        self.recognizer, self.lex, self.name = recognizer, lex, name

    @classmethod
    def from_corpus(cls, corpus_dir, *, hidden: int = 128, steps: int = 300, seed: int = 1) -> "CorpusRecognizer":
        """Load (or first train, cached in ``CORPUS_DIR/.judge/`` under its settings) the recogniser
        of ``cuts_train``; the lexicon holds the pronunciations of every split's alignments.

        Hidden 128 / 300 steps: on the quickstart's held-out voices as good as hidden 192 / 600
        steps (WER on real recordings 0.53 vs 0.57, on codec resyntheses 0.72 vs 0.77, 100
        utterances) in a third of the training time (113 s vs 363 s on one thread); the bigger
        one fits the training voices closer (frame accuracy 0.93 vs 0.89) and generalises no better.
        """
        from pathlib import Path

        from lhotse import CutSet

        from .teachers import PhoneTeacher, train_phone_teacher

        corpus_dir = Path(corpus_dir)
        splits = [corpus_dir / f"cuts_{s}.jsonl.gz" for s in ("train", "dev", "test")]
        if not splits[0].is_file():
            raise FileNotFoundError(f"corpus ASR judge: no {splits[0]} (a folder from `audiolm prepare synth`)")
        train = list(CutSet.from_file(splits[0]))
        cache = corpus_dir / ".judge" / f"phone_recognizer-h{hidden}-s{steps}-seed{seed}.pt"
        if not cache.is_file():
            train_phone_teacher(train, 16000, cache, hidden=hidden, steps=steps, seed=seed)
        rec = PhoneTeacher.load(cache)
        others = [c for f in splits[1:] if f.is_file() for c in CutSet.from_file(f)]
        return cls(rec, Lexicon.from_cuts(train + others, rec.phones), name=f"corpus:{corpus_dir}")

    def transcribe(self, wavs, sample_rate: int) -> list[str]:
        out = []
        for wav in wavs:
            wav = np.asarray(wav, dtype=np.float32).reshape(-1)
            if wav.size < sample_rate // 50:
                out.append("")
                continue
            hyp = decode_words(phone_log_posteriors(self.recognizer, wav, sample_rate), self.lex)
            out.append(" ".join(self.lex.spelling(h) for h in hyp))
        return out
