"""Fixtures of one tiny checkpoint (see tiny_checkpoint.py), built once per test folder that imports them into
its conftest.py (the inference and serving tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_checkpoint import build_tokenizer, write_checkpoint
from transformers import PreTrainedTokenizerFast

from geolm.inference import load_for_inference


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return build_tokenizer()


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, tokenizer: PreTrainedTokenizerFast) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "model", tokenizer)


@pytest.fixture(scope="session")
def loaded(checkpoint: Path):
    """(model, tokenizer) loaded once through the public loader, on the CPU in float32."""
    return load_for_inference(checkpoint, device="cpu")
