"""`TokenBlocks`: the training data handed to the trainer, a map-style dataset of fixed-length blocks.

Keeping the data as two dense tensors makes the data position of exact resume a single integer (how many
samples of the seeded epoch permutation were consumed) and makes every batch a cheap slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TokenBlocks:
    """`input_ids` and `labels` of shape (N, block_size); labels are -100 where no loss is taken.

    Labels are not shifted: the model shifts them, as every HF causal LM does.
    """

    input_ids: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.input_ids.shape != self.labels.shape or self.input_ids.ndim != 2:
            raise ValueError(
                f"input_ids {tuple(self.input_ids.shape)} and labels {tuple(self.labels.shape)} must both be (N, L)"
            )

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids[index], "labels": self.labels[index]}

    def rows(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, labels) of the blocks `index` as int64: what the trainer reads of any source of blocks
        (`geolm.data.shards.ShardBlocks` reads them from disk)."""
        return self.input_ids[index].long(), self.labels[index].long()

    @property
    def block_size(self) -> int:
        return self.input_ids.shape[1]

    @property
    def num_loss_tokens(self) -> int:
        return int((self.labels[:, 1:] != -100).sum())
