"""Multi-turn dialogues about one word: its meaning, its kind, other words for it, examples, opposites.

Each dialogue opens with the definition question and then asks a seeded selection of the follow-ups that
the synset's facts can answer, in a seeded order, so the model sees "it" refer back across turns.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from geolm.data.lexicon import Lexicon, definition_sentence, item_rng, kind_sentence, listing
from geolm.data.morphology import with_article
from geolm.data.wordnet import Synset

SYSTEM_PROMPT = "You are a helpful assistant who explains English words clearly and briefly."

Turn = tuple[str, str, list[str]]  # question, answer, synset ids the answer uses


def opening_question(synset: Synset, rng: random.Random) -> str:
    """The first user turn: what the word means, phrased for its part of speech."""
    name = synset.lemmas[0]
    if synset.pos == "noun":
        subject = with_article(name)
        options = [f"What is {subject}?", f'What does the word "{name}" mean?', f"Can you tell me what {subject} is?"]
    elif synset.pos == "verb":
        options = [f"What does it mean to {name}?", f'What does the verb "{name}" mean?']
    else:
        options = [f'What does "{name}" mean?', f'What is the meaning of the word "{name}"?']
    return rng.choice(options)


def _kind_turn(lexicon: Lexicon, synset: Synset, rng: random.Random) -> Turn | None:
    parent = lexicon.hypernym(synset)
    if parent is None:
        return None
    question = (
        rng.choice(["What kind of thing is it?", "What is it a kind of?", "Which category does it belong to?"])
        if synset.pos == "noun"
        else "Is there a more general word for it?"
    )
    return question, kind_sentence(synset, parent), [parent.id]


def _synonym_turn(lexicon: Lexicon, synset: Synset, rng: random.Random) -> Turn | None:
    others = synset.lemmas[1:4]
    if not others:
        return None
    question = rng.choice(["What are other words for it?", "Does it have any synonyms?", "What else is it called?"])
    answer = (
        f"Another word for {synset.lemmas[0]} is {others[0]}."
        if len(others) == 1
        else f"Other words for {synset.lemmas[0]} are {listing(others)}."
    )
    return question, answer, []


def _example_turn(lexicon: Lexicon, synset: Synset, rng: random.Random) -> Turn | None:
    if not synset.examples:
        return None
    question = rng.choice(["Can you use it in a sentence?", "Can you give me an example of how it is used?"])
    return question, f'Here is an example: "{rng.choice(synset.examples)}".', []


def _hyponym_turn(lexicon: Lexicon, synset: Synset, rng: random.Random) -> Turn | None:
    children = [lexicon.by_id[c] for c in lexicon.hyponyms.get(synset.id, []) if c in lexicon.by_id]
    children = [c for c in children if not c.instance][:3]
    if synset.pos != "noun" or not children:
        return None
    names = [c.lemmas[0] for c in children]
    answer = (
        f"Some kinds of {synset.lemmas[0]} are {listing(names)}."
        if len(names) > 1
        else (f"One kind of {synset.lemmas[0]} is {with_article(names[0])}.")
    )
    return "Can you name some kinds of it?", answer, [c.id for c in children]


def _antonym_turn(lexicon: Lexicon, synset: Synset, rng: random.Random) -> Turn | None:
    opposites = [lexicon.by_id[a] for a in synset.antonyms if a in lexicon.by_id]
    if not opposites:
        return None
    answer = f'The opposite of "{synset.lemmas[0]}" is "{opposites[0].lemmas[0]}".'
    return "What is its opposite?", answer, [opposites[0].id]


FOLLOW_UPS: tuple[Callable[[Lexicon, Synset, random.Random], Turn | None], ...] = (
    _kind_turn,
    _synonym_turn,
    _example_turn,
    _hyponym_turn,
    _antonym_turn,
)


def dialogue_for(lexicon: Lexicon, synset: Synset, seed: int) -> tuple[list[dict], list[str]] | None:
    """One conversation about `synset`, or None when it has no follow-up to ask; also the ids it uses."""
    rng = item_rng(seed, f"dialogue:{synset.id}")
    turns = [t for t in (f(lexicon, synset, rng) for f in FOLLOW_UPS) if t is not None]
    if not turns:
        return None
    rng.shuffle(turns)
    turns = turns[: rng.randint(1, len(turns))]
    messages = [{"role": "system", "content": SYSTEM_PROMPT}] if rng.random() < 0.3 else []
    messages += [
        {"role": "user", "content": opening_question(synset, rng)},
        {"role": "assistant", "content": definition_sentence(synset)},
    ]
    keys = [synset.id]
    for question, answer, used in turns:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        keys += used
    return messages, keys


def generate_dialogues(lexicon: Lexicon, seed: int = 0) -> Iterator[tuple[list[dict], list[str]]]:
    """A dialogue for every common synset (`Lexicon.common`) that has something more to say."""
    for synset in lexicon.common():
        dialogue = dialogue_for(lexicon, synset, seed)
        if dialogue is not None:
            yield dialogue
