"""Recipes: how `geolm train` trains a model by default, by name, so the CLI knows no family.

A recipe turns the run's tokenizer and training blocks into a curriculum and its named data sources. A
preset names its recipe (`register_preset(..., recipe="coordinate")`); "baseline" is one phase of language
modelling on the run's data. Systems register theirs in their training module (see `geolm.systems`).

A recipe may take options: a frozen dataclass deriving from `RecipeOptions`, declared with
`@declare_options(recipe)`, each field made with `recipe_option()` (default, check, help, and what it sets).
The recipe's builder reads them (`RecipeInputs.options`); they may also set model config fields, training
arguments and where the run starts (`RecipeOptions.settings`), which `geolm.api` applies to the run. `geolm
train` makes a flag of every field (`cycle_preset` is `--cycle-preset`) and hands the flags it does not know
to the run's recipe, so a family's flags live with the family and `geolm train` stays the same for all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from geolm.data import TokenBlocks
from geolm.errors import ConfigError
from geolm.nn.options import Check, Options, option
from geolm.nn.registry import Registry
from geolm.training.curriculum import Curriculum
from geolm.training.data import Blocks

SETS = {
    "model": "model config fields",
    "training": "training settings",
    "recipe": "the recipe's data and curriculum",
    "start": "where the run starts",
}


class OptionTextError(ValueError):
    """A flag's text a recipe option cannot read, with what is wrong (`recipe_option`'s `parse` raises it)."""


def recipe_option(
    default: Any,
    check: Check,
    allowed: str,
    help: str,
    *,
    sets: str = "recipe",
    parse: Callable[[str], Any] = str,
    metavar: str | None = None,
) -> Any:
    """A field of a recipe's options: its default, the test its values pass and the words for them, its flag's
    help, what it sets (a key of `SETS`), how its flag's text is read (`parse`; a bool field with default
    False is a switch without a value) and the value's name in the help."""
    if sets not in SETS:
        raise ValueError(f"sets must be one of {list(SETS)}, got {sets!r}")
    return option(default, check, allowed, help=help, sets=sets, parse=parse, metavar=metavar)


def maybe(check: Check) -> Check:
    """`check`, or None: an option that is not given."""
    return lambda value: value is None or check(value)


@dataclass(frozen=True)
class RecipeStart:
    """Where a run starts when a recipe's option says so: phase `phase` from the checkpoint `checkpoint`, a
    path inside the run directory; `option` names the option in errors."""

    phase: int | str
    checkpoint: str
    option: str


@dataclass(frozen=True)
class RecipeSettings:
    """What a recipe's options set besides its own data and curriculum.

    `config`: model config overrides (`part_options` is `{kind: {key: value}}`, merged per kind into the run's,
    not replacing them); `train`: `TrainArgs` fields, plus "block_size"; `start`: where the run starts.
    """

    config: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    start: RecipeStart | None = None


@dataclass(frozen=True)
class RecipeOptions(Options):
    """Base of every recipe's options; itself without any, the options of a recipe that takes none."""

    recipe: ClassVar[str] = ""

    @classmethod
    def where(cls) -> str:
        return f"recipe {cls.recipe!r} options"

    def given(self, sets: str | None = None) -> list[str]:
        """The options not at their defaults; only those that set `sets` when it is given."""
        return [
            spec.name
            for spec in fields(self)
            if getattr(self, spec.name) != spec.default and sets in (None, spec.metadata["sets"])
        ]

    def settings(self, base: Mapping[str, Any]) -> RecipeSettings:
        """What these options set over `base`, the run's model config fields (preset or config file, with the
        run's overrides); a `ConfigError` when they cannot apply to it. Nothing, unless a recipe says so."""
        return RecipeSettings()


Opts = TypeVar("Opts", bound=RecipeOptions)


@dataclass(frozen=True)
class RecipeInputs:
    """What a recipe may build on: the run's tokenizer and data, its block size and seed, and its options."""

    tokenizer: Any
    train: Blocks
    block_size: int
    seed: int
    options: RecipeOptions = field(default_factory=RecipeOptions)

    def options_as(self, cls: type[Opts]) -> Opts:
        """The options as the recipe's class `cls`: its defaults when none were given."""
        if type(self.options) is RecipeOptions:
            return cls()
        if not isinstance(self.options, cls):
            raise ConfigError(f"{cls.where()} are {cls.__name__}, got {type(self.options).__name__}")
        return self.options


Recipe = Callable[[RecipeInputs], tuple[Curriculum, dict[str, TokenBlocks]]]

RECIPES: Registry[Recipe] = Registry("recipe", noun="recipe")
RECIPE_OPTIONS: dict[str, type[RecipeOptions]] = {}
TRAIN_SOURCE = "train"  # the name the run's own data goes by in a recipe's sources


@RECIPES.register("baseline")
def baseline_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """One phase of language modelling on the run's data."""
    return Curriculum.baseline(), {TRAIN_SOURCE: inputs.train}


def declare_options(recipe: str) -> Callable[[type[RecipeOptions]], type[RecipeOptions]]:
    """Class decorator giving recipe `recipe` its options; its training module uses it next to
    `RECIPES.register`."""

    def add(cls: type[RecipeOptions]) -> type[RecipeOptions]:
        if RECIPE_OPTIONS.get(recipe, cls) is not cls:
            raise ValueError(f"recipe {recipe!r} already declares options")
        cls.recipe = recipe
        RECIPE_OPTIONS[recipe] = cls
        return cls

    return add


def options_class(recipe: str) -> type[RecipeOptions] | None:
    """The options class of a recipe, None when it takes none (an unknown recipe is a `ConfigError`)."""
    RECIPES.get(recipe)
    return RECIPE_OPTIONS.get(recipe)


def recipe_options(recipe: str, given: RecipeOptions | Mapping[str, Any] | None) -> RecipeOptions:
    """`given` as the checked options of recipe `recipe`: an instance of its class as it is, a mapping of
    field names to values read into it."""
    cls = options_class(recipe) or RecipeOptions
    if isinstance(given, RecipeOptions):
        if type(given) is not cls:
            takes = "no options" if cls is RecipeOptions else cls.__name__
            raise ConfigError(f"recipe {recipe!r} takes {takes}, got {type(given).__name__}")
        given.check()
        return given
    if cls is RecipeOptions and given:
        raise ConfigError(f"recipe {recipe!r} takes no options, got {', '.join(sorted(given))}")
    return cls.from_mapping(given or {})
