"""A tiny checkpoint built in place: a byte-level BPE tokenizer beside a seeded random llama-tiny model.

The model is untrained, so its text is arbitrary, but it is fixed by the seed: tests derive what they
expect (stop points, end tokens) from the model's own full greedy output. A wider initialisation than the
default keeps that output from collapsing into one repeated token.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from geolm import GeoConfig, GeoForCausalLM

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SENTENCES = [
    "A cat is a small domesticated carnivorous mammal.",
    "The river flows down from the mountains to the sea.",
    "A triangle has three sides and three angles.",
    "Water freezes into ice when it is cold enough.",
    "The sun rises in the east and sets in the west.",
    "A library is a collection of books kept for reading.",
    "Bread is made from flour, water, salt and yeast.",
    "Birds build nests in trees to keep their eggs safe.",
]


def build_tokenizer(chat_template: str | None = CHAT_TEMPLATE) -> PreTrainedTokenizerFast:
    """Byte-level BPE with 300 tokens, the geolm special tokens at ids 0..7, and `<s>` before each text."""
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(SENTENCES * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_special_tokens=SPECIALS[4:],
    )
    if chat_template is not None:
        tok.chat_template = chat_template
    return tok


def write_checkpoint(path: Path, tokenizer: PreTrainedTokenizerFast, **overrides) -> Path:
    """Save a seeded llama-tiny model sized to the tokenizer, and the tokenizer, into `path`."""
    torch.manual_seed(0)
    fields = {"vocab_size": len(tokenizer), "initializer_range": 0.2, **overrides}
    GeoForCausalLM(GeoConfig.from_preset("llama-tiny", **fields)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
