"""Step-by-step reasoning items: hypernym chains as syllogisms, and small arithmetic with worked steps.

An item is a dict with `kind`, `question`, `steps` (list of sentences), `answer` and `text` (all of it as
one training document).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from geolm.data.lexicon import CONCRETE_CATEGORIES, Lexicon, item_rng
from geolm.data.morphology import plural, with_article
from geolm.data.wordnet import Synset

ARITHMETIC_ITEMS = 20_000
_CONCLUDE = ("So", "Therefore", "This means that")


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _item(kind: str, question: str, steps: list[str], answer: str) -> dict:
    text = f"Question: {question}\n" + "\n".join(steps) + f"\nAnswer: {answer}"
    return {"kind": kind, "question": question, "steps": steps, "answer": answer, "text": text}


def _chain(lexicon: Lexicon, synset: Synset, length: int) -> list[Synset]:
    """Follow first hypernyms within the synset's own lexicographer category (which keeps out `entity`)."""
    chain = [synset]
    while len(chain) <= length:
        parent = lexicon.hypernym(chain[-1])
        if parent is None or parent.lexname != synset.lexname or not parent.lemmas[0].islower():
            break
        chain.append(parent)
    return chain


def syllogism(lexicon: Lexicon, synset: Synset, seed: int) -> tuple[dict, list[str]] | None:
    """`Is a heron a bird?` -> `A heron is a wading bird. A wading bird is a bird. So a heron is a bird.`"""
    if synset.pos != "noun":
        return None
    rng = item_rng(seed, f"syllogism:{synset.id}")
    chain = _chain(lexicon, synset, rng.choice((2, 2, 3)))
    if len(chain) < 3:
        return None
    names = [with_article(s.lemmas[0]) for s in chain]
    steps = [_capital(f"{a} is {b}.") for a, b in itertools.pairwise(names)]
    steps.append(f"{rng.choice(_CONCLUDE)} {names[0]} is {names[-1]}.")
    question = f"Is {names[0]} {names[-1]}? Let's think step by step."
    return _item("syllogism", question, steps, "Yes."), [s.id for s in chain]


def _addition(a: int, b: int) -> tuple[str, list[str], int]:
    tens, ones = b - b % 10, b % 10
    steps = (
        [f"{a} + {tens} = {a + tens}.", f"{a + tens} + {ones} = {a + b}."]
        if tens and ones
        else [f"{a} + {b} = {a + b}."]
    )
    return f"What is {a} + {b}?", steps, a + b


def _subtraction(a: int, b: int) -> tuple[str, list[str], int]:
    a, b = max(a, b), min(a, b)
    tens, ones = b - b % 10, b % 10
    steps = (
        [f"{a} - {tens} = {a - tens}.", f"{a - tens} - {ones} = {a - b}."]
        if tens and ones
        else [f"{a} - {b} = {a - b}."]
    )
    return f"What is {a} - {b}?", steps, a - b


def _multiplication(a: int, b: int) -> tuple[str, list[str], int]:
    tens, ones = a - a % 10, a % 10
    steps = [f"{tens} × {b} = {tens * b}.", f"{ones} × {b} = {ones * b}.", f"{tens * b} + {ones * b} = {a * b}."]
    return f"What is {a} × {b}?", steps if tens and ones else [f"{a} × {b} = {a * b}."], a * b


def arithmetic(index: int, seed: int) -> dict:
    """The index-th arithmetic item: two-digit addition, subtraction or multiplication by one digit."""
    rng = item_rng(seed, f"arithmetic:{index}")
    op = rng.choice((_addition, _subtraction, _multiplication))
    b = rng.randint(2, 9) if op is _multiplication else rng.randint(10, 99)
    question, steps, result = op(rng.randint(10, 99), b)
    return _item("arithmetic", question, steps, str(result))


def word_problem(lexicon: Lexicon, synset: Synset, seed: int) -> tuple[dict, list[str]] | None:
    """`Anna has 12 herons and gets 5 more. How many herons does she have now?` with the sum worked out."""
    name = synset.lemmas[0]
    if synset.lexname not in CONCRETE_CATEGORIES or not lexicon.is_simple_word(name):
        return None
    rng = item_rng(seed, f"word_problem:{synset.id}")
    things = plural(name, synset.exceptions)
    person, pronoun = rng.choice((("Anna", "she"), ("Tom", "he"), ("Maria", "she"), ("Sam", "he")))
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    if rng.random() < 0.5:
        question = f"{person} has {a} {things} and gets {b} more. How many {things} does {pronoun} have now?"
        steps = [f"{person} starts with {a} {things}.", f"{a} + {b} = {a + b}."]
        answer = a + b
    else:
        a, b = max(a, b) + 1, min(a, b)
        question = f"{person} has {a} {things} and gives away {b}. How many {things} are left?"
        steps = [f"{person} starts with {a} {things}.", f"{a} - {b} = {a - b}."]
        answer = a - b
    return _item("word_problem", question, steps, f"{answer} {things}."), [synset.id]


def generate_reasoning(lexicon: Lexicon, seed: int = 0) -> Iterator[tuple[dict, list[str]]]:
    """Syllogisms and word problems over the common synsets, then the arithmetic items (keyed `arithmetic:<i>`)."""
    for synset in lexicon.common():
        for make in (syllogism, word_problem):
            made = make(lexicon, synset, seed)
            if made is not None:
                yield made
    for index in range(ARITHMETIC_ITEMS):
        yield arithmetic(index, seed), [f"arithmetic:{index}"]
