"""Trainer tests run offline, headless and on tiny data."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch
from trainkit import random_blocks

from geolm.data import TokenBlocks

torch.set_num_threads(1)  # tiny matrices: threads only add contention on a shared machine


@pytest.fixture
def blocks() -> TokenBlocks:
    return random_blocks(32)


@pytest.fixture
def val_blocks() -> TokenBlocks:
    return random_blocks(8, seed=2)
