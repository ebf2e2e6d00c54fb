"""Recipes: how `geolm train` trains a model by default, by name, so the CLI knows no family.

A recipe turns the run's tokenizer and training blocks into a curriculum and its named data sources. A
preset names its recipe (`register_preset(..., recipe="coordinate")`); "baseline" is one phase of language
modelling on the run's data. Systems register theirs in their training module (see `geolm.systems`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geolm.data import TokenBlocks
from geolm.nn.registry import Registry
from geolm.training.curriculum import Curriculum


@dataclass(frozen=True)
class RecipeInputs:
    """What a recipe may build on: the run's tokenizer and data, its block size and seed."""

    tokenizer: Any
    train: TokenBlocks
    block_size: int
    seed: int


Recipe = Callable[[RecipeInputs], tuple[Curriculum, dict[str, TokenBlocks]]]

RECIPES: Registry[Recipe] = Registry("recipe", noun="recipe")
TRAIN_SOURCE = "train"  # the name the run's own data goes by in a recipe's sources


@RECIPES.register("baseline")
def baseline_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """One phase of language modelling on the run's data."""
    return Curriculum.baseline(), {TRAIN_SOURCE: inputs.train}
