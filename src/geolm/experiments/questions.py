"""Held-out definition questions, answered by a model and scored against WordNet.

The questions ask about nouns that training never sees ("What is a bronchus?"), so a model cannot have
memorised the answer; what it can have learned is the shape of one: name the word asked about, and put it
in the right category. Both are scored: does the answer name the asked word, and does it name a category
word, i.e. a lemma of one of the synset's hypernyms or the word of its lexicographer file (`noun.body` ->
"body").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from geolm.data.corpus import heldout_questions
from geolm.data.lexicon import load_lexicon
from geolm.inference.generation import SamplingOptions
from geolm.inference.responder import ResponseGenerator

# What the demo and its benchmark decode with: greedy, with a light penalty against loops.
ANSWER_OPTIONS = SamplingOptions(max_new_tokens=48, greedy=True, repetition_penalty=1.3)


@dataclass(frozen=True)
class Answer:
    """One answered question with its two scores."""

    question: str
    word: str
    reference: str
    answer: str
    token_ids: list[int]
    names_word: bool
    names_category: bool


def mentions(text: str, phrase: str) -> bool:
    """`phrase` as whole words in `text`, ignoring case (a plural `-s`/`-es` counts)."""
    return re.search(rf"\b{re.escape(phrase)}(?:s|es)?\b", text, flags=re.IGNORECASE) is not None


def category_words(synset_id: str) -> list[str]:
    """Lemmas of the synset's hypernyms (underscores as spaces), then its lexicographer file's word."""
    lexicon = load_lexicon()
    synset = lexicon.by_id[synset_id]
    words = [
        lemma.replace("_", " ")
        for parent in synset.hypernyms
        if parent in lexicon.by_id
        for lemma in lexicon.by_id[parent].lemmas
    ]
    file_word = synset.lexname.split(".", 1)[-1].lower()
    return list(dict.fromkeys([*words, *([file_word] if file_word != "tops" else [])]))


def answer_questions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    count: int,
    options: SamplingOptions = ANSWER_OPTIONS,
) -> list[Answer]:
    """Ask the first `count` held-out questions, each in a fresh conversation, and score every answer."""
    responder = ResponseGenerator(model, tokenizer, options)
    answers = []
    for item in heldout_questions(count):
        generation = responder.reply_generation(responder.new_conversation(), item["question"])
        answers.append(
            Answer(
                question=item["question"],
                word=item["word"],
                reference=item["answer"],
                answer=generation.text,
                token_ids=generation.token_ids,
                names_word=mentions(generation.text, item["word"]),
                names_category=any(mentions(generation.text, w) for w in category_words(item["synset"])),
            )
        )
    return answers


def score(answers: list[Answer]) -> dict[str, float | int]:
    """Share of answers that name the asked word and that name a category word, over `questions` answers."""
    n = len(answers)
    return {
        "questions": n,
        "names_word": sum(a.names_word for a in answers) / n if n else 0.0,
        "names_category": sum(a.names_category for a in answers) / n if n else 0.0,
    }


def answers_record(answers: list[Answer]) -> list[dict]:
    """The answers as plain dicts, for a JSON file."""
    return [asdict(a) for a in answers]
