"""Data layer: file and chat formats, tokenizers, the embedded WordNet corpus, packing and mixing."""

from geolm.data.blocks import TokenBlocks

__all__ = ["TokenBlocks"]
