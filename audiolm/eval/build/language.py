"""Linguistic material of the offline benchmarks: pseudowords and the SALMon sentences.

Minimal pairs (:mod:`audiolm.eval.build.grammar_pairs`) and stories (:mod:`audiolm.data.stories`)
come from the corpus grammar itself, so every benchmark tests what the corpus can teach. Real
words for (s/t)WUGGY are words of the training transcripts; pseudowords are checked against the
CMU dictionary and the corpus lexicon (:func:`training_lexicon`). Seeded ``numpy`` generators
make every build reproducible.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------
# words for sWUGGY: common, 1-3 syllables, lower case letters only

COMMON_WORDS = """
about above across after again against almost alone along already always among animal answer
apple around arrive autumn baby back bake ball banana basket beach bear beautiful because become
bed before begin behind believe bell belong below beside better between bicycle big bird birthday
black blanket blue boat body bone book bottle bottom bread break breakfast bridge bright bring
brother brown build butter button cabin cake camera candle capital captain careful carpet carry
castle cattle center chair chance change cheese chicken child chocolate circle city clean clever
climb clock close cloud coffee cold color common corner cotton country cover cream cricket crowd
cup curtain dance danger daughter dinner doctor dollar donkey door double dragon dream dress drink
driver early earth easy eleven empty engine enough evening every family famous farmer father
feather fellow field finger finish fire fish flower follow forest forget forward friend frozen
garden gentle giant ginger glass golden grass great green ground guitar hammer happy harbor heavy
hello hidden hollow honey horse hospital hotel house hungry hunter island jacket kettle kitchen
kitten ladder language lemon letter library listen little lizard market master meadow middle
minute mirror moment money monkey morning mother mountain music narrow nature needle never
number ocean orange paper parent party pencil people pepper person picture pillow planet pocket
police potato pretty problem pumpkin puppy question quiet rabbit rain river robot rocket garden
saddle sailor salad sister silver simple singer skirt soldier spider spirit spring square station
stone story street strong student summer sunday supper table teacher thunder ticket tiger timber
today tomato tomorrow tower travel tunnel turtle uncle under valley village visit wagon walnut
water weather window winter wizard wonder yellow yesterday zebra
""".split()

MIN_WORD_POOL = 50
log = logging.getLogger("audiolm")
_VOWELS = "aeiouy"
_SEG = re.compile(r"[aeiouy]+|[^aeiouy]+")


def segments(word: str) -> list[str]:
    """Letters split into alternating vowel / consonant clusters (``"garden"`` -> g|a|rd|e|n)."""
    return _SEG.findall(word)


def _seg_kind(segs: list[str], i: int) -> str:
    v = segs[i][0] in _VOWELS
    if v:
        return "V"
    return "onset" if i == 0 else ("coda" if i == len(segs) - 1 else "medial")


def segment_inventory(words) -> dict[str, list[str]]:
    inv: dict[str, set] = {"V": set(), "onset": set(), "coda": set(), "medial": set()}
    for w in words:
        s = segments(w)
        for i in range(len(s)):
            inv[_seg_kind(s, i)].add(s[i])
    return {k: sorted(v) for k, v in inv.items()}


def make_pseudoword(word: str, rng: np.random.Generator, lexicon: set[str], inventory: dict, tries: int = 200) -> str | None:
    """Wuggy-style: replace sub-syllabic segments of ``word`` by segments of the same kind and length.

    Keeps the letter length and the vowel/consonant skeleton of the word (so the pseudoword is
    phonotactically plausible and length-matched); at least one segment changes (two for words of
    four or more segments). Returns None when no new pseudoword is found.
    """
    segs = segments(word)
    n_change = 1 if len(segs) < 4 else 2
    for _ in range(tries):
        out = list(segs)
        pos = rng.choice(len(segs), size=min(n_change, len(segs)), replace=False)
        for i in pos:
            kind = _seg_kind(segs, int(i))
            cands = [s for s in inventory[kind] if len(s) == len(segs[i]) and s != segs[i]
                     and ("y" not in s or "y" in segs[i])]
            if not cands:
                break
            out[i] = cands[int(rng.integers(len(cands)))]
        cand = "".join(out)
        if cand != word and cand not in lexicon and len(cand) == len(word) and not _awkward(cand):
            return cand
    return None


def _awkward(w: str) -> bool:
    # triple letters, or a long consonant run that English spelling does not allow
    return bool(re.search(r"(.)\1\1", w) or re.search(r"[^aeiouy]{4,}", w) or re.search(r"q(?!u)", w)
                or w.endswith(("q", "j", "v")))


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The ~130k words of the CMU pronouncing dictionary that the ``pocketsphinx`` wheel ships."""
    try:
        import pocketsphinx
    except ImportError:
        return frozenset()
    path = Path(pocketsphinx.__file__).parent / "model" / "en-us" / "cmudict-en-us.dict"
    if not path.is_file():
        return frozenset()
    with open(path, encoding="utf-8", errors="replace") as f:
        return frozenset(line.split(" ", 1)[0].split("(", 1)[0].lower() for line in f if line.strip())


def training_lexicon() -> set[str]:
    """Every word a pseudoword must not be: the CMU dictionary, the embedded lists and
    ``audiolm.data.sentences``' lexicon (when that module provides one)."""
    words = set(english_words()) | set(COMMON_WORDS) | corpus_words()
    try:
        from audiolm.data.sentences import load_lexicon

        words |= load_lexicon().word_types()  # names too
    except Exception:  # noqa: BLE001
        pass
    return words


@lru_cache(maxsize=1)
def corpus_words() -> frozenset[str]:
    """Plain lower-case words of the embedded corpus' lexicon (``audiolm.data.sentences``), names left out."""
    try:
        from audiolm.data.sentences import load_lexicon

        entries = load_lexicon().entries()
    except Exception:  # noqa: BLE001 - without the corpus lexicon the embedded lists are used
        return frozenset()
    out = set()
    for e in entries:
        if e.pos == "name":
            continue
        out.update(w for w in e.form.split() if w.isalpha() and w.islower())
    return frozenset(out)


def wuggy_pairs(n: int, rng: np.random.Generator, word_counts: dict[str, int] | None = None,
                min_count: int = 1) -> list[dict]:
    """``n`` (word, pseudoword) pairs; words are reused only when ``n`` exceeds the list.

    Real words: with ``word_counts`` (occurrences in the training transcripts or text), the words
    seen at least ``min_count`` times — a model can only know a word it heard or read; without
    them, the corpus lexicon (or the embedded list).
    """
    lexicon = training_lexicon()
    if word_counts:
        ranked = sorted((w for w in word_counts if w.isalpha() and w.islower() and 3 <= len(w) <= 9),
                        key=lambda w: (-word_counts[w], w))
        pool = [w for w in ranked if word_counts[w] >= min_count]
        if len(pool) < MIN_WORD_POOL:  # a tiny corpus: its most frequent words
            log.warning("only %d words occur >= %d times in the training text; using its %d most frequent",
                        len(pool), min_count, min(MIN_WORD_POOL, len(ranked)))
            pool = ranked[:MIN_WORD_POOL]
    else:
        pool = corpus_words() if len(corpus_words()) >= 200 else COMMON_WORDS
    base = sorted({w for w in pool if w.isalpha() and 3 <= len(w) <= 9})
    inventory = segment_inventory(base)
    used: set[str] = set()
    out = []
    order = list(rng.permutation(len(base)))
    k = 0
    guard = 0
    while len(out) < n and guard < 50 * n + 1000:
        guard += 1
        word = base[order[k % len(order)]]
        k += 1
        pw = make_pseudoword(word, rng, lexicon | used, inventory)
        if pw is None:
            continue
        used.add(pw)
        out.append({"word": word, "pseudoword": pw})
    return out


# --------------------------------------------------------------------------------------------
# neutral sentences (for the acoustic tasks and the speech set), sentiment sentences, sounds


def neutral_sentence(rng: np.random.Generator) -> str:
    """A plain declarative sentence of the corpus grammar (a clause of 5+ words), drawn from ``rng``."""
    from audiolm.data.sentences import SentenceGenerator

    gen = SentenceGenerator(int(rng.integers(2**31)) + 2_000_003)
    for _ in range(50):
        s = gen.clause("past", kind=gen.choice(["trans", "motion", "give"]))
        if len(s.split()) >= 5:
            break
    return s[:1].upper() + s[1:] + "."


POSITIVE_SENTENCES = [
    "I am so happy to see you again", "This is the best day of my life", "We won the game and everyone cheered",
    "What a wonderful surprise this is", "I love this beautiful sunny morning", "The party was great fun for all of us",
    "My friends gave me a lovely present", "Everything worked out perfectly in the end", "We laughed and danced all night",
    "I finally passed the exam and I feel great", "The garden looks lovely in the spring", "Thank you so much for the kind gift",
]
NEGATIVE_SENTENCES = [
    "I am so sad that you are leaving", "This is the worst day of my life", "We lost the game and everyone cried",
    "My old dog died last night", "I feel lonely and tired all the time", "The trip was ruined by the terrible storm",
    "Nobody came to my birthday party", "Everything went wrong and I lost my job", "I miss my family so much",
    "The doctor said the news was bad", "My best friend does not talk to me anymore", "I broke my leg and cannot walk",
]

# background sound kinds: (domain, sentences mentioning the sound)
SOUNDS = {
    "rain": ("nature", ["The rain kept falling on the roof all night", "Listen to the heavy rain outside",
                        "It is raining hard and the streets are wet"]),
    "wind": ("nature", ["The wind is blowing hard through the trees", "A cold wind howled over the hills",
                        "The strong wind shook the windows"]),
    "birds": ("nature", ["The birds are singing in the trees", "Listen to the little birds in the garden",
                         "Birds were chirping early in the morning"]),
    "waves": ("nature", ["The waves are crashing on the beach", "We sat by the sea and listened to the waves",
                         "The ocean waves rolled onto the sand"]),
    "engine": ("machine", ["The old engine is running loudly", "The truck engine roared in the street",
                           "A motor was humming in the garage"]),
    "siren": ("machine", ["An ambulance siren is wailing outside", "The police car drove past with its siren on",
                          "The fire truck siren was very loud"]),
    "clock": ("machine", ["The clock is ticking on the wall", "I could hear the old clock ticking",
                          "The ticking clock kept me awake"]),
    "bells": ("machine", ["The church bells are ringing", "The bells rang out across the town",
                          "We heard the bells ringing at noon"]),
}

