"""The tiny checkpoint's fixtures (tests/inference/checkpoint_fixtures.py)."""

from checkpoint_fixtures import checkpoint, loaded, tokenizer  # noqa: F401 (fixtures)
