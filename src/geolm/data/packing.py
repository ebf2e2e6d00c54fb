"""Documents -> token ids with loss labels -> fixed-length `TokenBlocks`.

A document is `<s>` + tokens + `</s>`. Text documents take loss on every token but `<s>`; conversations
take loss only on assistant contents and the `<|end|>` closing each assistant turn, laid out exactly as
`CHAT_TEMPLATE` renders them. Documents are concatenated and cut into blocks; the last block is padded
with `<pad>` (label -100), so no token is dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from transformers import PreTrainedTokenizerFast

from geolm.data.blocks import TokenBlocks
from geolm.data.chat import Document
from geolm.data.tokenizer import END_OF_TURN, ROLE_TOKENS
from geolm.progress import counted

IGNORE = -100
BATCH = 1024


def _piece_texts(document: Document) -> list[str]:
    """The texts to encode for a document: itself, or each turn's content."""
    return [document] if isinstance(document, str) else [m["content"] for m in document]


def _assemble(document: Document, pieces: list[list[int]], tokenizer: PreTrainedTokenizerFast, newline: list[int]):
    ids, labels = [tokenizer.bos_token_id], [IGNORE]
    if isinstance(document, str):
        ids += pieces[0]
        labels += pieces[0]
    else:
        end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        for message, content in zip(document, pieces, strict=True):
            head = [tokenizer.convert_tokens_to_ids(ROLE_TOKENS[message["role"]]), *newline]
            ids += [*head, *content, end, *newline]
            trained = message["role"] == "assistant"
            labels += [IGNORE] * len(head) + ([*content, end] if trained else [IGNORE] * (len(content) + 1))
            labels += [IGNORE] * len(newline)
    ids.append(tokenizer.eos_token_id)
    labels.append(tokenizer.eos_token_id if isinstance(document, str) else IGNORE)
    return ids, labels


def encode_documents(
    tokenizer: PreTrainedTokenizerFast, documents: Iterable[Document]
) -> Iterator[tuple[list[int], list[int]]]:
    """(input_ids, labels) per document, batch-encoded with the Rust tokenizer."""
    core = tokenizer.backend_tokenizer
    newline = core.encode("\n", add_special_tokens=False).ids
    iterator = iter(documents)
    while batch := list(itertools.islice(iterator, BATCH)):
        texts = [text for document in batch for text in _piece_texts(document)]
        encoded = iter(core.encode_batch_fast(texts, add_special_tokens=False))
        for document in batch:
            pieces = [next(encoded).ids for _ in _piece_texts(document)]
            yield _assemble(document, pieces, tokenizer, newline)


def pack(
    encoded: Iterable[tuple[list[int], list[int]]],
    block_size: int,
    pad_id: int,
    *,
    max_tokens: int | None = None,
    total: int | None = None,
    description: str = "tokenizing",
) -> TokenBlocks:
    """Concatenate documents (stopping at `max_tokens`), cut into blocks, pad the last one."""
    ids: list[int] = []
    labels: list[int] = []
    for doc_ids, doc_labels in counted(encoded, description, total):
        ids += doc_ids
        labels += doc_labels
        if max_tokens is not None and len(ids) >= max_tokens:
            del ids[max_tokens:], labels[max_tokens:]
            break
    padding = -len(ids) % block_size
    ids_array = np.asarray(ids + [pad_id] * padding, dtype=np.int64).reshape(-1, block_size)
    labels_array = np.asarray(labels + [IGNORE] * padding, dtype=np.int64).reshape(-1, block_size)
    return TokenBlocks(torch.from_numpy(ids_array), torch.from_numpy(labels_array))
