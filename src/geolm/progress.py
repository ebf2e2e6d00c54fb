"""One progress bar for long data work: a count (of a total where known) and the time elapsed, on stderr.

The bar is transient and drawn only on a terminal, so piped output and logs stay clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def counted(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield `items` while the bar counts them."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
