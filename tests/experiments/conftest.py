"""A hand-made lexicon small enough to build every suite task in milliseconds, and a tiny chat checkpoint."""

from __future__ import annotations

import pytest

from geolm.data.lexicon import Lexicon
from geolm.data.wordnet import Synset

# (id, lexname, lemma, hypernym ids, gloss, examples); every noun has senses [1] and count 1 (a common word).
ENTRIES = [
    ("bird", "noun.animal", "bird", [], "warm-blooded egg-laying vertebrate with feathers", ["a bird sang"]),
    ("heron", "noun.animal", "heron", ["bird"], "grey or white wading bird", ["the heron ate a fish"]),
    ("egret", "noun.animal", "egret", ["bird"], "white heron of warm regions", []),
    ("owl", "noun.animal", "owl", ["bird"], "nocturnal bird of prey", ["an owl and a pussy cat"]),
    ("night heron", "noun.animal", "night heron", ["heron"], "heron that feeds at night", []),
    ("grey heron", "noun.animal", "grey heron", ["heron"], "large heron of Europe", []),
    ("fish", "noun.animal", "fish", [], "cold-blooded aquatic vertebrate", []),
    ("cat", "noun.animal", "pussy cat", [], "feline mammal", []),
    ("tool", "noun.artifact", "tool", [], "an implement used in work", ["a tool for the job"]),
    ("hammer", "noun.artifact", "hammer", ["tool"], "hand tool with a heavy head", ["he swung the hammer"]),
    ("saw", "noun.artifact", "saw", ["tool"], "hand tool with a toothed blade", []),
    ("claw hammer", "noun.artifact", "claw hammer", ["hammer"], "hammer with a split end", []),
    ("sledge", "noun.artifact", "sledge", ["hammer"], "heavy long-handled hammer", []),
    ("chisel", "noun.artifact", "chisel", ["tool"], "edge tool for shaping wood", []),
    ("person", "noun.person", "person", [], "a human being", ["one person came"]),
    ("farmer", "noun.person", "farmer", ["person"], "a person who operates a farm", ["the farmer saw a heron"]),
    ("baker", "noun.person", "baker", ["person"], "someone who bakes bread", []),
    ("run", "verb.motion", "run", [], "move fast on foot", ["run to the farmer"]),
]


def fake_lexicon() -> Lexicon:
    synsets = [
        Synset(
            id=key,
            pos="verb" if lexname.startswith("verb") else "noun",
            lexname=lexname,
            lemmas=[lemma],
            gloss=gloss,
            examples=examples,
            hypernyms=hypernyms,
            senses=[1],
            count=1,
        )
        for key, lexname, lemma, hypernyms, gloss, examples in ENTRIES
    ]
    return Lexicon(synsets)


@pytest.fixture
def lexicon() -> Lexicon:
    return fake_lexicon()
