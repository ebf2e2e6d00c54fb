"""Byte-level BPE tokenizers trained with HF `tokenizers`, returned as `PreTrainedTokenizerFast`.

The special tokens have fixed ids so every geolm checkpoint agrees on padding, bos/eos and the chat roles.
Encoding text adds `<s>` in front (as training documents start with it); the chat template adds it itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from geolm.errors import DataError
from geolm.files import usual_permissions

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
END_OF_TURN = "<|end|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK, *ROLE_TOKENS.values(), END_OF_TURN]  # ids 0..7 in this order

# One turn renders as `<|role|>\n{content}<|end|>\n`; `encode_conversation` relies on exactly this layout.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unknown role ' + message['role'] + '; expected system, user or assistant') }}"
    "{% endif %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE of `vocab_size` entries (special tokens and the 256 bytes included)."""
    minimum = len(SPECIAL_TOKENS) + 256
    if vocab_size < minimum:
        raise DataError(f"vocab_size {vocab_size} is too small: byte-level BPE needs at least {minimum}")
    core = Tokenizer(models.BPE(unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    _interruptible(lambda: core.train_from_iterator(texts, trainer=trainer))
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, 1)]
    )
    return wrap_tokenizer(core)


def _interruptible(work: Callable[[], object]) -> None:
    """Run `work` in a worker thread while this one waits in short slices, so Ctrl-C stops the wait at once.

    The BPE merges run in Rust for seconds without returning to Python, where a KeyboardInterrupt would only be
    raised after they finish; the worker (a daemon) is abandoned on Ctrl-C and ends with the process.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:  # handed to the waiting thread below
            failure.append(err)

    worker = threading.Thread(target=run, name="tokenizer-training", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if failure:
        raise failure[0]


def wrap_tokenizer(core: Tokenizer) -> PreTrainedTokenizerFast:
    """The transformers tokenizer around a trained core, with the special tokens and chat template set."""
    for token_id, token in enumerate(SPECIAL_TOKENS):
        if core.token_to_id(token) != token_id:
            raise DataError(f"tokenizer maps {token} to {core.token_to_id(token)}; geolm fixes it at {token_id}")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        additional_special_tokens=[*ROLE_TOKENS.values(), END_OF_TURN],
        model_max_length=1_000_000,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, directory: str | Path) -> Path:
    """`save_pretrained` into a temp directory, then rename: a crash never leaves half a tokenizer."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = usual_permissions(Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.")))
    try:
        tokenizer.save_pretrained(tmp)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory
