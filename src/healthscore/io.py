"""Every filesystem write goes through here: write to a temporary sibling, then rename.

A run that fails part-way leaves the previous output intact and no half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    Works for a file or a directory written at the yielded path. On error the temporary is
    removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp = tmp_dir / target.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp} for {target}")
        if tmp.is_dir() and target.exists():
            # Directories cannot be replaced in one rename: move the old one aside first.
            old = tmp_dir / (target.name + ".old")
            os.replace(target, old)
            os.replace(tmp, target)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def write_parquet(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write ``frame`` to Parquet atomically and return the path."""
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(target)


def write_csv(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write ``frame`` to CSV atomically and return the path."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(target)


def write_text(text: str, target: str | Path) -> Path:
    """Write ``text`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)
