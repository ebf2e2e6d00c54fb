"""The data the family experiments train and score on: the seed-002 subsets of the embedded corpus.

Chain-of-thought texts, question-answer pairs and dialogues from the corpus's train split for training, and
the same three kinds from its held-out split (facts training never saw) for scoring, with a tokenizer
trained on the corpus. Every family experiment uses this one mixture, so their numbers compare.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import torch

from geolm.data import TokenBlocks, dialogues, encode_documents, pack, reasoning_items
from geolm.data.corpus import corpus_texts
from geolm.data.tokenizer import train_tokenizer


def documents(split: str, limit: int, seed: int) -> list:
    """The seed's three subsets of one split: chain-of-thought texts, question-answer pairs and dialogues."""
    items = list(itertools.islice(reasoning_items(split, seed), limit))
    return [
        *(item["text"] for item in items),
        *(f"Question: {item['question']}\nAnswer: {item['answer']}" for item in items),
        *itertools.islice(dialogues(split, seed), limit),
    ]


@dataclass
class RunOptions:
    """What every family experiment's runs share (saved with the results): seeds, training, shape and data;
    each experiment's options add their own fields and may change these defaults."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    steps: int = 300
    batch_size: int = 16
    block_size: int = 128
    lr: float = 2e-3
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    vocab_size: int = 2048
    tokenizer_texts: int = 200_000
    documents: int = 6000
    heldout_blocks: int = 64


# The data of the experiments' `quick()` smoke tests: a small tokenizer trained on few texts, few items.
QUICK_DATA = {"vocab_size": 400, "tokenizer_texts": 5000, "documents": 300, "heldout_blocks": 4}


@dataclass(frozen=True)
class ReasoningData:
    tokenizer: Any
    train: TokenBlocks
    heldout: TokenBlocks


def reasoning_data(options: RunOptions) -> ReasoningData:
    """A tokenizer of `options.vocab_size` tokens (trained on the first `tokenizer_texts` corpus texts), the train
    blocks of `documents` items of each subset, and at most `heldout_blocks` held-out blocks."""
    tokenizer = train_tokenizer(itertools.islice(corpus_texts("train"), options.tokenizer_texts), options.vocab_size)
    pad, block_size = tokenizer.pad_token_id, options.block_size
    train = pack(encode_documents(tokenizer, documents("train", options.documents, 0)), block_size, pad)
    heldout = pack(
        encode_documents(tokenizer, documents("heldout", options.documents, 0)),
        block_size,
        pad,
        max_tokens=options.heldout_blocks * block_size,
    )
    return ReasoningData(tokenizer, train, heldout)


def shape_of(tokenizer: Any, hidden: int, layers: int, heads: int, context: int) -> dict[str, Any]:
    """Config fields of a model of this shape over `tokenizer`'s vocabulary and special tokens."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "max_position_embeddings": context,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


@torch.no_grad()
def heldout_loss(model, blocks: TokenBlocks, batch_size: int) -> float:
    """Mean loss per label-carrying token of the held-out blocks."""
    model.eval()
    total, tokens = 0.0, 0
    for ids, labels in zip(blocks.input_ids.split(batch_size), blocks.labels.split(batch_size), strict=True):
        count = int((labels[:, 1:] != -100).sum())
        total += float(model(ids.to(model.device), labels=labels.to(model.device)).loss) * count
        tokens += count
    return total / max(tokens, 1)
