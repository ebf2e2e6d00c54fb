"""Quiet by default: the libraries' progress bars, info logs and warnings stay off unless `geolm --verbose`.

geolm's own progress bars and messages are unaffected. The switches are environment variables that
transformers, datasets and huggingface_hub read when they are imported, so setting them costs no import; a
value the user set already wins.
"""

from __future__ import annotations

import os
import warnings

QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # also transformers' "Loading weights" bar
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # "Generating train split", "Map"
    "TRANSFORMERS_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
NOISY_LIBRARIES = r"(torch|transformers|datasets|huggingface_hub|accelerate|tokenizers|lm_eval|matplotlib)(\.|$)"


def quiet_libraries() -> None:
    """Turn off the libraries' progress bars, logs below error, and warnings raised inside them."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", module=NOISY_LIBRARIES)
