"""Fixtures of the data tests: a tiny trained tokenizer and a tiny WordNet dict in WordNet's file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from geolm.data.tokenizer import train_tokenizer

TEXTS = [
    "What is a heron? A heron is a wading bird with long legs.",
    "The quick brown fox jumps over the lazy dog.",
    "Hello world. Hello again, world!",
    "A wading bird is a bird. So a heron is a bird.",
] * 20

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
DATA_NOUN = HEADER + (
    "00001740 03 n 01 entity 0 001 ~ 00002000 n 0000 | that which exists  \n"
    "00002000 05 n 01 bird 0 002 @ 00001740 n 0000 ~ 00003000 n 0000 | warm-blooded egg-laying vertebrates; "
    '"birds fly"  \n'
    "00003000 05 n 02 wading_bird 0 wader 0 002 @ 00002000 n 0000 ~ 00004000 n 0000 | a long-legged bird  \n"
    "00004000 05 n 01 heron 0 001 @ 00003000 n 0000 | grey or white wading bird with long neck; "
    '"the heron stood still"; "herons fish"  \n'
    "00005000 05 n 01 goose 0 001 @ 00002000 n 0000 | web-footed bird  \n"
)
DATA_VERB = HEADER + (
    "00006000 38 v 01 walk 0 001 ! 00007000 v 0101 01 + 02 00 | use one's feet to advance; "
    '"we walked to town"  \n'
    "00007000 38 v 01 stop 0 000 02 + 01 00 + 02 00 | come to a halt  \n"
)
INDEX_NOUN = HEADER + (
    "bird n 1 2 @ ~ 1 0 00002000  \n"
    "heron n 1 1 @ 1 0 00004000  \n"
    "wading_bird n 1 2 @ ~ 1 0 00003000  \n"
    "wader n 2 1 @ 2 0 09999999 00003000  \n"
)
NOUN_EXC = "geese goose\n"
VERB_EXC = "stopped stop\nstopping stop\n"
CNTLIST = "heron%1:05:00:: 1 4\nbird%1:05:00:: 1 10\n"


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return TEXTS


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(TEXTS, vocab_size=400, min_frequency=1)


@pytest.fixture
def wordnet_dir(tmp_path: Path) -> Path:
    files = {
        "data.noun": DATA_NOUN,
        "data.verb": DATA_VERB,
        "index.noun": INDEX_NOUN,
        "noun.exc": NOUN_EXC,
        "verb.exc": VERB_EXC,
        "cntlist.rev": CNTLIST,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path
