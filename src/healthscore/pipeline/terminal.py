"""The terminal the command line writes to: the two consoles, tables and the progress bar,
shared by the commands (:mod:`~healthscore.pipeline.cli`) and their views
(:mod:`~healthscore.pipeline.views`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# Piped output (cron logs, CI) gets wide tables instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


def table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    """A titled table: the first column left-aligned, the others right-aligned."""
    out = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        out.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*(str(v) for v in row))
    return out


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator:
    """Yield a ``progress(step, done, total)`` callback drawing a rich progress bar."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(step: str, done: int, total: int) -> None:
            key = step.split(":")[0]
            if key not in tasks:
                tasks[key] = bar.add_task(step, total=total)
            bar.update(tasks[key], completed=done, total=total, description=step)

        yield update
