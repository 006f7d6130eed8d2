"""Offline English text: a deterministic grammar over a small hand-written lexicon.

No download, no data set: ``resources/lexicon.txt`` (about 1,100 lemmas with parts of speech,
semantic classes, noun number and verb forms) and the templates below generate plain,
grammatical English sentences ("The tall farmer sold two brown horses at the market.") with
subject-verb agreement, selectional restrictions (people read letters, animals chase things,
food is eaten) and short narrative *documents* in which one protagonist acts over several
consecutive sentences. The space of sentences is practically unbounded; a few thousand draws
already cover more than 2,000 word types.

Public pieces (the benchmark builders use them for minimal pairs and pseudowords):

- :func:`load_lexicon` -> :class:`Lexicon` with nouns (singular/plural/mass), verbs (base, 3sg,
  past, participle, -ing), adjectives, adverbs, places, time phrases and names; ``Lexicon.entries()``
  lists every word form with its part of speech and features.
- :class:`SentenceGenerator` (``seed``): ``sentence()``, ``document(n)``, ``noun_phrase(...)``,
  ``conjugate(...)``, ``clause(...)``.
- :func:`generate_sentences(n, seed)` -> n distinct sentences; :func:`generate_documents(n, seed)`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

# ---------------------------------------------------------------------------------------------
# Lexicon

VOWELS = "aeiou"


def _es(word: str) -> str:
    """English -s suffix for plural nouns and 3rd person singular verbs."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in VOWELS:
        return word[:-1] + "ies"
    if word in ("go", "do", "echo", "veto"):
        return word + "es"
    return word + "s"


def _past(word: str, double: bool) -> str:
    if double:
        return word + word[-1] + "ed"
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and word[-2] not in VOWELS:
        return word[:-1] + "ied"
    return word + "ed"


def _ing(word: str, double: bool) -> str:
    if double:
        return word + word[-1] + "ing"
    if word.endswith("ie"):
        return word[:-2] + "ying"
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and len(word) > 2:
        return word[:-1] + "ing"
    return word + "ing"


@dataclass(frozen=True)
class Noun:
    singular: str
    plural: str | None  # None: mass noun
    cls: str

    @property
    def mass(self) -> bool:
        return self.plural is None

    def form(self, number: str) -> str:
        return self.plural if number == "pl" and self.plural else self.singular


@dataclass(frozen=True)
class Place:
    prep: str  # preposition for being there: in / at / on / by
    noun: Noun


@dataclass(frozen=True)
class Verb:
    base: str
    s3: str
    past: str
    participle: str
    ing: str
    frame: str  # "intrans person", "trans food", "motion", "give", ...

    def forms(self) -> dict[str, str]:
        return {"base": self.base, "3sg": self.s3, "past": self.past, "participle": self.participle, "ing": self.ing}


@dataclass(frozen=True)
class Entry:
    """One word form of the lexicon (``Lexicon.entries()``)."""

    form: str
    lemma: str
    pos: str  # noun / verb / adj / adv / name / time / place
    cls: str = ""  # semantic class (person, food, ...) or verb frame
    feature: str = ""  # noun: sg / pl / mass; verb: base / 3sg / past / participle / ing; name: female / male


@dataclass
class Lexicon:
    nouns: dict[str, list[Noun]] = field(default_factory=dict)
    places: list[Place] = field(default_factory=list)
    verbs: dict[str, list[Verb]] = field(default_factory=dict)
    adjectives: dict[str, list[str]] = field(default_factory=dict)
    adverbs: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)

    def entries(self) -> list[Entry]:
        out: list[Entry] = []
        for cls, nouns in self.nouns.items():
            for n in nouns:
                if n.mass:
                    out.append(Entry(n.singular, n.singular, "noun", cls, "mass"))
                else:
                    out += [Entry(n.singular, n.singular, "noun", cls, "sg"), Entry(n.plural, n.singular, "noun", cls, "pl")]
        for p in self.places:
            n = p.noun
            out.append(Entry(n.singular, n.singular, "place", p.prep, "sg"))
            if n.plural:
                out.append(Entry(n.plural, n.singular, "place", p.prep, "pl"))
        for frame, verbs in self.verbs.items():
            for v in verbs:
                out += [Entry(f, v.base, "verb", frame, k) for k, f in v.forms().items()]
        for cls, adjs in self.adjectives.items():
            out += [Entry(a, a, "adj", cls) for a in adjs]
        out += [Entry(a, a, "adv", "manner") for a in self.adverbs]
        out += [Entry(t, t, "time") for t in self.times]
        for g, names in self.names.items():
            out += [Entry(n, n, "name", "", g) for n in names]
        return out

    def word_types(self) -> set[str]:
        """Every single (lower-cased) word the lexicon can produce, multiword entries split."""
        types: set[str] = set()
        for e in self.entries():
            types.update(w.lower() for w in e.form.split())
        return types


def _word(token: str) -> str:
    return token.replace("_", " ")


def parse_lexicon(text: str) -> Lexicon:
    lex = Lexicon()
    section: tuple[str, ...] = ()
    seen: set[tuple] = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@"):
            section = tuple(line[1:].split())
            continue
        if not section:
            raise ValueError(f"lexicon line outside a section: {raw!r}")
        kind, rest = section[0], " ".join(section[1:])
        for tok in line.split():
            if (section, tok) in seen:
                continue
            seen.add((section, tok))
            if kind == "noun":
                sg, _, pl = tok.partition("/")
                plural = None if pl == "-" else (_word(pl) if pl else _es(_word(sg)))
                lex.nouns.setdefault(rest, []).append(Noun(_word(sg), plural, rest))
            elif kind == "place":
                prep, _, noun = tok.partition(":")
                sg, _, pl = noun.partition("/")
                plural = None if pl == "-" else (_word(pl) if pl else _es(_word(sg)))
                lex.places.append(Place(prep, Noun(_word(sg), plural, "place")))
            elif kind == "verb":
                parts = tok.split("/")
                base = parts[0]
                double = base.endswith("*")
                base = base.rstrip("*")
                past = parts[1] if len(parts) > 1 else _past(base, double)
                participle = parts[2] if len(parts) > 2 else past
                lex.verbs.setdefault(rest, []).append(Verb(base, _es(base), past, participle, _ing(base, double), rest))
            elif kind == "adj":
                lex.adjectives.setdefault(rest, []).append(tok)
            elif kind == "adv":
                lex.adverbs.append(tok)
            elif kind == "time":
                lex.times.append(_word(tok))
            elif kind == "name":
                lex.names.setdefault(rest, []).append(tok)
            else:
                raise ValueError(f"unknown lexicon section @{' '.join(section)}")
    return lex


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """The packaged lexicon (``audiolm/data/resources/lexicon.txt``)."""
    text = resources.files("audiolm.data").joinpath("resources/lexicon.txt").read_text("utf-8")
    return parse_lexicon(text)


# ---------------------------------------------------------------------------------------------
# Grammar

NUMBERS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"]
PORTABLE = ["container", "readable", "clothing", "tool", "thing", "food"]
FIXABLE = ["furniture", "device", "tool"]
THING_CLASSES = ["container", "readable", "clothing", "tool", "furniture", "device", "thing"]
# verb frame -> object classes
OBJECTS = {
    "trans person": ["person"],
    "trans animal": ["animal"],
    "trans portable": PORTABLE,
    "trans readable": ["readable"],
    "trans container": ["container"],
    "trans clothing": ["clothing"],
    "trans fixable": FIXABLE,
    "trans food": ["food"],
    "trans drink": ["drink"],
}
DEMONSTRATIVE_PROB = 0.1  # share of countable noun phrases with this/that/these/those
MODIFIER_PROB = 0.15  # share of noun-phrase subjects with a prepositional modifier ("the cook near the horses")
MODIFIER_PREPS = ["near", "with", "behind", "beside", "from"]
# verbs that take a reflexive object: base/past/participle/-ing
REFLEXIVE_VERBS = [v.split("/") for v in (
    "hurt/hurt/hurt/hurting", "wash/washed/washed/washing", "dress/dressed/dressed/dressing",
    "blame/blamed/blamed/blaming", "enjoy/enjoyed/enjoyed/enjoying", "introduce/introduced/introduced/introducing",
    "see/saw/seen/seeing", "teach/taught/taught/teaching", "defend/defended/defended/defending",
    "praise/praised/praised/praising")]
# person nouns whose gender English marks (for reflexives: "the queen hurt herself")
GENDERED_PERSONS = {
    "female": ["woman", "girl", "queen", "princess", "mother", "sister", "aunt", "daughter", "wife", "lady",
               "grandmother", "duchess", "niece", "granddaughter"],
    "male": ["man", "boy", "king", "prince", "father", "brother", "uncle", "son", "husband", "gentleman",
             "grandfather", "duke", "nephew", "grandson", "policeman", "fisherman", "postman", "fireman"],
}
REFLEXIVES = {("3sg", "female"): "herself", ("3sg", "male"): "himself", ("pl", ""): "themselves",
              ("1sg", ""): "myself", ("we", ""): "ourselves", ("you", ""): "yourself"}
_AN_EXCEPTIONS_A = ("uni", "use", "usu", "eu", "one", "uro")
_AN_EXCEPTIONS_AN = ("hour", "honest", "honor", "heir")
PRONOUNS = {  # person/number -> (subject, object, possessive)
    ("3", "female"): ("she", "her", "her"),
    ("3", "male"): ("he", "him", "his"),
    ("1", "sg"): ("I", "me", "my"),
    ("1", "pl"): ("we", "us", "our"),
    ("2", ""): ("you", "you", "your"),
    ("3", "pl"): ("they", "them", "their"),
}


def reflexive(agr: str, gender: str) -> str:
    """The reflexive pronoun for a subject's agreement ("3sg"/"1sg"/"pl") and gender ("female"/"male",
    or "we"/"you" for those pronouns, whose agreement is "pl")."""
    if gender in ("we", "you"):
        return REFLEXIVES[(gender, "")]
    if agr == "3sg":
        return REFLEXIVES[("3sg", gender or "male")]
    return REFLEXIVES[(agr, "")] if agr == "1sg" else REFLEXIVES[("pl", "")]


def article(word: str) -> str:
    w = word.lower()
    if w.startswith(_AN_EXCEPTIONS_AN):
        return "an"
    if w.startswith(_AN_EXCEPTIONS_A):
        return "a"
    return "an" if w[:1] in VOWELS else "a"


def demonstrative(number: str, near: bool) -> str:
    """this / that (singular, mass) or these / those (plural)."""
    if number == "pl":
        return "these" if near else "those"
    return "this" if near else "that"


@dataclass(frozen=True)
class Subject:
    text: str
    agr: str  # "3sg" | "1sg" | "pl" (plural, we, you, they)
    gender: str = ""  # for a named protagonist


@dataclass(frozen=True)
class Protagonist:
    name: str
    gender: str

    @property
    def pronoun(self) -> str:
        return "she" if self.gender == "female" else "he"

    @property
    def possessive(self) -> str:
        return "her" if self.gender == "female" else "his"


TENSES = ("past", "present", "future", "past_progressive", "present_perfect", "present_progressive")


class SentenceGenerator:
    """Random grammatical English from the lexicon; deterministic in ``seed``."""

    def __init__(self, seed: int = 0, lexicon: Lexicon | None = None) -> None:
        self.lex = lexicon or load_lexicon()
        self.rng = random.Random(seed)

    # -- small helpers -------------------------------------------------------------------
    def choice(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def p(self, prob: float) -> bool:
        return self.rng.random() < prob

    def noun(self, classes: str | list[str], countable: bool | None = None) -> Noun:
        classes = [classes] if isinstance(classes, str) else classes
        pool = [n for c in classes for n in self.lex.nouns.get(c, [])]
        if countable is not None:
            pool = [n for n in pool if n.mass != countable]
        return self.choice(pool)

    def adjective(self, cls: str) -> str:
        key = {"container": "thing", "readable": "thing", "clothing": "thing", "tool": "thing",
               "furniture": "thing", "device": "thing", "drink": "food"}.get(cls, cls)
        return self.choice(self.lex.adjectives[key])

    def noun_phrase(self, classes: str | list[str], number: str | None = None, definite: bool | None = None,
                    adj_prob: float = 0.35, possessor: str | None = None) -> tuple[str, str]:
        """(text, agreement) for a noun phrase of one of ``classes``; agreement "3sg" or "pl"."""
        n = self.noun(classes)
        if n.mass:
            number = "sg"
        elif number is None:
            number = "pl" if self.p(0.3) else "sg"
        adj = self.adjective(n.cls) + " " if self.p(adj_prob) else ""
        head = adj + n.form(number)
        if possessor is None and self.p(0.12) and n.cls in ("person", "animal", *THING_CLASSES):
            possessor = self.choice(["my", "our", "their", "his", "her", "your"])
        if possessor:
            det = possessor
        elif n.mass:
            det = "the" if (definite or (definite is None and self.p(0.5))) else "some"
        elif self.p(DEMONSTRATIVE_PROB) and definite is not False:
            det = demonstrative(number, self.p(0.5))
        elif number == "pl":
            if definite or (definite is None and self.p(0.45)):
                det = "the"
            else:
                det = self.choice(NUMBERS + ["some", "some", "many", "a few"])
        else:
            det = "the" if (definite or (definite is None and self.p(0.55))) else article(head)
        return f"{det} {head}", ("pl" if number == "pl" else "3sg")

    def place_phrase(self, with_prep: bool = True) -> str:
        pl = self.choice(self.lex.places)
        adj = self.choice(self.lex.adjectives["place"]) + " " if self.p(0.25) else ""
        np_ = f"the {adj}{pl.noun.singular}"
        return f"{pl.prep} {np_}" if with_prep else np_

    def person_subject(self, protagonist: Protagonist | None = None) -> Subject:
        r = self.rng.random()
        if protagonist is not None:
            return Subject(protagonist.name if r < 0.4 else protagonist.pronoun, "3sg", protagonist.gender)
        if r < 0.3:
            g = self.choice(["female", "male"])
            return Subject(self.choice(self.lex.names[g]), "3sg", g)
        if r < 0.42:
            pron = self.choice(["I", "we", "you", "they", "she", "he"])
            return Subject(pron, {"I": "1sg", "she": "3sg", "he": "3sg"}.get(pron, "pl"))
        text, agr = self.noun_phrase("person", adj_prob=0.4)
        if self.p(MODIFIER_PROB):
            text = f"{text} {self.modifier()}"
        return Subject(text, agr)

    def modifier(self, number: str | None = None) -> str:
        """A prepositional modifier of a subject: "near the horses", "with a red hat"."""
        prep = self.choice(MODIFIER_PREPS)
        if prep == "from":
            return f"from {self.place_phrase(with_prep=False)}"
        cls = self.choice(["animal", "person", "container", "tool", "furniture", "thing"])
        return f"{prep} {self.noun_phrase(cls, number=number, definite=True, adj_prob=0.2, possessor='')[0]}"

    def gendered_subject(self, protagonist: Protagonist | None = None) -> tuple[str, str, str]:
        """(text, agreement, gender) of a subject whose gender or number a reflexive must agree with."""
        r = self.rng.random()
        if protagonist is not None and r < 0.5:
            return (protagonist.name if self.p(0.5) else protagonist.pronoun), "3sg", protagonist.gender
        if r < 0.3:
            g = self.choice(["female", "male"])
            return self.choice(self.lex.names[g]), "3sg", g
        if r < 0.45:
            pron = self.choice(["I", "we", "you", "they", "she", "he"])
            return pron, {"I": "1sg", "she": "3sg", "he": "3sg"}.get(pron, "pl"), {"she": "female", "he": "male", "we": "we", "you": "you"}.get(pron, "")
        g = self.choice(["female", "male"])
        noun = self.choice([n for n in self.lex.nouns["person"] if n.singular in GENDERED_PERSONS[g]])
        if self.p(0.35):
            det = "the" if self.p(0.6) else self.choice(["these", "those"])
            return f"{det} {noun.plural}", "pl", ""
        det = "the" if self.p(0.7) else self.choice(["this", "that"])
        return f"{det} {noun.singular}", "3sg", g

    def reflexive_clause(self, tense: str, protagonist: Protagonist | None = None) -> str:
        """"the queen hurt herself": the reflexive agrees with the subject's gender and number."""
        subj, agr, gender = self.gendered_subject(protagonist)
        return f"{subj} {self.reflexive_verb(agr, tense)} {reflexive(agr, gender)}{self.tail(tense)}"

    def reflexive_verb(self, agr: str, tense: str) -> str:
        base, past, part, ing = self.choice(REFLEXIVE_VERBS)
        return self.conjugate(Verb(base, _es(base), past, part, ing, "reflexive"), agr, tense)

    def conjugate(self, verb: Verb, agr: str, tense: str) -> str:
        """Verb group for a subject agreement ("3sg", "1sg", "pl") and a tense in TENSES."""
        be_past = "was" if agr in ("3sg", "1sg") else "were"
        be_pres = {"3sg": "is", "1sg": "am"}.get(agr, "are")
        if tense == "past":
            return verb.past
        if tense == "present":
            return verb.s3 if agr == "3sg" else verb.base
        if tense == "future":
            return "will " + verb.base
        if tense == "past_progressive":
            return f"{be_past} {verb.ing}"
        if tense == "present_progressive":
            return f"{be_pres} {verb.ing}"
        if tense == "present_perfect":
            return ("has " if agr == "3sg" else "have ") + verb.participle
        raise ValueError(f"unknown tense {tense!r}")

    def object_of(self, frame: str) -> str:
        if frame == "trans place":
            return self.place_phrase(with_prep=False)
        return self.noun_phrase(OBJECTS[frame])[0]

    def tail(self, tense: str) -> str:
        """Optional place / manner / time ending."""
        r = self.rng.random()
        if r < 0.25:
            return " " + self.place_phrase()
        if r < 0.38:
            return " " + self.choice(self.lex.adverbs)
        if r < 0.52 and tense in ("past", "future", "past_progressive"):
            return " " + self.time_phrase(tense)
        return ""

    def time_phrase(self, tense: str) -> str:
        past_only = {"yesterday", "yesterday morning", "last night", "last week", "once"}
        future_only = {"tomorrow", "soon", "later"}
        pool = [t for t in self.lex.times
                if not (tense == "future" and t in past_only) and not (tense != "future" and t in future_only)]
        return self.choice(pool)

    # -- clauses -------------------------------------------------------------------------
    def clause(self, tense: str, protagonist: Protagonist | None = None, kind: str | None = None) -> str:
        """One finite clause without final punctuation."""
        kind = kind or self.choice(["trans"] * 5 + ["intrans"] * 2 + ["motion"] * 2 + ["give", "animal", "reflexive"])
        if kind == "reflexive":
            return self.reflexive_clause(tense, protagonist)
        if kind == "animal":
            subj_text, agr = self.noun_phrase("animal", definite=True if self.p(0.6) else None, adj_prob=0.4)
            if self.p(MODIFIER_PROB):
                subj_text = f"{subj_text} {self.modifier()}"
            frame = "intrans animal"
            verb = self.choice(self.lex.verbs[frame])
            return f"{subj_text} {self.conjugate(verb, agr, tense)}{self.tail(tense)}"
        subj = self.person_subject(protagonist)
        if kind == "intrans":
            verb = self.choice(self.lex.verbs["intrans person"])
            return f"{subj.text} {self.conjugate(verb, subj.agr, tense)}{self.tail(tense)}"
        if kind == "motion":
            verb = self.choice(self.lex.verbs["motion"])
            dest = self.place_phrase(with_prep=False)
            end = " " + self.time_phrase(tense) if self.p(0.3) and tense in ("past", "future") else ""
            return f"{subj.text} {self.conjugate(verb, subj.agr, tense)} to {dest}{end}"
        if kind == "give":
            verb = self.choice(self.lex.verbs["give"])
            obj = self.noun_phrase(PORTABLE)[0]
            rec = self.noun_phrase("person", definite=True if self.p(0.5) else None)[0] if self.p(0.7) \
                else self.choice(self.lex.names[self.choice(["female", "male"])])
            return f"{subj.text} {self.conjugate(verb, subj.agr, tense)} {obj} to {rec}"
        frame = self.choice([f for f in self.lex.verbs if f.startswith("trans")])
        verb = self.choice(self.lex.verbs[frame])
        return f"{subj.text} {self.conjugate(verb, subj.agr, tense)} {self.object_of(frame)}{self.tail(tense)}"

    def _cap(self, s: str) -> str:
        return s[:1].upper() + s[1:]

    def sentence(self, tense: str | None = None, protagonist: Protagonist | None = None) -> str:
        """One sentence, capitalised and punctuated."""
        tense = tense or self.choice(["past"] * 5 + ["present"] * 2 + ["future", "past_progressive",
                                                                      "present_perfect", "present_progressive"])
        r = self.rng.random()
        if r < 0.38:
            s = self.clause(tense, protagonist)
        elif r < 0.46:
            s = f"{self.clause(tense, protagonist)}, {self.choice(['and', 'but', 'so'])} {self.clause(tense)}"
        elif r < 0.53:
            conj = self.choice(["because", "when", "after", "before", "while"])
            s = f"{self.clause(tense, protagonist)} {conj} {self.clause(tense)}"
        elif r < 0.58:
            subj = self.person_subject(protagonist)
            say = self.choice(["say/said", "think/thought", "know/knew", "hear/heard"]).split("/")
            if tense.startswith("past"):
                verb = say[1]
            else:
                verb = _es(say[0]) if subj.agr == "3sg" else say[0]
            s = f"{subj.text} {verb} that {self.clause(tense)}"
        elif r < 0.64:
            s = f"{self._cap(self.time_phrase(tense))}, {self.clause(tense, protagonist)}"
        elif r < 0.72:
            return self.question(tense, protagonist)
        elif r < 0.80:
            s = self.copular(tense)
        elif r < 0.86:
            s = self.existential(tense)
        elif r < 0.92:
            s = self.relative(tense)
        else:
            s = self.clause(tense, protagonist, kind="animal")
        return self._cap(s) + "."

    def copular(self, tense: str) -> str:
        cls = self.choice(["person", "animal", "food", "place"] + THING_CLASSES)
        if cls == "place":
            subj, agr = self.place_phrase(with_prep=False), "3sg"
        else:
            subj, agr = self.noun_phrase(cls, definite=True, adj_prob=0.0)
        past = tense.startswith("past") or tense == "present_perfect" and self.p(0.5)
        be = ("was" if agr == "3sg" else "were") if past else ("is" if agr == "3sg" else "are")
        deg = self.choice(["", "", "very ", "quite ", "too ", "rather "])
        if self.p(0.2):
            pred = f"{deg}{self.adjective(cls)} and {self.adjective(cls)}"
            deg = ""
        else:
            pred = deg + self.adjective(cls)
        verb = be if self.p(0.75) else self.choice(["looked", "seemed"] if past else (["looks", "seems"] if agr == "3sg" else ["look", "seem"]))
        return f"{subj} {verb} {pred}"

    def existential(self, tense: str) -> str:
        cls = self.choice(["animal", "person", "food"] + THING_CLASSES)
        n = self.noun(cls, countable=True)
        plural = self.p(0.6)
        adj = self.adjective(cls) + " " if self.p(0.5) else ""
        past = tense.startswith("past") or self.p(0.5)
        if plural:
            be = "were" if past else "are"
            np_ = f"{self.choice(NUMBERS + ['some', 'many', 'a few'])} {adj}{n.plural}"
        else:
            be = "was" if past else "is"
            np_ = f"{article(adj + n.singular)} {adj}{n.singular}"
        return f"there {be} {np_} {self.place_phrase()}"

    def relative(self, tense: str) -> str:
        head, agr = self.noun_phrase("person", definite=True, adj_prob=0.0)
        frame = self.choice([f for f in self.lex.verbs if f.startswith("trans") and f != "trans place"])
        verb = self.choice(self.lex.verbs[frame])
        rel = f"{head} who {self.conjugate(verb, agr, 'past')} {self.object_of(frame)}"
        past = tense.startswith("past") or tense == "past"
        be = ("was" if agr == "3sg" else "were") if past else ("is" if agr == "3sg" else "are")
        return f"{rel} {be} {self.choice(['', 'very ', 'quite '])}{self.adjective('person')}"

    def question(self, tense: str, protagonist: Protagonist | None = None) -> str:
        subj = self.person_subject(protagonist)
        frame = self.choice([f for f in self.lex.verbs if f.startswith("trans")])
        verb = self.choice(self.lex.verbs[frame])
        obj = self.object_of(frame)
        past = tense.startswith("past") or tense == "past"
        r = self.rng.random()
        if r < 0.4:
            aux = "did" if past else ("does" if subj.agr == "3sg" else "do")
            s = f"{aux} {subj.text} {verb.base} {obj}"
        elif r < 0.6:
            s = f"will {subj.text} {verb.base} {obj}"
        elif r < 0.85:
            wh = self.choice(["where", "why", "when", "how"])
            aux = "did" if past else ("does" if subj.agr == "3sg" else "do")
            s = f"{wh} {aux} {subj.text} {verb.base} {obj}"
        else:
            s = f"who {self.conjugate(verb, '3sg', 'past' if past else 'present')} {obj}"
        return self._cap(s) + "?"

    # -- documents -----------------------------------------------------------------------
    def protagonist(self) -> Protagonist:
        g = self.choice(["female", "male"])
        return Protagonist(self.choice(self.lex.names[g]), g)

    def document(self, n: int, seen: set[str] | None = None) -> list[str]:
        """n consecutive sentences: one protagonist, one narrative tense (a YODAS-like monologue).

        The first sentence names the protagonist; later ones mostly refer to them by pronoun.
        Sentences already in ``seen`` are drawn again (and new ones are added to it).
        """
        hero = self.protagonist()
        tense = self.choice(["past"] * 3 + ["present", "future"])
        seen = set() if seen is None else seen
        out: list[str] = []
        for i in range(n):
            for _ in range(1000):
                if i == 0:
                    s = self._cap(self._named_clause(hero, tense)) + "."
                else:
                    t = tense if self.p(0.8) else self.choice(TENSES)
                    s = self.sentence(t, hero if self.p(0.6) else None)
                if s not in seen:
                    break
            else:
                raise RuntimeError("could not draw a new sentence")
            seen.add(s)
            out.append(s)
        return out

    def _named_clause(self, hero: Protagonist, tense: str) -> str:
        kind = self.choice(["trans", "motion", "intrans", "give"])
        named = Protagonist(hero.name, hero.gender)
        for _ in range(100):  # person_subject() names the protagonist 40% of the time
            s = self.clause(tense, named, kind=kind)
            if s.startswith(hero.name + " "):
                return s
        return f"{hero.name} {self.conjugate(self.choice(self.lex.verbs['intrans person']), '3sg', tense)}"


def generate_sentences(n: int, seed: int = 0) -> list[str]:
    """n distinct sentences (deterministic in n and seed; a prefix of a longer list)."""
    gen = SentenceGenerator(seed)
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        s = gen.sentence()
        tries += 1
        if s not in seen:
            seen.add(s)
            out.append(s)
        if tries > 50 * n + 1000:
            raise RuntimeError(f"could not draw {n} distinct sentences")
    return out


STORY_FRACTION = 0.3  # share of corpus documents that are coherent stories (audiolm.data.stories)
STORY_LENGTH = 5


def documents_of_sizes(gen: SentenceGenerator, sizes: list[int], seen: set[str], seed: int,
                       story_fraction: float = STORY_FRACTION) -> list[list[str]]:
    """One document per size: a story (``story_fraction`` of those with room for one) or a monologue.

    Stories come from their own generator (seed stream ``seed``) so the choice of which documents
    are stories; a story of ``k > 5`` sentences goes on with ``k - 5`` monologue sentences, so the
    sizes (utterance counts) stay exact. Story sentences may repeat across stories (their
    templates are shared), monologue sentences never repeat.
    """
    if not 0.0 <= story_fraction <= 1.0:
        raise ValueError(f"story_fraction must be in [0, 1], got {story_fraction}")
    from audiolm.data.stories import StoryGenerator

    stories = StoryGenerator(seed + 104_729)
    pick = random.Random(f"stories-{seed}")
    out = []
    for k in sizes:
        if k >= STORY_LENGTH and pick.random() < story_fraction:
            rest = gen.document(k - STORY_LENGTH, seen) if k > STORY_LENGTH else []
            out.append(stories.story().sentences + rest)
        else:
            out.append(gen.document(k, seen))
    return out


def generate_documents(n_docs: int, seed: int = 0, min_sentences: int = 3, max_sentences: int = 8,
                       story_fraction: float = STORY_FRACTION) -> list[list[str]]:
    """n_docs documents of min..max consecutive sentences (a ``story_fraction`` of them stories);
    no monologue sentence appears twice overall."""
    gen = SentenceGenerator(seed)
    seen: set[str] = set()
    sizes = [gen.rng.randint(min_sentences, max_sentences) for _ in range(n_docs)]
    return documents_of_sizes(gen, sizes, seen, seed, story_fraction)
