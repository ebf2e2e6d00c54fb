"""The embedded default corpus: WordNet glossary text plus dialogues, reasoning and minimal pairs, by split.

Everything is generated from the shipped synsets on demand, seeded, so the corpus is a pure function of
(split, seed) and costs no disk beyond the one gzip file.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from functools import lru_cache

from geolm.data.dialogues import generate_dialogues
from geolm.data.glossary import glossary_entries
from geolm.data.lexicon import (
    SPLITS,
    check_split,
    definition_sentence,
    is_heldout,
    load_lexicon,
    split_of,
)
from geolm.data.morphology import with_article
from geolm.data.pairs import Pair, generate_pairs
from geolm.data.reasoning import generate_reasoning
from geolm.data.wordnet import Synset

Document = str | list[dict]
KINDS = ("glossary", "dialogues", "reasoning", "pairs")


_GENERATORS = {
    "glossary": lambda lexicon, seed: glossary_entries(lexicon),
    "dialogues": generate_dialogues,
    "reasoning": generate_reasoning,
    "pairs": generate_pairs,
}


@lru_cache(maxsize=8)
def _partitioned(kind: str, seed: int) -> dict[str, tuple]:
    """One generation pass of a kind, split into train and heldout (cached: both splits are usually wanted)."""
    parts: dict[str, list] = {split: [] for split in SPLITS}
    for item, keys in _GENERATORS[kind](load_lexicon(), seed):
        parts[split_of(keys)].append(item)
    return {split: tuple(items) for split, items in parts.items()}


def _items(kind: str, split: str, seed: int) -> Iterator:
    return iter(_partitioned(kind, seed)[check_split(split)])


def glossary(split: str = "train") -> Iterator[str]:
    """One English paragraph per synset."""
    return _items("glossary", split, 0)


def dialogues(split: str = "train", seed: int = 0) -> Iterator[list[dict]]:
    """Conversations (lists of {"role", "content"}) about common words."""
    return (copy.deepcopy(d) for d in _items("dialogues", split, seed))


def reasoning_items(split: str = "train", seed: int = 0) -> Iterator[dict]:
    """Syllogisms, word problems and arithmetic: dicts with kind, question, steps, answer, text."""
    return (copy.deepcopy(item) for item in _items("reasoning", split, seed))


def minimal_pairs(split: str = "train", seed: int = 0) -> Iterator[Pair]:
    """(a, b, kind) with kind in number, tense, register."""
    return _items("pairs", split, seed)


def corpus_documents(split: str = "train", seed: int = 0) -> dict[str, list[Document]]:
    """The training documents of each kind: text for glossary, reasoning and pairs, messages for dialogues."""
    return {
        "glossary": list(glossary(split)),
        "dialogues": list(_items("dialogues", split, seed)),
        "reasoning": [item["text"] for item in _items("reasoning", split, seed)],
        "pairs": [f"{a}\n{b}" for a, b, _ in minimal_pairs(split, seed)],
    }


def document_text(document: Document) -> str:
    """Plain text of a document (a conversation's turns one per line), for tokenizer training."""
    return document if isinstance(document, str) else "\n".join(m["content"] for m in document)


def corpus_texts(split: str = "train", seed: int = 0) -> Iterator[str]:
    """Every document of the split as plain text: what the default tokenizer is trained on."""
    for documents in corpus_documents(split, seed).values():
        yield from (document_text(d) for d in documents)


def heldout_questions(n: int = 3) -> list[dict]:
    """Questions about held-out common nouns with reference answers: facts training never saw.

    Each is {"question", "answer", "word", "synset", "messages"}; the order is fixed (by a hash of the id).
    """
    lexicon = load_lexicon()
    chosen = [
        s
        for s in lexicon.common()
        if is_heldout(s.id) and s.pos == "noun" and not s.instance and lexicon.is_simple_word(s.lemmas[0])
    ]
    chosen.sort(key=lambda s: hashlib.blake2b(s.id.encode(), digest_size=8).digest())
    questions = []
    for synset in chosen[:n]:
        dialogue = dialogue_opening(synset)
        questions.append(
            {
                "question": dialogue[0]["content"],
                "answer": dialogue[1]["content"],
                "word": synset.lemmas[0],
                "synset": synset.id,
                "messages": dialogue[:1],
            }
        )
    return questions


def dialogue_opening(synset: Synset) -> list[dict]:
    """The canonical first exchange about a noun, as in the dialogues (`What is a heron?`)."""
    return [
        {"role": "user", "content": f"What is {with_article(synset.lemmas[0])}?"},
        {"role": "assistant", "content": definition_sentence(synset)},
    ]


def corpus_stats(seed: int = 0) -> dict[str, dict[str, dict[str, int]]]:
    """Documents and characters of each kind in each split."""
    stats: dict[str, dict[str, dict[str, int]]] = {}
    for split in ("train", "heldout"):
        stats[split] = {
            kind: {"documents": len(docs), "characters": sum(len(document_text(d)) for d in docs)}
            for kind, docs in corpus_documents(split, seed).items()
        }
    return stats
