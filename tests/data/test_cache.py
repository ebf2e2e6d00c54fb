"""The cache of the embedded corpus's tokenizer and blocks: where it lives, what its keys hold, and that a
cached entry equals a fresh build."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geolm.data.blocks import TokenBlocks
from geolm.data.cache import cache_root, cached_blocks, cached_tokenizer, entry_key
from geolm.data.tokenizer import train_tokenizer

TEXTS = [f"the heron number {i} is a kind of bird" for i in range(50)]


@pytest.fixture
def cache(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("GEOLM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_root_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GEOLM_CACHE", "off")
    assert cache_root() is None
    monkeypatch.setenv("GEOLM_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("GEOLM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "geolm"


def test_keys_change_with_every_setting() -> None:
    base = entry_key("blocks", block_size=64, seed=0, tokenizer="abc")
    assert base == entry_key("blocks", seed=0, tokenizer="abc", block_size=64)
    others = [
        entry_key("blocks", block_size=65, seed=0, tokenizer="abc"),
        entry_key("blocks", block_size=64, seed=1, tokenizer="abc"),
        entry_key("blocks", block_size=64, seed=0, tokenizer="abd"),
        entry_key("tokens", block_size=64, seed=0, tokenizer="abc"),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_tokenizer_is_built_once_then_read_back_equal(cache: Path) -> None:
    builds = []

    def build():
        builds.append(1)
        return train_tokenizer(iter(TEXTS), 300)

    said = []
    first = cached_tokenizer(build, said.append, vocab_size=300)
    second = cached_tokenizer(build, said.append, vocab_size=300)
    assert len(builds) == 1 and said == [f"tokenizer: cached in {cache / entry_key('tokenizer', vocab_size=300)}"]
    assert second.get_vocab() == first.get_vocab()
    assert second("a heron").input_ids == first("a heron").input_ids
    assert second.chat_template == first.chat_template and second.pad_token_id == first.pad_token_id
    cached_tokenizer(build, said.append, vocab_size=301)
    assert len(builds) == 2  # another setting, another entry


def test_blocks_round_trip_and_an_unreadable_entry_is_rebuilt(cache: Path) -> None:
    ids = torch.arange(40).reshape(5, 8)
    labels = ids.clone()
    labels[:, 0] = -100
    builds = []

    def build():
        builds.append(1)
        return TokenBlocks(ids, labels), TokenBlocks(ids[:2], labels[:2])

    cached_blocks(build, print, block_size=8)
    train, validation = cached_blocks(build, print, block_size=8)
    assert len(builds) == 1
    assert train.input_ids.dtype == torch.long and torch.equal(train.input_ids, ids)
    assert torch.equal(train.labels, labels) and torch.equal(validation.input_ids, ids[:2])
    entry = cache / f"{entry_key('blocks', block_size=8)}.safetensors"
    entry.write_bytes(b"not a safetensors file")
    train, _ = cached_blocks(build, print, block_size=8)
    assert len(builds) == 2 and torch.equal(train.labels, labels)


def test_the_cache_off_builds_every_time(monkeypatch) -> None:
    monkeypatch.setenv("GEOLM_CACHE", "off")
    builds = []
    for _ in range(2):
        cached_blocks(lambda: builds.append(1) or (TokenBlocks(*[torch.zeros(1, 2, dtype=torch.long)] * 2),) * 2, print)
    assert len(builds) == 2
