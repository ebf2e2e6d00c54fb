"""A cache of the work runs repeat: the embedded corpus's tokenizer, and every run's data tokenized into shards.

Entries live under `$GEOLM_CACHE` (default `$XDG_CACHE_HOME/geolm`, else `~/.cache/geolm`; `GEOLM_CACHE=off`
turns the cache off). A key is a hash of everything the result depends on: the embedded corpus file, the source
of the code that builds documents from it, the package version, and the settings of the step (vocabulary size,
seed, the input files' sizes and times, the tokenizer itself for shards). Entries are written atomically; one
that cannot be read is rebuilt and replaced.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

OFF = {"off", "0", "false", "no"}
UNREADABLE = (OSError, KeyError, ValueError)  # json.JSONDecodeError is a ValueError
T = TypeVar("T")


def cache_root() -> Path | None:
    """The cache directory, or None when `GEOLM_CACHE` turns the cache off."""
    chosen = os.environ.get("GEOLM_CACHE", "").strip()
    if chosen.lower() in OFF:
        return None
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "geolm"


@functools.cache
def corpus_fingerprint() -> str:
    """A hash of the embedded corpus and of the code that turns it into documents."""
    import geolm
    from geolm.data import corpus

    data = Path(corpus.__file__).parent
    digest = hashlib.sha256(geolm.__version__.encode())
    for path in sorted([*data.glob("embedded/*"), *data.glob("*.py")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def entry_key(kind: str, **settings: Any) -> str:
    """The name of a cache entry: the kind, then a hash of the corpus and the settings."""
    text = json.dumps({"corpus": corpus_fingerprint(), **settings}, sort_keys=True)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerFast) -> str:
    """A hash of the tokenizer's vocabulary, merges, normalisation and special tokens."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()


def _cached(
    path: Path | None,
    what: str,
    build: Callable[[], T],
    load: Callable[[Path], T],
    store: Callable[[Path, T], None],
    say: Callable[[str], None],
) -> T:
    """`load(path)` when the entry is there and readable, else `build()`, stored with `store` (atomically)."""
    if path is None:
        return build()
    if path.exists():
        try:
            value = load(path)
            say(f"{what}: cached in {path}")
            return value
        except UNREADABLE:  # a damaged entry: build it again below
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    value = build()
    store(path, value)
    return value


def cached_tokenizer(
    build: Callable[[], PreTrainedTokenizerFast], say: Callable[[str], None], **settings: Any
) -> PreTrainedTokenizerFast:
    """The tokenizer `build` makes for these settings, from the cache when it holds one."""
    from transformers import AutoTokenizer

    from geolm.files import usual_permissions

    def store(path: Path, tokenizer: PreTrainedTokenizerFast) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
        try:
            tokenizer.save_pretrained(staging)
            usual_permissions(staging)
            os.replace(staging, path)  # atomic: a reader sees the whole directory or none
        except OSError:
            pass  # another run stored the same entry first; ours is equal to it
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    root = cache_root()
    path = root / entry_key("tokenizer", **settings) if root else None
    return _cached(path, "tokenizer", build, AutoTokenizer.from_pretrained, store, say)


def cached_shards(build: Callable[[Path], None], say: Callable[[str], None], **settings: Any) -> Path:
    """The shards directory `build(directory)` writes for these settings: from the cache when it holds a whole
    one (its index is written last), else built in a staging directory and renamed into place. With the cache
    off, a temporary directory removed when the process ends."""
    from geolm.data.shards import INDEX

    root = cache_root()
    if root is None:
        temporary = Path(tempfile.mkdtemp(prefix="geolm-shards-"))
        atexit.register(shutil.rmtree, temporary, ignore_errors=True)
        build(temporary)
        return temporary
    path = root / entry_key("shards", **settings)
    if (path / INDEX).is_file():
        say(f"data: cached in {path}")
        return path
    shutil.rmtree(path, ignore_errors=True)  # a damaged entry: build it again
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=root))
    try:
        build(staging)
        os.replace(staging, path)  # atomic: a reader sees the whole directory or none
    except OSError:
        if not (path / INDEX).is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
