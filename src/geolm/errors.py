"""One exception hierarchy for everything a user can get wrong.

The CLI catches `GeoError`, prints its message on one line and exits non-zero; anything else is a bug and
keeps its traceback.
"""

import difflib
from collections.abc import Iterable


class GeoError(Exception):
    """Base class of user-facing errors: the message alone must say what is wrong and where."""


class ConfigError(GeoError, ValueError):
    """An unknown config key, a bad value, or an unknown preset or part name."""


class DataError(GeoError, ValueError):
    """Malformed, empty or undecodable training data (the message names file, line and field)."""


class CheckpointError(GeoError):
    """A missing, incomplete or mismatched checkpoint."""


class TrainingError(GeoError):
    """Training cannot go on (for example too many non-finite steps in a row)."""


class InputError(GeoError, ValueError):
    """Bad input at run time, such as a prompt longer than the context window."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the choice closest to `name`, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_names(kind: str, names: Iterable[str], allowed: Iterable[str]) -> str:
    """One line naming each unknown `kind` with its own suggestion; lists `allowed` only when some name has none."""
    choices = list(dict.fromkeys(allowed))
    unknown = sorted(set(names))
    hints = [did_you_mean(name, choices) for name in unknown]
    listed = ", ".join(f"{name!r}{hint}" for name, hint in zip(unknown, hints, strict=True))
    message = f"unknown {kind}{'s' if len(unknown) > 1 else ''} {listed}"
    if not all(hints):
        message += f"; allowed: {', '.join(choices) or 'none'}"
    return message


def flag_name(key: str) -> str:
    """The command-line spelling of setting `key`: "mixed_precision" -> "--mixed-precision"."""
    return "--" + key.replace("_", "-")
