"""Task items -> padded token tensors: sentence (pair) classification, per-word tags, packed LM blocks.

Tagging labels only the first token of each word (the rest get -100), so every word counts once whatever
the tokenizer does to it. Padding is on the right, as `pool` in the classifiers expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from geolm.data.packing import IGNORE, encode_documents, pack
from geolm.experiments.tasks import Example, Task


@dataclass
class Encoded:
    """`input_ids`, `attention_mask` (N, L) and `labels` ((N,) for classification, (N, L) otherwise)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def block_size(self) -> int:
        """The padded width of the rows (a batch is cut to its longest row)."""
        return self.input_ids.shape[1]

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The rows `index`, cut to their longest row (padding past it is pure cost)."""
        mask = self.attention_mask[index]
        width = int(mask.sum(1).max())
        labels = self.labels[index]
        labels = labels[:, :width] if labels.ndim == 2 else labels
        return {
            "input_ids": self.input_ids[index, :width].contiguous(),
            "attention_mask": mask[:, :width].contiguous(),
            "labels": labels.contiguous(),
        }


def encode(task: Task, examples: list[Example], tokenizer: PreTrainedTokenizerFast, max_length: int) -> Encoded:
    """The tensors of `examples` (a split of `task`) with at most `max_length` tokens per row."""
    if task.kind == "lm":
        blocks = pack(encode_documents(tokenizer, [e.text for e in examples]), max_length, tokenizer.pad_token_id)
        return Encoded(blocks.input_ids, (blocks.input_ids != tokenizer.pad_token_id).long(), blocks.labels)
    if task.kind == "tag":
        return encode_tagged(examples, tokenizer, max_length)
    texts = [e.text for e in examples]
    pairs = [e.pair for e in examples] if any(e.pair for e in examples) else None
    batch = tokenizer(texts, pairs, truncation=True, max_length=max_length, padding="longest", return_tensors="pt")
    labels = torch.tensor([e.label for e in examples], dtype=torch.long)
    return Encoded(batch["input_ids"], batch["attention_mask"], labels)


def encode_tagged(examples: list[Example], tokenizer: PreTrainedTokenizerFast, max_length: int) -> Encoded:
    """`<s>` then each word (with its leading space), the word's tag on its first token."""
    core = tokenizer.backend_tokenizer
    rows = []
    for example in examples:
        pieces = core.encode_batch_fast(
            [w if i == 0 else f" {w}" for i, w in enumerate(example.text)], add_special_tokens=False
        )
        ids, labels = [tokenizer.bos_token_id], [IGNORE]
        for piece, tag in zip(pieces, example.label, strict=True):
            ids += piece.ids
            labels += [tag] + [IGNORE] * (len(piece.ids) - 1)
        rows.append((ids[:max_length], labels[:max_length]))
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, (ids, tags) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(tags)] = torch.tensor(tags)
        mask[row, : len(ids)] = 1
    return Encoded(input_ids, mask, labels)
