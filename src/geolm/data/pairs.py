"""Minimal pairs: two sentences that differ in one feature, as `(a, b, kind)`.

kinds: `number` (singular/plural), `tense` (present/past), `register` (formal/informal). Both sides are good
English, so a pair is LM text as well as a contrastive example of the feature.
"""

from __future__ import annotations

from collections.abc import Iterator

from geolm.data.lexicon import CONCRETE_CATEGORIES, Lexicon, item_rng
from geolm.data.morphology import past, plural, third_person, with_article
from geolm.data.wordnet import Synset

Pair = tuple[str, str, str]

# WordNet verb frames: 1 "Something ----s", 2 "Somebody ----s", 8 "Somebody ----s something".
_FRAME_SUBJECTS = {1: ("It", "The machine", "The water"), 2: ("She", "He", "The child", "My neighbour")}
_REGISTER = (
    ("Could you please explain what {x} is?", "what's {x}?"),
    ("I would be grateful if you could tell me what {x} is.", "so what's {x} anyway?"),
    ("Would you kindly describe {x} for me?", "tell me about {x}"),
    ("Excuse me, might you know what {x} is?", "hey, what's {x}?"),
)


def number_pair(lexicon: Lexicon, synset: Synset) -> tuple[Pair, list[str]] | None:
    """`The heron is a wading bird.` / `The herons are wading birds.`"""
    parent = lexicon.hypernym(synset)
    name = synset.lemmas[0]
    if synset.lexname not in CONCRETE_CATEGORIES or synset.instance or parent is None:
        return None
    if not lexicon.is_simple_word(name):
        return None
    parent_name = parent.lemmas[0]
    if not parent_name.islower():
        return None
    a = f"The {name} is {with_article(parent_name)}."
    b = f"The {plural(name, synset.exceptions)} are {plural(parent_name, parent.exceptions)}."
    return (a, b, "number"), [synset.id, parent.id]


def tense_pair(lexicon: Lexicon, synset: Synset, seed: int) -> tuple[Pair, list[str]] | None:
    """`She breathes every day.` / `She breathed every day.` for a one-word intransitive verb."""
    name = synset.lemmas[0]
    frames = [f for f in synset.frames if f in _FRAME_SUBJECTS]
    past_form = past(name, synset.exceptions) if synset.pos == "verb" else None
    if not frames or past_form is None or not lexicon.is_simple_word(name) or name == "be":
        return None
    rng = item_rng(seed, f"tense:{synset.id}")
    subject = rng.choice(_FRAME_SUBJECTS[rng.choice(frames)])
    when = rng.choice(("", " every day", " quietly", " again"))
    return (f"{subject} {third_person(name)}{when}.", f"{subject} {past_form}{when}.", "tense"), [synset.id]


def register_pair(lexicon: Lexicon, synset: Synset, seed: int) -> tuple[Pair, list[str]] | None:
    """`Could you please explain what a heron is?` / `what's a heron?`"""
    if synset.lexname not in CONCRETE_CATEGORIES or not lexicon.is_simple_word(synset.lemmas[0]):
        return None
    formal, informal = item_rng(seed, f"register:{synset.id}").choice(_REGISTER)
    x = with_article(synset.lemmas[0])
    return (formal.format(x=x), informal.format(x=x), "register"), [synset.id]


def generate_pairs(lexicon: Lexicon, seed: int = 0) -> Iterator[tuple[Pair, list[str]]]:
    """Every pair the common synsets support, with the synset ids each uses."""
    for synset in lexicon.common():
        for made in (
            number_pair(lexicon, synset),
            tense_pair(lexicon, synset, seed),
            register_pair(lexicon, synset, seed),
        ):
            if made is not None:
                yield made
