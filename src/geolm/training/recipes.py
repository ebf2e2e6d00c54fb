"""Recipes: how `geolm train` trains a model by default, by name, so the CLI knows no family.

A recipe turns the run's tokenizer and training blocks into a curriculum and its named data sources. A
preset names its recipe (`register_preset(..., recipe="coordinate")`); "baseline" is one phase of language
modelling on the run's data. Systems register theirs in their training module (see `geolm.systems`).

A recipe may also declare command-line flags of its own (`declare_flags`): `geolm train` hands every flag it
does not know to the run's recipe, which reads them with argparse and says what they set (`RecipeFlags`):
model config overrides, trainer settings, options of its own builder and where the run starts. So a family's
flags live with the family, and `geolm train` stays the same for all of them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from geolm.data import TokenBlocks
from geolm.errors import ConfigError, did_you_mean
from geolm.nn.registry import Registry
from geolm.training.curriculum import Curriculum


@dataclass(frozen=True)
class RecipeInputs:
    """What a recipe may build on: the run's tokenizer and data, its block size and seed, and the options its
    flags chose (`RecipeFlags.recipe`)."""

    tokenizer: Any
    train: TokenBlocks
    block_size: int
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)


Recipe = Callable[[RecipeInputs], tuple[Curriculum, dict[str, TokenBlocks]]]

RECIPES: Registry[Recipe] = Registry("recipe", noun="recipe")
TRAIN_SOURCE = "train"  # the name the run's own data goes by in a recipe's sources


@RECIPES.register("baseline")
def baseline_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """One phase of language modelling on the run's data."""
    return Curriculum.baseline(), {TRAIN_SOURCE: inputs.train}


@dataclass(frozen=True)
class RecipeStart:
    """Where a run starts when a recipe's flag says so: phase `phase` from the checkpoint `checkpoint`, a path
    inside the run directory; `flag` names the flag in errors."""

    phase: int | str
    checkpoint: str
    flag: str


@dataclass(frozen=True)
class RecipeFlags:
    """What a recipe's flags set, in four parts.

    `config`: model config overrides (`part_options` is `{kind: {key: value}}`, merged into the base config's
    options by `config_overrides`, not replacing them); `train`: `TrainArgs` fields, plus "block_size";
    `recipe`: options the recipe's builder reads (`RecipeInputs.options`); `start`: where the run starts.
    """

    config: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    start: RecipeStart | None = None

    def config_overrides(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """`config` with its part options merged per kind into `base`'s (`geolm.config.merge_overrides`)."""
        from geolm.config import merge_overrides

        return merge_overrides(dict(base), self.config)


@dataclass(frozen=True)
class RecipeFlag:
    """One flag of a recipe: `--name VALUE`, the value read by `value` (which raises
    `argparse.ArgumentTypeError` with what is wrong), or a switch without a value when `value` is None."""

    name: str
    help: str
    value: Callable[[str], Any] | None = None
    metavar: str | None = None


Apply = Callable[[argparse.Namespace, Mapping[str, Any]], RecipeFlags]


@dataclass(frozen=True)
class FlagSet:
    """A recipe's flags and the function turning their parsed values (None or False: not given) and the run's
    base model config fields into `RecipeFlags`."""

    flags: tuple[RecipeFlag, ...]
    apply: Apply
    description: str = ""


RECIPE_FLAGS: dict[str, FlagSet] = {}


def declare_flags(recipe: str, flags: Sequence[RecipeFlag], apply: Apply, description: str = "") -> None:
    """Give recipe `recipe` command-line flags; its training module calls this next to `RECIPES.register`."""
    if recipe in RECIPE_FLAGS:
        raise ValueError(f"recipe {recipe!r} already declares flags")
    RECIPE_FLAGS[recipe] = FlagSet(tuple(flags), apply, description)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one-line `ConfigError`s naming the flag and the recipe, never an exit."""

    def __init__(self, recipe: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recipe = recipe

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message.removeprefix('argument ')} (a flag of recipe {self.recipe!r})")


def recipe_parser(recipe: str) -> argparse.ArgumentParser | None:
    """The argparse parser of a recipe's flags; None when it declares none (an unknown recipe is an error)."""
    RECIPES.get(recipe)
    declared = RECIPE_FLAGS.get(recipe)
    if declared is None:
        return None
    parser = _Parser(
        recipe,
        prog=f"geolm train ... (recipe {recipe!r})",
        description=declared.description or None,
        add_help=False,
        allow_abbrev=False,
    )
    for flag in declared.flags:
        if flag.value is None:
            parser.add_argument(flag.name, action="store_true", help=flag.help)
        else:
            parser.add_argument(flag.name, type=flag.value, metavar=flag.metavar, help=flag.help)
    return parser


def parse_recipe_flags(
    recipe: str, args: Sequence[str], base: Mapping[str, Any], own_flags: Collection[str] = ()
) -> RecipeFlags:
    """Read the flags `geolm train` did not know as recipe `recipe`'s; `base` is the run's model config fields
    before overrides (the preset's, or a config file's). Any other flag is a `ConfigError` naming it, with the
    closest of `own_flags` (geolm train's own flags) and the recipe's flags as a suggestion."""
    parser = recipe_parser(recipe)
    if parser is None:
        if args:
            raise ConfigError(unknown_flag(args[0], recipe, [], own_flags))
        return RecipeFlags()
    values, unknown = parser.parse_known_args(list(args))
    if unknown:
        raise ConfigError(unknown_flag(unknown[0], recipe, [f.name for f in RECIPE_FLAGS[recipe].flags], own_flags))
    return RECIPE_FLAGS[recipe].apply(values, base)


def unknown_flag(arg: str, recipe: str, recipe_flags: Sequence[str], own_flags: Collection[str] = ()) -> str:
    """The message for `arg`, a flag neither geolm train nor the recipe knows."""
    flag = arg.split("=", 1)[0]
    hint = did_you_mean(flag, [*own_flags, *recipe_flags])
    takes = f"takes {', '.join(recipe_flags)}" if recipe_flags else "takes no flags"
    return f"geolm train has no flag {flag}{hint}; recipe {recipe!r} {takes}"


def recipe_flags_help(recipe: str) -> str:
    """What `geolm train --recipe-flags` prints: argparse's help of the recipe's flags."""
    parser = recipe_parser(recipe)
    if parser is None:
        return f"recipe {recipe!r} takes no flags of its own\n"
    return parser.format_help()


def positive_int(text: str) -> int:
    """A flag value that must be a whole number above 0."""
    return _whole(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """A flag value that must be a whole number, 0 or more."""
    return _whole(text, 0, "0 or a positive integer")


def positive_float(text: str) -> float:
    """A flag value that must be a number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _whole(text: str, least: int, allowed: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
    return value
