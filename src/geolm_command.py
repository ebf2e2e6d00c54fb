"""The `geolm` console script.

It lives outside the `geolm` package so that importing it first tells `geolm/__init__.py` not to import torch
and transformers: `geolm --help`, `geolm VERB --help` and `geolm presets` then start in a fraction of a second,
and the CLI registers the models with the Auto classes only when a verb runs.
"""

import gc


def main() -> None:
    from geolm.cli.main import main as run

    try:
        run()
    finally:
        # The process is about to end: spare it the collector's walk over every object left (seconds after a
        # run on the embedded corpus, and after Ctrl-C); the operating system frees the memory at once.
        gc.freeze()
