"""One exception hierarchy for everything a user can get wrong.

The CLI catches `GeoError`, prints its message on one line and exits non-zero; anything else is a bug and
keeps its traceback.
"""


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
