"""Data layer: file and chat formats, tokenizers, the embedded WordNet corpus, packing and mixing."""

from geolm.data.blocks import TokenBlocks
from geolm.data.chat import to_document
from geolm.data.corpus import (
    corpus_documents,
    corpus_stats,
    corpus_texts,
    dialogues,
    heldout_questions,
    minimal_pairs,
    reasoning_items,
)
from geolm.data.formats import load_source
from geolm.data.mixing import mix
from geolm.data.packing import encode_documents, pack
from geolm.data.prepare import prepare_lm_data
from geolm.data.tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS, save_tokenizer, train_tokenizer
from geolm.data.wordnet import Synset, parse_wordnet, read_synsets, write_synsets

__all__ = [
    "CHAT_TEMPLATE",
    "SPECIAL_TOKENS",
    "Synset",
    "TokenBlocks",
    "corpus_documents",
    "corpus_stats",
    "corpus_texts",
    "dialogues",
    "encode_documents",
    "heldout_questions",
    "load_source",
    "minimal_pairs",
    "mix",
    "pack",
    "parse_wordnet",
    "prepare_lm_data",
    "read_synsets",
    "reasoning_items",
    "save_tokenizer",
    "to_document",
    "train_tokenizer",
    "write_synsets",
]
