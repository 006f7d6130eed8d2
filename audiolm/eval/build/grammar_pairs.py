"""Grammatical minimal pairs from the corpus grammar (``audiolm.data.sentences``), BLiMP-style.

Each pair is a held-out sentence of the training grammar and a copy with exactly one word
changed, so that the change breaks a rule the corpus itself follows everywhere:

- ``subject_verb_agreement``: is/are, was/were, has/have, sees/see after a plain subject;
- ``agreement_across_phrase``: the same after a subject with a prepositional modifier whose noun
  has the other number ("the cook near the horses is ..."), a construction the corpus uses;
- ``determiner_noun_agreement``: this/these, that/those before a singular or plural noun;
- ``anaphor_gender_agreement``: himself/herself after a named or gendered subject;
- ``anaphor_number_agreement``: themselves vs himself/herself after a plural or singular subject;
- ``indefinite_article``: a/an before a consonant or vowel sound;
- ``irregular_participle``: has taken vs has took, and took vs taken (half each, so that
  preferring the commoner form is worth nothing).

The changed word stands at the same position with the same number of words, so a model cannot
win by length; both members are scored by the sum of their log-probs (BLiMP's rule). Pairs are
drawn from a generator seeded away from the corpus seeds and any sentence in ``exclude`` (the
training transcripts and text) is drawn again, so no benchmark sentence was seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from audiolm.data.sentences import (
    GENDERED_PERSONS,
    OBJECTS,
    REFLEXIVE_VERBS,
    SentenceGenerator,
    Verb,
    _es,
    article,
    demonstrative,
    reflexive,
)

# Seeds of the benchmark generators start here: far from the corpus seeds (0.., 7_919.., 104_729..).
HELD_OUT_SEED = 1_000_003


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


def _pair(good: str, bad: str, phenomenon: str) -> MinimalPair:
    g, b = good.split(), bad.split()
    if len(g) != len(b):
        raise AssertionError(f"{phenomenon}: {good!r} / {bad!r} differ in length")
    diff = [i for i, (x, y) in enumerate(zip(g, b)) if x != y]
    if len(diff) != 1:
        raise AssertionError(f"{phenomenon}: {good!r} / {bad!r} must differ in one word")
    return MinimalPair(g, b, phenomenon, diff)


_OTHER_AGR = {"3sg": "pl", "pl": "3sg"}
_AGREEMENT_TENSES = ("present", "present_progressive", "past_progressive", "present_perfect")


def _predicate(g: SentenceGenerator, agr: str, tense: str) -> tuple[str, str, str]:
    """(good verb group, bad verb group, rest) for a subject of agreement ``agr``: the first word
    of the verb group is the one that agrees (is/are, was/were, has/have, sees/see)."""
    kind = g.choice(["trans", "trans", "intrans", "motion"])
    if kind == "intrans":
        verb, rest = g.choice(g.lex.verbs["intrans person"]), g.tail(tense).strip()
    elif kind == "motion":
        verb, rest = g.choice(g.lex.verbs["motion"]), "to " + g.place_phrase(with_prep=False)
    else:
        frame = g.choice([f for f in g.lex.verbs if f.startswith("trans") and f != "trans place"])
        verb, rest = g.choice(g.lex.verbs[frame]), g.object_of(frame)
    good, bad = g.conjugate(verb, agr, tense), g.conjugate(verb, _OTHER_AGR[agr], tense)
    return good, bad, rest


def subject_verb_agreement(g: SentenceGenerator) -> MinimalPair:
    text, agr = g.noun_phrase(g.choice(["person", "person", "animal"]), adj_prob=0.3, possessor="")
    good, bad, rest = _predicate(g, agr, g.choice(_AGREEMENT_TENSES))
    return _pair(f"{text} {good} {rest}", f"{text} {bad} {rest}", "subject_verb_agreement")


def agreement_across_phrase(g: SentenceGenerator) -> MinimalPair:
    text, agr = g.noun_phrase(g.choice(["person", "animal"]), adj_prob=0.0, possessor="", definite=True)
    mod = g.modifier(number="pl" if agr == "3sg" else "sg")  # the attractor has the other number
    good, bad, rest = _predicate(g, agr, g.choice(_AGREEMENT_TENSES))
    return _pair(f"{text} {mod} {good} {rest}", f"{text} {mod} {bad} {rest}", "agreement_across_phrase")


def determiner_noun_agreement(g: SentenceGenerator) -> MinimalPair:
    subj = g.person_subject()
    frame = g.choice(["trans portable", "trans readable", "trans container", "trans clothing", "trans fixable"])
    verb = g.choice(g.lex.verbs[frame])
    noun = g.noun(OBJECTS[frame], countable=True)
    number = g.choice(["sg", "pl"])
    near = g.p(0.5)
    good_det, bad_det = demonstrative(number, near), demonstrative("sg" if number == "pl" else "pl", near)
    head = f"{subj.text} {g.conjugate(verb, subj.agr, 'past')}"
    tail = g.tail("past")
    return _pair(f"{head} {good_det} {noun.form(number)}{tail}", f"{head} {bad_det} {noun.form(number)}{tail}",
                 "determiner_noun_agreement")


def _reflexive_pair(g: SentenceGenerator, want: str) -> MinimalPair:
    for _ in range(100):
        subj, agr, gender = g.gendered_subject()
        if want == "gender" and agr == "3sg" and gender in ("female", "male"):
            other = reflexive("3sg", "male" if gender == "female" else "female")
            break
        if want == "number" and agr == "3sg" and gender in ("female", "male"):
            other = "themselves"
            break
        if want == "number" and agr == "pl" and gender == "":
            g_of = _plural_gender(g, subj.split()[-1])
            if g_of:  # a plural gendered noun: the wrong reflexive is its singular
                other = reflexive("3sg", g_of)
                break
    else:
        raise RuntimeError("could not draw a subject for a reflexive pair")
    tense = g.choice(["past", "past", "present_perfect", "future"])
    base, past, part, ing = g.choice(REFLEXIVE_VERBS)
    vg = g.conjugate(Verb(base, _es(base), past, part, ing, "reflexive"), agr, tense)
    tail = g.tail(tense)
    right = reflexive(agr, gender)
    return _pair(f"{subj} {vg} {right}{tail}", f"{subj} {vg} {other}{tail}", f"anaphor_{want}_agreement")


def _plural_gender(g: SentenceGenerator, noun: str) -> str:
    for gender, singulars in GENDERED_PERSONS.items():
        if any(n.plural == noun for n in g.lex.nouns["person"] if n.singular in singulars):
            return gender
    return ""


def anaphor_gender_agreement(g: SentenceGenerator) -> MinimalPair:
    return _reflexive_pair(g, "gender")


def anaphor_number_agreement(g: SentenceGenerator) -> MinimalPair:
    return _reflexive_pair(g, "number")


def indefinite_article(g: SentenceGenerator) -> MinimalPair:
    subj = g.person_subject()
    frame = g.choice(["trans portable", "trans readable", "trans container", "trans clothing", "trans fixable", "trans animal"])
    verb = g.choice(g.lex.verbs[frame])
    want_vowel = g.p(0.5)  # half the pairs test "an", half "a"
    for _ in range(200):
        n = g.noun(OBJECTS[frame], countable=True)
        adj = g.adjective(n.cls) + " " if g.p(0.3) else ""
        head = adj + n.singular
        if (article(head) == "an") == want_vowel:
            break
    good_art = article(head)
    bad_art = "a" if good_art == "an" else "an"
    pre = f"{subj.text} {g.conjugate(verb, subj.agr, 'past')}"
    tail = g.tail("past")
    return _pair(f"{pre} {good_art} {head}{tail}", f"{pre} {bad_art} {head}{tail}", "indefinite_article")


def irregular_participle(g: SentenceGenerator) -> MinimalPair:
    """has taken / has took, and (half the pairs) took / taken after a plain subject: the corrupt
    form is the past in one half and the participle in the other, so a model that merely prefers
    the commoner form (the past) scores 0.5, not 0 or 1."""
    frames = [f for f in g.lex.verbs if f.startswith("trans") and f != "trans place"]
    for _ in range(500):
        frame = g.choice(frames)
        verb = g.choice(g.lex.verbs[frame])
        if verb.participle != verb.past and " " not in verb.participle:
            break
    subj = g.person_subject()
    obj = g.object_of(frame)
    if g.p(0.5):
        aux = "has" if subj.agr == "3sg" else "have"
        return _pair(f"{subj.text} {aux} {verb.participle} {obj}", f"{subj.text} {aux} {verb.past} {obj}",
                     "irregular_participle")
    return _pair(f"{subj.text} {verb.past} {obj}", f"{subj.text} {verb.participle} {obj}", "irregular_participle")


PHENOMENA: dict[str, Callable[[SentenceGenerator], MinimalPair]] = {
    "subject_verb_agreement": subject_verb_agreement,
    "agreement_across_phrase": agreement_across_phrase,
    "determiner_noun_agreement": determiner_noun_agreement,
    "anaphor_gender_agreement": anaphor_gender_agreement,
    "anaphor_number_agreement": anaphor_number_agreement,
    "indefinite_article": indefinite_article,
    "irregular_participle": irregular_participle,
}


def blimp_pairs(n: int, seed: int = 0, exclude: set[str] | frozenset = frozenset()) -> list[MinimalPair]:
    """``n`` minimal pairs, phenomena in turn, no duplicate pair, neither sentence in ``exclude``."""
    g = SentenceGenerator(HELD_OUT_SEED + seed)
    names = list(PHENOMENA)
    out, seen = [], set()
    k = guard = 0
    while len(out) < n and guard < 100 * n + 100:
        guard += 1
        p = PHENOMENA[names[k % len(names)]](g)
        key = (p.good_text, p.bad_text)
        if key in seen or p.good_text in exclude or p.bad_text in exclude:
            continue
        seen.add(key)
        out.append(p)
        k += 1
    return out
