"""The shipped WordNet corpus in memory, its fixed held-out split, and the phrasing of its facts in English.

The split is a stable hash of the synset id, so it never changes between runs, machines or corpus rebuilds,
and an item that touches any held-out synset is itself held out: training never sees a held-out fact.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from functools import cached_property, lru_cache
from pathlib import Path

from geolm.data.morphology import article, with_article
from geolm.data.wordnet import Synset, read_synsets
from geolm.errors import DataError

EMBEDDED_DIR = Path(__file__).parent / "embedded"
CORPUS_FILE = EMBEDDED_DIR / "wordnet.jsonl.gz"
SPLITS = ("train", "heldout")
HELDOUT_PER_10K = 200  # 2% of synsets
# Categories of countable, concrete nouns: the ones that read well in "The X is a Y." and counting problems.
CONCRETE_CATEGORIES = (
    "noun.animal",
    "noun.artifact",
    "noun.body",
    "noun.food",
    "noun.object",
    "noun.person",
    "noun.plant",
)
# A gloss starting with one of these words reads on after "X is" without an article of its own.
# fmt: off
_NO_ARTICLE = frozenset(
    [
        "a", "an", "the", "any", "one", "some", "something", "someone", "somebody", "anything", "anyone",
        "that", "this", "these", "those", "what", "whatever", "how", "which", "who", "whoever", "either",
        "each", "every", "all", "no", "not", "of", "in", "on", "to", "for", "from", "by", "with", "as", "at",
        "used", "his", "her", "its", "their", "your", "my", "our", "two", "three", "four", "several", "many",
        "much",
    ]
)
# fmt: on


def is_heldout(key: str) -> bool:
    """Whether a synset id (or any other item key) falls in the fixed held-out 2%."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < HELDOUT_PER_10K


def split_of(keys: Iterable[str]) -> str:
    """`heldout` if any key is held out, else `train`."""
    return "heldout" if any(is_heldout(k) for k in keys) else "train"


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


class Lexicon:
    """Synsets by id with the relations and phrasings the generators share."""

    def __init__(self, synsets: list[Synset]) -> None:
        if not synsets:
            raise DataError("the WordNet corpus has no synsets")
        self.synsets = synsets
        self.by_id = {s.id: s for s in synsets}

    @cached_property
    def hyponyms(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for synset in self.synsets:
            for parent in synset.hypernyms:
                children.setdefault(parent, []).append(synset.id)
        return children

    def hypernym(self, synset: Synset) -> Synset | None:
        """The first listed hypernym (WordNet lists the main one first)."""
        return self.by_id.get(synset.hypernyms[0]) if synset.hypernyms else None

    @staticmethod
    def name(synset: Synset) -> str:
        return synset.lemmas[0]

    @staticmethod
    def askable(synset: Synset) -> bool:
        """The synset is the most frequent sense of its first lemma, so "What is X?" has it as the answer."""
        return bool(synset.senses) and synset.senses[0] == 1 and len(synset.lemmas[0]) <= 30

    def common(self) -> Iterator[Synset]:
        """Askable synsets tagged at least once in WordNet's sense-tagged corpus: the everyday words."""
        return (s for s in self.synsets if s.count > 0 and self.askable(s))

    @staticmethod
    def is_simple_word(word: str) -> bool:
        """One lowercase alphabetic word (safe to inflect and to put in templates)."""
        return word.isalpha() and word.islower()


def definition_sentence(synset: Synset) -> str:
    """`A heron is a grey or white wading bird ...`, `To breathe is to draw air ...`, `"Able" means ...`."""
    name, gloss = synset.lemmas[0], synset.gloss.rstrip(".")
    if synset.pos == "noun":
        first = gloss.split(" ", 1)[0].lower().strip(",;:")
        if first not in _NO_ARTICLE and first[:1].isalpha():
            gloss = f"{article(gloss)} {gloss}"
        subject = with_article(name)
        return f"{subject[:1].upper()}{subject[1:]} is {gloss}."
    if synset.pos == "verb":
        return f"To {name} is to {gloss}." if not gloss.startswith("(") else f"To {name}: {gloss}."
    return f'"{name[:1].upper()}{name[1:]}" means {gloss}.'


def kind_sentence(synset: Synset, parent: Synset) -> str:
    """The hypernym link as English: `A heron is a kind of wading bird.`, `Paris is a national capital.`"""
    name, parent_name = synset.lemmas[0], parent.lemmas[0]
    if synset.pos == "verb":
        return f"To {name} is a way to {parent_name}."
    subject = with_article(name)
    subject = subject[:1].upper() + subject[1:]
    if synset.instance:
        return f"{subject} is {with_article(parent_name)}."
    return f"{subject} is a kind of {parent_name}."


def listing(words: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


@lru_cache(maxsize=2)
def load_lexicon(path: str | Path = CORPUS_FILE) -> Lexicon:
    """The shipped corpus (read once per process; about a second)."""
    return Lexicon(read_synsets(path))


def item_rng(seed: int, key: str) -> random.Random:
    """A generator for one item, seeded by (seed, key): items do not depend on each other or on order."""
    return random.Random(f"{seed}:{key}")
