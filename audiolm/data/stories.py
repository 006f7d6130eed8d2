"""Coherent short stories from the corpus lexicon: what the story-cloze benchmarks can test.

A story has a protagonist (name + gender), a goal, events and a consequence; its sentences
re-mention the same *entities* (the protagonist by name and pronoun, a friend, an object, an
animal, a place). That is the coherence a story-cloze item breaks: the wrong ending re-uses the
right ending's sentence but binds one entity it mentions to a value that the story never
introduced (another object of the same class, another name of the same gender, the other
pronoun). Right and wrong values are drawn from the same pool, so neither ending is shorter or
more frequent by design: only the context tells them apart.

The corpus (spoken and text-only documents, :func:`audiolm.data.sentences.generate_documents`)
contains such stories, drawn from the training seeds; the benchmarks draw theirs from held-out
seeds (:func:`story_cloze_items`, :func:`story_choice_items`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from audiolm.data.sentences import Lexicon, article, load_lexicon

# Each schema: sentence templates. Slots: {name} {friend} (names), {He}/{he}/{him}/{his}/{His}
# (the protagonist's pronouns), {obj} (a portable thing), {food}, {animal}, {device}, {book},
# {cloth} (nouns of those classes), {place} (a place noun), {adj} (a thing adjective); {an_X} is X
# with its indefinite article ("an old", "a cup").
SCHEMAS: list[tuple[str, ...]] = [
    ("{name} lost {his} {obj} in the {place}.", "{He} looked for the {obj} everywhere.",
     "{He} asked {friend} for help.", "{friend} and {name} searched the {place} together.",
     "At last {name} found the {obj} under a chair."),
    ("{name} wanted a new {obj}.", "{He} went to the market with {friend}.",
     "They looked at many things there.", "{name} chose {an_adj} {obj}.",
     "{name} carried the {obj} home."),
    ("{name} bought {an_obj} for {friend}.", "{He} wrapped the {obj} in paper.",
     "{He} walked to the {place} to meet {friend}.", "{He} gave the {obj} to {friend}.",
     "{friend} thanked {name} for the {obj}."),
    ("{name} was very hungry.", "{He} went into the kitchen.", "{He} found some {food} on the table.",
     "{He} ate the {food} quickly.", "After that {name} felt much better."),
    ("{name} had a small {animal}.", "Every morning {he} fed the {animal}.", "One day the {animal} ran away.",
     "{name} looked for the {animal} in the {place}.", "In the evening the {animal} came back to {name}."),
    ("{name} dropped {his} {device}.", "The {device} was broken.", "{He} took the {device} to {friend}.",
     "{friend} repaired the {device} for {him}.", "{name} thanked {friend} and went home."),
    ("{name} found an old {book} in the {place}.", "{He} opened the {book}.", "{He} read the {book} all night.",
     "In the morning {he} told {friend} about the {book}.", "Then {name} gave the {book} to {friend}."),
    ("{name} wanted to visit {friend}.", "{He} packed {his} {cloth} in a bag.", "{He} took the train to the {place}.",
     "{friend} was waiting for {him} at the station.", "{friend} was happy to see {name}."),
    ("{name} saw {an_animal} near the {place}.", "The {animal} looked cold and tired.", "{name} gave the {animal} some {food}.",
     "The {animal} ate the {food} slowly.", "After that the {animal} followed {name} home."),
    ("{name} needed {an_obj} for school.", "{He} asked {friend} for one.", "{friend} had an old {obj}.",
     "{friend} gave the {obj} to {name}.", "{name} used the {obj} every day."),
]

SLOT_RE = re.compile(r"\{(\w+)\}")
PRONOUN_SLOTS = {"He", "he", "him", "his", "His"}
ENTITY_SLOTS = ("name", "friend", "obj", "food", "animal", "device", "book", "cloth", "place")
_NOUN_CLASSES = {"obj": ["container", "tool", "thing"], "food": ["food"], "animal": ["animal"], "device": ["device"],
                 "book": ["readable"], "cloth": ["clothing"]}


def _pronouns(gender: str) -> dict[str, str]:
    he, him, his = ("she", "her", "her") if gender == "female" else ("he", "him", "his")
    return {"He": he.capitalize(), "he": he, "him": him, "his": his, "His": his.capitalize()}


@dataclass
class Story:
    schema: int
    binding: dict[str, str]  # slot -> value (entities and the protagonist's gender)
    sentences: list[str] = field(default_factory=list)


class StoryGenerator:
    """Stories and story-cloze items, deterministic in ``seed``."""

    def __init__(self, seed: int = 0, lexicon: Lexicon | None = None) -> None:
        self.lex = lexicon or load_lexicon()
        self.rng = random.Random(seed)
        self.pools: dict[str, list[str]] = {}
        for slot, classes in _NOUN_CLASSES.items():
            nouns = [n.singular for c in classes for n in self.lex.nouns.get(c, []) if not n.mass and " " not in n.singular]
            self.pools[slot] = sorted(set(nouns))
        # "some {food}", "ate the {food}": mass nouns read right in both
        self.pools["food"] = sorted({n.singular for n in self.lex.nouns.get("food", []) if n.mass and " " not in n.singular})
        self.pools["place"] = sorted({p.noun.singular for p in self.lex.places if " " not in p.noun.singular})
        self.adjectives = sorted(self.lex.adjectives.get("thing", []))

    def _pick(self, pool: list[str], avoid: set[str] = frozenset()) -> str:
        cands = [x for x in pool if x not in avoid]
        return cands[self.rng.randrange(len(cands))]

    def binding(self) -> dict[str, str]:
        g = self.rng.choice(["female", "male"])
        name = self._pick(self.lex.names[g])
        friend = self._pick(self.lex.names[self.rng.choice(["female", "male"])], {name})
        b = {"gender": g, "name": name, "friend": friend, "adj": self._pick(self.adjectives)}
        for slot in _NOUN_CLASSES:
            b[slot] = self._pick(self.pools[slot])
        b["place"] = self._pick(self.pools["place"])
        return b

    @staticmethod
    def fill(template: str, b: dict[str, str]) -> str:
        vals = {**b, **_pronouns(b["gender"])}
        vals.update({f"an_{k}": f"{article(v)} {v}" for k, v in b.items() if k != "gender"})
        s = template.format(**vals)
        return s[:1].upper() + s[1:]

    def story(self, schema: int | None = None) -> Story:
        k = self.rng.randrange(len(SCHEMAS)) if schema is None else schema
        b = self.binding()
        return Story(k, b, [self.fill(t, b) for t in SCHEMAS[k]])

    def corrupt(self, template: str, b: dict[str, str], context: list[str]) -> tuple[dict[str, str], str]:
        """A binding that changes one entity the sentence mentions (and that the context mentioned)
        to a value of the same pool the story never used; returns (binding, what changed)."""
        slots = [s for s in dict.fromkeys(SLOT_RE.findall(template)) if s in ENTITY_SLOTS]
        pronoun = any(s in PRONOUN_SLOTS for s in SLOT_RE.findall(template))
        options = [s for s in slots if any(re.search(rf"\b{re.escape(b[s])}\b", c) for c in context)]
        if pronoun:
            options.append("gender")
        if not options:
            raise ValueError(f"nothing to corrupt in {template!r}")
        slot = options[self.rng.randrange(len(options))]
        used = {b[s] for s in ENTITY_SLOTS}
        nb = dict(b)
        if slot == "gender":
            nb["gender"] = "male" if b["gender"] == "female" else "female"
        elif slot in ("name", "friend"):
            pool = self.lex.names[b["gender"]] if slot == "name" else [n for g in self.lex.names.values() for n in g]
            nb[slot] = self._pick(pool, used)
        else:
            nb[slot] = self._pick(self.pools[slot], used)
        return nb, slot


def story_document(gen: StoryGenerator) -> list[str]:
    """The sentences of one story (for corpus documents)."""
    return gen.story().sentences


def story_cloze_items(n: int, seed: int, exclude: set[str] | frozenset = frozenset()) -> list[dict]:
    """``n`` items ``{"context": [4 sentences], "right", "wrong", "schema", "changed"}`` from held-out
    stories (a story whose full text is in ``exclude`` is drawn again)."""
    gen = StoryGenerator(seed)
    out = []
    while len(out) < n:
        st = gen.story()
        if " ".join(st.sentences) in exclude:
            continue
        nb, changed = gen.corrupt(SCHEMAS[st.schema][-1], st.binding, st.sentences[:-1])
        wrong = gen.fill(SCHEMAS[st.schema][-1], nb)
        out.append({"context": st.sentences[:-1], "right": st.sentences[-1], "wrong": wrong, "schema": st.schema,
                    "changed": changed})
    return out


def topic_cloze_items(n: int, seed: int) -> list[dict]:
    """Topic StoryCloze-style items: the wrong ending is the ending of another schema, same protagonist."""
    gen = StoryGenerator(seed)
    out = []
    for _ in range(n):
        st = gen.story()
        other = gen.rng.randrange(len(SCHEMAS) - 1)
        other += other >= st.schema
        out.append({"context": st.sentences[:-1], "right": st.sentences[-1],
                    "wrong": gen.fill(SCHEMAS[other][-1], st.binding), "schema": st.schema, "changed": "topic"})
    return out


def story_choice_items(n: int, seed: int, n_choices: int = 4) -> list[dict]:
    """HellaSwag-style: the first k sentences (k = 2..4) of a held-out story; endings = its next
    sentence and ``n_choices - 1`` copies with one mentioned entity rebound (all different)."""
    gen = StoryGenerator(seed)
    out = []
    while len(out) < n:
        st = gen.story()
        k = gen.rng.randint(2, len(st.sentences) - 1)
        tmpl = SCHEMAS[st.schema][k]
        endings = {st.sentences[k]}
        wrong = []
        for _ in range(50):
            try:
                nb, _ = gen.corrupt(tmpl, st.binding, st.sentences[:k])
            except ValueError:
                break
            e = gen.fill(tmpl, nb)
            if e not in endings:
                endings.add(e)
                wrong.append(e)
            if len(wrong) == n_choices - 1:
                break
        if len(wrong) < n_choices - 1:
            continue
        answer = gen.rng.randrange(n_choices)
        choices = wrong[:answer] + [st.sentences[k]] + wrong[answer:]
        out.append({"context": " ".join(st.sentences[:k]), "endings": choices, "answer": answer, "schema": st.schema})
    return out
