"""Where semantic categories for the clustering test come from: a small built-in list, or any other source.

A source is anything with a `name` and a `categories()` method returning {category: [word, ...]}; the report
names the source used, so numbers from the built-in list are never mistaken for WordNet ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

BUILTIN_WORDS: dict[str, tuple[str, ...]] = {
    "animals": (
        "dog",
        "cat",
        "horse",
        "cow",
        "sheep",
        "goat",
        "pig",
        "wolf",
        "bear",
        "lion",
        "tiger",
        "rabbit",
        "mouse",
        "deer",
        "fox",
        "eagle",
        "owl",
        "snake",
        "frog",
        "whale",
        "shark",
        "duck",
    ),
    "colours": (
        "red",
        "blue",
        "green",
        "yellow",
        "orange",
        "purple",
        "pink",
        "brown",
        "black",
        "white",
        "grey",
        "violet",
        "crimson",
        "scarlet",
    ),
    "body": (
        "hand",
        "foot",
        "head",
        "arm",
        "leg",
        "eye",
        "ear",
        "nose",
        "mouth",
        "tooth",
        "finger",
        "knee",
        "shoulder",
        "neck",
        "heart",
        "lung",
        "liver",
        "skin",
    ),
    "food": (
        "bread",
        "cheese",
        "butter",
        "rice",
        "meat",
        "soup",
        "apple",
        "banana",
        "potato",
        "onion",
        "egg",
        "milk",
        "sugar",
        "salt",
        "cake",
        "pasta",
        "bean",
        "carrot",
    ),
    "emotions": (
        "joy",
        "anger",
        "fear",
        "sadness",
        "love",
        "hate",
        "pride",
        "shame",
        "guilt",
        "envy",
        "hope",
        "grief",
        "delight",
        "anxiety",
        "calm",
    ),
    "motion": (
        "run",
        "walk",
        "jump",
        "swim",
        "fly",
        "crawl",
        "climb",
        "ride",
        "drive",
        "march",
        "skip",
        "dance",
        "slide",
        "roll",
    ),
    "time": (
        "day",
        "night",
        "week",
        "month",
        "year",
        "hour",
        "minute",
        "second",
        "morning",
        "evening",
        "noon",
        "century",
        "decade",
        "season",
    ),
    "tools": (
        "hammer",
        "saw",
        "drill",
        "knife",
        "axe",
        "wrench",
        "chisel",
        "shovel",
        "rake",
        "needle",
        "scissors",
        "screwdriver",
        "pliers",
        "spade",
    ),
    "places": (
        "city",
        "town",
        "village",
        "house",
        "school",
        "church",
        "market",
        "harbour",
        "forest",
        "desert",
        "island",
        "valley",
        "mountain",
        "river",
    ),
}


class CategorySource(Protocol):
    """Anything that names itself and returns word lists per category."""

    name: str

    def categories(self) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class WordCategories:
    """A fixed mapping of category to words (the built-in list, or one a caller passes in)."""

    name: str
    words: Mapping[str, Sequence[str]] = field(default_factory=lambda: BUILTIN_WORDS)

    def categories(self) -> dict[str, list[str]]:
        return {cat: list(ws) for cat, ws in self.words.items()}


BUILTIN = WordCategories("builtin")
