"""Linguistic material of the offline benchmarks: pseudowords, grammatical minimal pairs, stories.

Everything is drawn from small embedded word lists with a seeded ``numpy`` generator, so a
build is reproducible. Words are common English words (the kind the embedded training corpus
uses); :func:`training_lexicon` adds the words of ``audiolm.data.sentences`` when that module is
there, so pseudowords are checked against everything the models can have read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------
# a small grammar lexicon (singular, plural) / (3sg, base, past, past participle)

NOUNS = [
    ("dog", "dogs"), ("cat", "cats"), ("boy", "boys"), ("girl", "girls"), ("teacher", "teachers"),
    ("doctor", "doctors"), ("farmer", "farmers"), ("student", "students"), ("child", "children"),
    ("man", "men"), ("woman", "women"), ("friend", "friends"), ("driver", "drivers"), ("baker", "bakers"),
    ("singer", "singers"), ("neighbor", "neighbors"), ("horse", "horses"), ("bird", "birds"),
    ("king", "kings"), ("queen", "queens"), ("sister", "sisters"), ("brother", "brothers"),
    ("pilot", "pilots"), ("writer", "writers"), ("player", "players"), ("nurse", "nurses"),
]
THINGS = [
    ("book", "books"), ("apple", "apples"), ("letter", "letters"), ("chair", "chairs"), ("door", "doors"),
    ("window", "windows"), ("cup", "cups"), ("box", "boxes"), ("car", "cars"), ("ball", "balls"),
    ("picture", "pictures"), ("key", "keys"), ("bottle", "bottles"), ("table", "tables"), ("song", "songs"),
    ("story", "stories"), ("house", "houses"), ("bag", "bags"), ("coat", "coats"), ("shoe", "shoes"),
]
# transitive verbs: (3sg present, base, past, past participle)
TRANSITIVE = [
    ("sees", "see", "saw", "seen"), ("takes", "take", "took", "taken"), ("finds", "find", "found", "found"),
    ("likes", "like", "liked", "liked"), ("wants", "want", "wanted", "wanted"), ("holds", "hold", "held", "held"),
    ("opens", "open", "opened", "opened"), ("carries", "carry", "carried", "carried"),
    ("breaks", "break", "broke", "broken"), ("writes", "write", "wrote", "written"),
    ("draws", "draw", "drew", "drawn"), ("buys", "buy", "bought", "bought"), ("brings", "bring", "brought", "brought"),
    ("eats", "eat", "ate", "eaten"), ("hides", "hide", "hid", "hidden"), ("throws", "throw", "threw", "thrown"),
]
# intransitive verbs (no direct object): (3sg, base, past)
INTRANSITIVE = [
    ("sleeps", "sleep", "slept"), ("arrives", "arrive", "arrived"), ("laughs", "laugh", "laughed"),
    ("smiles", "smile", "smiled"), ("falls", "fall", "fell"), ("waits", "wait", "waited"),
    ("sneezes", "sneeze", "sneezed"), ("cries", "cry", "cried"), ("yawns", "yawn", "yawned"),
    ("disappears", "disappear", "disappeared"), ("hurries", "hurry", "hurried"), ("sighs", "sigh", "sighed"),
]
ADJECTIVES = ["old", "small", "happy", "quiet", "tall", "young", "busy", "kind", "clever", "tired", "brave", "lazy"]
PLACES = ["in the garden", "at the station", "near the river", "in the kitchen", "at school", "in the park",
          "by the window", "on the farm", "in the city", "at the market"]
NAMES_M = ["Tom", "Jack", "Peter", "David", "Sam", "Paul", "Mark", "Henry", "Leo", "Max"]
NAMES_F = ["Anna", "Mary", "Lucy", "Emma", "Sarah", "Kate", "Julia", "Grace", "Laura", "Nina"]

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
    words = set(english_words()) | set(COMMON_WORDS) | {w for pair in NOUNS + THINGS for w in pair}
    words |= {w for v in TRANSITIVE + INTRANSITIVE for w in v} | set(ADJECTIVES)
    words |= {w.lower() for w in NAMES_M + NAMES_F}
    words |= {w for p in PLACES for w in p.split()}
    words |= corpus_words()
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


def wuggy_pairs(n: int, rng: np.random.Generator) -> list[dict]:
    """``n`` (word, pseudoword) pairs; words are reused only when ``n`` exceeds the list."""
    lexicon = training_lexicon()
    # real words: those of the embedded training corpus when there are enough, else the embedded list
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
# grammatical minimal pairs


@dataclass
class MinimalPair:
    good: list[str]
    bad: list[str]
    phenomenon: str
    diff: list[int] = field(default_factory=list)  # word positions where good and bad differ

    @property
    def good_text(self) -> str:
        return _sentence(self.good)

    @property
    def bad_text(self) -> str:
        return _sentence(self.bad)


def _sentence(words: list[str]) -> str:
    s = " ".join(words)
    return s[0].upper() + s[1:] + "."


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _np(rng, plural: bool, animate: bool = True, adj: bool | None = None) -> list[str]:
    noun = _pick(rng, NOUNS if animate else THINGS)[1 if plural else 0]
    words = ["the"]
    if adj if adj is not None else rng.random() < 0.4:
        words.append(_pick(rng, ADJECTIVES))
    return words + [noun]


def _pair(good: list[str], bad: list[str], phenomenon: str) -> MinimalPair:
    assert len(good) == len(bad)
    diff = [i for i, (a, b) in enumerate(zip(good, bad)) if a != b]
    return MinimalPair(good, bad, phenomenon, diff)


def _agreement_simple(rng):
    plural = bool(rng.random() < 0.5)
    subj = _np(rng, plural)
    v = _pick(rng, INTRANSITIVE)
    good_v, bad_v = (v[1], v[0]) if plural else (v[0], v[1])
    tail = _pick(rng, PLACES).split()
    return _pair(subj + [good_v] + tail, subj + [bad_v] + tail, "subject_verb_agreement")


def _agreement_attractor(rng):
    plural = bool(rng.random() < 0.5)
    subj = _np(rng, plural, adj=False)
    attractor = ["near", "the"] + [_pick(rng, THINGS)[0 if plural else 1]]  # opposite number
    v = _pick(rng, INTRANSITIVE)
    good_v, bad_v = (v[1], v[0]) if plural else (v[0], v[1])
    return _pair(subj + attractor + [good_v], subj + attractor + [bad_v], "agreement_across_phrase")


def _determiner_noun(rng):
    plural = bool(rng.random() < 0.5)
    noun = _pick(rng, THINGS)
    det_good, det_bad = (("these", "this") if plural else ("this", "these")) if rng.random() < 0.5 else (
        ("those", "that") if plural else ("that", "those"))
    subj = _np(rng, bool(rng.random() < 0.5))
    v = _pick(rng, TRANSITIVE)[2]
    good = subj + [v, det_good, noun[1 if plural else 0]]
    bad = subj + [v, det_bad, noun[1 if plural else 0]]
    return _pair(good, bad, "determiner_noun_agreement")


def _argument_structure(rng):
    subj = _np(rng, bool(rng.random() < 0.5))
    obj = _np(rng, bool(rng.random() < 0.5), animate=False)
    vt = _pick(rng, TRANSITIVE)[2]
    vi = _pick(rng, INTRANSITIVE)[2]
    return _pair(subj + [vt] + obj, subj + [vi] + obj, "argument_structure")


def _irregular_past(rng):
    subj = _np(rng, bool(rng.random() < 0.5))
    irregular = [v for v in TRANSITIVE if v[2] != v[3]]
    v = _pick(rng, irregular)
    obj = _np(rng, bool(rng.random() < 0.5), animate=False)
    return _pair(subj + [v[2]] + obj, subj + [v[3]] + obj, "irregular_past_form")


def _anaphor(rng):
    female = bool(rng.random() < 0.5)
    name = _pick(rng, NAMES_F if female else NAMES_M)
    v = _pick(rng, ["saw", "liked", "found", "hid"])
    good, bad = ("herself", "himself") if female else ("himself", "herself")
    return _pair([name, v, good], [name, v, bad], "anaphor_gender_agreement")


_GENDERED = {"boy": "himself", "man": "himself", "king": "himself", "brother": "himself",
             "girl": "herself", "woman": "herself", "queen": "herself", "sister": "herself"}


def _anaphor_number(rng):
    noun = _pick(rng, sorted(_GENDERED))
    plural = bool(rng.random() < 0.5)
    v = _pick(rng, ["saw", "liked", "found", "hid"])
    if plural:
        plural_noun = dict(NOUNS)[noun]
        subj, good, bad = ["the", plural_noun], "themselves", _GENDERED[noun]
    else:
        subj, good, bad = ["the", noun], _GENDERED[noun], "themselves"
    return _pair(subj + [v, good], subj + [v, bad], "anaphor_number_agreement")


PHENOMENA = {
    "subject_verb_agreement": _agreement_simple,
    "agreement_across_phrase": _agreement_attractor,
    "determiner_noun_agreement": _determiner_noun,
    "argument_structure": _argument_structure,
    "irregular_past_form": _irregular_past,
    "anaphor_gender_agreement": _anaphor,
    "anaphor_number_agreement": _anaphor_number,
}


def blimp_pairs(n: int, rng: np.random.Generator) -> list[MinimalPair]:
    """``n`` minimal pairs, phenomena in turn, no duplicate sentence pair."""
    names = list(PHENOMENA)
    out, seen = [], set()
    k = guard = 0
    while len(out) < n and guard < 100 * n + 100:
        guard += 1
        p = PHENOMENA[names[k % len(names)]](rng)
        key = (p.good_text, p.bad_text)
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
        k += 1
    return out


# --------------------------------------------------------------------------------------------
# neutral sentences (for the acoustic tasks and the speech set), sentiment sentences, sounds


def neutral_sentence(rng: np.random.Generator) -> str:
    plural = bool(rng.random() < 0.5)
    subj = _np(rng, plural)
    if rng.random() < 0.5:
        v = _pick(rng, TRANSITIVE)[2]
        words = subj + [v] + _np(rng, bool(rng.random() < 0.5), animate=False) + _pick(rng, PLACES).split()
    else:
        v = _pick(rng, INTRANSITIVE)[2]
        words = subj + [v] + _pick(rng, PLACES).split() + ["this", _pick(rng, ["morning", "evening", "afternoon"])]
    return _sentence(words)


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

# --------------------------------------------------------------------------------------------
# stories (StoryCloze-like) and multiple-choice continuations (HellaSwag-like)

# each schema: four context sentences and the right ending, with {name}, {he}, {his}
STORY_SCHEMAS = [
    ("{name} was very hungry after work.", "{He} went into the kitchen.", "{He} opened the fridge.",
     "{He} found some bread and cheese.", "{He} made a sandwich and ate it."),
    ("{name} wanted to learn the guitar.", "{He} bought a cheap guitar.", "{He} practiced every evening.",
     "After a few months {he} could play some songs.", "{He} played a song for {his} friends."),
    ("{name} woke up late on Monday.", "{He} jumped out of bed.", "{He} ran to the bus stop.",
     "The bus had already left.", "{He} had to walk to work."),
    ("{name} planted some seeds in the spring.", "{He} watered them every day.", "Small green shoots came up.",
     "By the summer the plants were tall.", "{He} picked fresh tomatoes from {his} garden."),
    ("It started to rain while {name} was walking.", "{He} had forgotten {his} umbrella.", "{He} ran to find shelter.",
     "{He} waited under a tree.", "When the rain stopped {he} walked home."),
    ("{name} found a lost puppy in the street.", "The puppy looked cold and hungry.", "{He} took it home.",
     "{He} gave it some food and water.", "The puppy fell asleep on {his} bed."),
    ("{name} had a big exam on Friday.", "{He} studied every night that week.", "On Friday {he} felt ready.",
     "The questions were not too hard.", "{He} passed the exam with a good grade."),
    ("{name} decided to bake a cake.", "{He} mixed flour, eggs and sugar.", "{He} put the cake in the oven.",
     "Soon the kitchen smelled sweet.", "{He} shared the cake with {his} family."),
    ("{name} wanted to go to the beach.", "{He} packed a towel and some food.", "{He} drove to the coast.",
     "The sun was shining over the sea.", "{He} swam in the water all afternoon."),
    ("{name} lost {his} keys on the way home.", "{He} searched all of {his} pockets.", "{He} walked back along the street.",
     "{He} looked carefully on the ground.", "{He} found the keys near the bus stop."),
    ("{name} got a new bicycle for {his} birthday.", "{He} was excited to ride it.", "{He} rode it to the park.",
     "{He} went faster and faster.", "{He} rode home happy and tired."),
    ("{name} felt sick one morning.", "{He} had a fever and a headache.", "{He} called the doctor.",
     "The doctor told {him} to rest.", "{He} stayed in bed for two days."),
    ("{name} wanted to paint {his} room.", "{He} chose a light blue color.", "{He} moved the furniture away.",
     "{He} painted the walls carefully.", "The room looked fresh and bright."),
    ("{name} went fishing with {his} father.", "They sat by the lake at dawn.", "They waited quietly for hours.",
     "Finally the line began to move.", "{He} caught a big fish."),
    ("{name} saw a poster for a concert.", "{His} favorite band was playing.", "{He} bought two tickets.",
     "{He} invited {his} best friend.", "They sang along to every song."),
    ("{name} needed money for a trip.", "{He} found a job at a cafe.", "{He} worked there all summer.",
     "{He} saved most of {his} wages.", "In the autumn {he} went on the trip."),
]


def _fill(s: str, name: str, female: bool) -> str:
    he, him, his = ("she", "her", "her") if female else ("he", "him", "his")
    return s.format(name=name, he=he, He=he.capitalize(), him=him, his=his, His=his.capitalize())


def stories(n: int, rng: np.random.Generator) -> list[dict]:
    """``n`` stories: ``{"context": [4 sentences], "right": str, "wrong": str}``; wrong = another schema's ending."""
    out = []
    for i in range(n):
        k = int(rng.integers(len(STORY_SCHEMAS)))
        other = int(rng.integers(len(STORY_SCHEMAS) - 1))
        other += other >= k
        female = bool(rng.random() < 0.5)
        name = _pick(rng, NAMES_F if female else NAMES_M)
        sch, oth = STORY_SCHEMAS[k], STORY_SCHEMAS[other]
        out.append({"context": [_fill(s, name, female) for s in sch[:4]], "right": _fill(sch[4], name, female),
                    "wrong": _fill(oth[4], name, female), "schema": k})
    return out


def multiple_choice(n: int, rng: np.random.Generator, n_choices: int = 4) -> list[dict]:
    """HellaSwag-like: context = the first 1..3 sentences of a story, endings = its next sentence
    and the sentences at the same position in ``n_choices - 1`` other stories (same character)."""
    out = []
    for i in range(n):
        k = int(rng.integers(len(STORY_SCHEMAS)))
        c = int(rng.integers(1, 4))  # context sentences 0..c-1, right ending = sentence c
        female = bool(rng.random() < 0.5)
        name = _pick(rng, NAMES_F if female else NAMES_M)
        sch = STORY_SCHEMAS[k]
        ctx = " ".join(_fill(sch[j], name, female) for j in range(c))
        others = [j for j in range(len(STORY_SCHEMAS)) if j != k]
        picks = rng.choice(len(others), size=n_choices - 1, replace=False)
        wrong = [_fill(STORY_SCHEMAS[others[int(j)]][c], name, female) for j in picks]
        answer = int(rng.integers(n_choices))
        endings = wrong[:answer] + [_fill(sch[c], name, female)] + wrong[answer:]
        out.append({"context": ctx, "endings": endings, "answer": answer, "schema": k})
    return out
