"""The tiny checkpoint's fixtures (tests/inference/checkpoint_fixtures.py), for the menu's chat."""

from checkpoint_fixtures import checkpoint, tokenizer  # noqa: F401 (fixtures)
