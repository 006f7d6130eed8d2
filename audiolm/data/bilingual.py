"""Parallel Spanish-English sentences for the offline translation corpus (``prepare synth-s2st``).

A small grammar over ``resources/lexicon_en_es.tsv`` (42 nouns in four semantic classes, 16
adjectives, 16 verbs with selectional restrictions, 10 places, 5 time phrases), in the spirit of
:mod:`audiolm.data.sentences`: one draw gives the same proposition in both languages, e.g.

    "Two small goats chased the old farmer at the market yesterday."
    "Dos cabras pequeñas persiguieron al granjero viejo en el mercado ayer."

Spanish was chosen because espeak-ng speaks it well (voices ``es`` and ``es-419``). The rules that
make the translation more than a word-for-word substitution:

- **adjective placement**: English ``DET ADJ NOUN``, Spanish ``DET NOUN ADJ``;
- **gender and number agreement**: Spanish determiners (``el/la/los/las``, ``un/una``,
  ``este/esta/estos/estas``, ``mi/mis``) and adjectives (``rojo/roja/rojos/rojas``, ``verde/verdes``,
  ``feliz/felices``) agree with the noun; English only marks number on the noun;
- **verb agreement and tense**: present 3sg/3pl and preterite 3sg/3pl in Spanish, ``-s`` in the
  English present singular and irregular English pasts (``saw``, ``bought``, ``ate``);
- **personal a**: a human direct object takes ``a`` in Spanish, contracted ``a el -> al``
  (``ayuda al médico``); ``de el -> del`` in place phrases (``cerca del río``);
- numbers take no article in Spanish (``dos perros``), as in English.

Each English lemma has one fixed Spanish translation (``teacher -> maestra``), so a sentence's
translation is a function of its English side: deduplicating on English dedups pairs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class BiNoun:
    cls: str
    en_sg: str
    en_pl: str
    es_sg: str
    es_pl: str
    gender: str


@dataclass(frozen=True)
class BiAdj:
    classes: tuple[str, ...]
    en: str
    es: dict  # (gender, number) -> form

    def __hash__(self) -> int:
        return hash(self.en)


@dataclass(frozen=True)
class BiVerb:
    subjects: tuple[str, ...]
    objects: tuple[str, ...]
    en_base: str
    en_3sg: str
    en_past: str
    es: dict  # (tense, number) -> form

    def __hash__(self) -> int:
        return hash(self.en_base)


@dataclass(frozen=True)
class BiLexicon:
    nouns: tuple[BiNoun, ...]
    adjectives: tuple[BiAdj, ...]
    verbs: tuple[BiVerb, ...]
    places: tuple[tuple[str, str], ...]
    times: tuple[tuple[str, str, str], ...]  # (tense, en, es)


def parse_bilingual_lexicon(text: str, name: str = "lexicon") -> BiLexicon:
    nouns, adjs, verbs, places, times = [], [], [], [], []
    for k, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        kind, want = f[0], {"noun": 7, "adj": 7, "verb": 10, "place": 3, "time": 4}.get(f[0])
        if want is None or len(f) != want:
            raise ValueError(f"{name}:{k}: expected a {kind!r} row with {want} tab-separated fields, got {len(f)}")
        if kind == "noun":
            if f[6] not in ("m", "f"):
                raise ValueError(f"{name}:{k}: gender {f[6]!r} is not m or f")
            nouns.append(BiNoun(*f[1:7]))
        elif kind == "adj":
            adjs.append(BiAdj(tuple(f[1].split(",")), f[2], {("m", "sg"): f[3], ("f", "sg"): f[4],
                                                           ("m", "pl"): f[5], ("f", "pl"): f[6]}))
        elif kind == "verb":
            verbs.append(BiVerb(tuple(f[1].split(",")), tuple(f[2].split(",")), f[3], f[4], f[5],
                                {("present", "sg"): f[6], ("present", "pl"): f[7], ("past", "sg"): f[8],
                                 ("past", "pl"): f[9]}))
        elif kind == "place":
            places.append((f[1], f[2]))
        else:
            times.append((f[1], f[2], f[3]))
    return BiLexicon(tuple(nouns), tuple(adjs), tuple(verbs), tuple(places), tuple(times))


@lru_cache(maxsize=1)
def load_bilingual_lexicon() -> BiLexicon:
    text = resources.files("audiolm.data").joinpath("resources/lexicon_en_es.tsv").read_text(encoding="utf-8")
    return parse_bilingual_lexicon(text, "lexicon_en_es.tsv")


NUMBERS = (("two", "dos"), ("three", "tres"), ("four", "cuatro"), ("five", "cinco"))
_ES_DET = {"the": {("m", "sg"): "el", ("f", "sg"): "la", ("m", "pl"): "los", ("f", "pl"): "las"},
           "a": {("m", "sg"): "un", ("f", "sg"): "una"},
           "this": {("m", "sg"): "este", ("f", "sg"): "esta", ("m", "pl"): "estos", ("f", "pl"): "estas"},
           "my": {("m", "sg"): "mi", ("f", "sg"): "mi", ("m", "pl"): "mis", ("f", "pl"): "mis"}}
_EN_DET = {("the", "sg"): "the", ("the", "pl"): "the", ("a", "sg"): "a", ("this", "sg"): "this",
           ("this", "pl"): "these", ("my", "sg"): "my", ("my", "pl"): "my"}


@dataclass(frozen=True)
class Phrase:
    en: str
    es: str
    number: str
    noun: BiNoun


class BilingualGenerator:
    """Draws parallel (English, Spanish) sentences; deterministic in ``seed``."""

    def __init__(self, seed: int = 0, lexicon: BiLexicon | None = None) -> None:
        self.rng = random.Random(f"bilingual-{seed}")
        self.lex = lexicon or load_bilingual_lexicon()

    def noun_phrase(self, classes: tuple[str, ...]) -> Phrase:
        r = self.rng
        noun = r.choice([n for n in self.lex.nouns if n.cls in classes])
        number = "pl" if r.random() < 0.35 else "sg"
        kind = r.choices(["the", "a", "number", "this", "my"], weights=[5, 2, 2, 1.5, 1.5])[0]
        if number == "sg" and kind == "number":
            kind = "the"
        if number == "pl" and kind == "a":
            kind = "number"
        adjs = [a for a in self.lex.adjectives if noun.cls in a.classes]
        adj = r.choice(adjs) if adjs and r.random() < 0.5 else None
        key = (noun.gender, number)
        if kind == "number":
            en_det, es_det = r.choice(NUMBERS)
        else:
            en_det, es_det = _EN_DET[(kind, number)], _ES_DET[kind][key]
        en_noun, es_noun = (noun.en_sg, noun.es_sg) if number == "sg" else (noun.en_pl, noun.es_pl)
        en = " ".join([en_det, *([adj.en] if adj else []), en_noun])
        es = " ".join([es_det, es_noun, *([adj.es[key]] if adj else [])])
        return Phrase(en, es, number, noun)

    def sentence(self) -> tuple[str, str]:
        """One parallel pair ``(english, spanish)``, capitalised, with a full stop."""
        r = self.rng
        verb = r.choice(self.lex.verbs)
        subj, obj = self.noun_phrase(verb.subjects), self.noun_phrase(verb.objects)
        tense = r.choice(["present", "past"])
        if tense == "past":
            en_verb = verb.en_past
        else:
            en_verb = verb.en_3sg if subj.number == "sg" else verb.en_base
        es_verb = verb.es[(tense, subj.number)]
        es_obj = obj.es
        if obj.noun.cls == "person":  # personal a, a + el -> al
            es_obj = "al " + es_obj[3:] if es_obj.startswith("el ") else "a " + es_obj
        en, es = [subj.en, en_verb, obj.en], [subj.es, es_verb, es_obj]
        if r.random() < 0.4:
            place = r.choice(self.lex.places)
            en.append(place[0])
            es.append(place[1])
        times = [t for t in self.lex.times if t[0] == tense]
        if times and r.random() < 0.35:
            _, t_en, t_es = r.choice(times)
            en.append(t_en)
            es.append(t_es)
        return _finish(" ".join(en)), _finish(" ".join(es))


def _finish(s: str) -> str:
    return s[0].upper() + s[1:] + "."


def generate_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct parallel sentences (distinct on both sides), deterministic in ``seed``."""
    gen = BilingualGenerator(seed)
    seen_en, seen_es, out = set(), set(), []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(f"the bilingual grammar gave only {len(out)} distinct pairs in {tries} draws (asked {n})")
        en, es = gen.sentence()
        if en in seen_en or es in seen_es:
            continue
        seen_en.add(en)
        seen_es.add(es)
        out.append((en, es))
    return out
