"""A recipe's options as `geolm train` flags: one flag per field of its options class, read with argparse.

`--cycle-preset NAME` sets `cycle_preset`; a bool field whose default is False is a switch. A value is read
by the field's `parse` and checked by its test as the flag is read, so a bad one is a one-line error naming
the flag; the checks across several options run when the options are built.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Sequence
from dataclasses import Field, fields
from typing import Any, NoReturn

from geolm.errors import ConfigError, did_you_mean, flag_name
from geolm.training.recipes import SETS, OptionTextError, RecipeOptions, options_class


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one-line `ConfigError`s naming the flag and the recipe, never an exit."""

    def __init__(self, recipe: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recipe = recipe

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message.removeprefix('argument ')} (a flag of recipe {self.recipe!r})")


def is_switch(spec: Field) -> bool:
    return spec.default is False


def read_value(spec: Field) -> Any:
    """The argparse `type` of a field's flag: its `parse`, then its test."""
    allowed, parse, check = spec.metadata["allowed"], spec.metadata["parse"], spec.metadata["check"]

    def read(text: str) -> Any:
        try:
            value = parse(text)
        except OptionTextError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value

    return read


def recipe_parser(recipe: str) -> argparse.ArgumentParser | None:
    """The parser of a recipe's flags, grouped by what they set; None when it takes no options."""
    cls = options_class(recipe)
    if cls is None:
        return None
    parser = _Parser(
        recipe,
        prog=f"geolm train ... (recipe {recipe!r})",
        description=(cls.__doc__ or "").strip().split("\n\n")[0] or None,
        add_help=False,
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
    )
    for sets, title in SETS.items():
        specs = [spec for spec in fields(cls) if spec.metadata["sets"] == sets]
        group = parser.add_argument_group(f"flags that set {title}") if specs else None
        for spec in specs:
            name, help_text = flag_name(spec.name), spec.metadata["help"]
            if is_switch(spec):
                group.add_argument(name, action="store_true", dest=spec.name, help=help_text)
            else:
                default = "" if spec.default is None else f" (default: {spec.default})"
                group.add_argument(
                    name,
                    type=read_value(spec),
                    dest=spec.name,
                    metavar=spec.metadata["metavar"],
                    help=help_text + default,
                )
    return parser


def parse_recipe_flags(recipe: str, args: Sequence[str], own_flags: Collection[str] = ()) -> RecipeOptions:
    """The options of recipe `recipe` that the flags `geolm train` did not know set. Any other flag is a
    `ConfigError` naming it, with the closest of `own_flags` (geolm train's own) and the recipe's flags as a
    suggestion."""
    parser = recipe_parser(recipe)
    if parser is None:
        if args:
            raise ConfigError(unknown_flag(args[0], recipe, [], own_flags))
        return RecipeOptions()
    values, unknown = parser.parse_known_args(list(args))
    cls = options_class(recipe)
    if unknown:
        raise ConfigError(unknown_flag(unknown[0], recipe, [flag_name(spec.name) for spec in fields(cls)], own_flags))
    return cls.from_mapping(vars(values))


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
