"""Helpers of the trainer tests: a tiny Llama, random-token blocks, short runs and a word tokenizer."""

import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

from geolm import GeoConfig, GeoForCausalLM
from geolm.data import TokenBlocks
from geolm.training import TrainArgs

VOCAB = 512


def random_blocks(n: int, length: int = 16, seed: int = 1) -> TokenBlocks:
    ids = torch.randint(0, VOCAB, (n, length), generator=torch.Generator().manual_seed(seed))
    return TokenBlocks(ids, ids.clone())


def tiny_model(**overrides) -> GeoForCausalLM:
    torch.manual_seed(0)
    return GeoForCausalLM(GeoConfig.from_preset("llama-tiny", **overrides))


def tiny_args(**overrides) -> TrainArgs:
    base = dict(steps=6, batch_size=2, lr=1e-2, warmup_steps=1, eval_every=0, save_every=0, log_every=1)
    return TrainArgs(**{**base, **overrides})


def word_tokenizer(offset: int = 0) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over VOCAB made-up words; `offset` renames them (same size, other vocabulary)."""
    vocab = {f"w{i + offset}": i for i in range(VOCAB)}
    backend = Tokenizer(WordLevel(vocab, unk_token=f"w{offset}"))
    backend.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token=f"w{offset}")
