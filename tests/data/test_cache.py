"""The cache of the embedded corpus's tokenizer and of every run's shards: where it lives, what its keys hold,
and that a cached entry equals a fresh build."""

from __future__ import annotations

from pathlib import Path

import pytest

from geolm.data.cache import cache_root, cached_shards, cached_tokenizer, entry_key
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


def test_shards_are_built_once_and_a_damaged_entry_is_built_again(cache: Path) -> None:
    builds, said = [], []

    def build(directory: Path) -> None:
        builds.append(directory)
        (directory / "train-00000.tokens").write_bytes(b"\0\0")
        (directory / "index.json").write_text("{}")  # written last: its presence marks a whole entry

    first = cached_shards(build, said.append, seed=0)
    second = cached_shards(build, said.append, seed=0)
    assert first == second == cache / entry_key("shards", seed=0) and len(builds) == 1
    assert builds[0] != first and not builds[0].exists()  # built aside, then renamed into place
    assert said == [f"data: cached in {first}"]
    (first / "index.json").unlink()  # an entry cut short
    assert cached_shards(build, said.append, seed=0) == first and len(builds) == 2
    assert cached_shards(build, said.append, seed=1) != first and len(builds) == 3


def test_the_cache_off_builds_every_time_in_a_directory_of_its_own(monkeypatch) -> None:
    monkeypatch.setenv("GEOLM_CACHE", "off")
    built = [cached_shards(lambda directory: None, print) for _ in range(2)]
    assert built[0] != built[1] and all(path.is_dir() for path in built)
