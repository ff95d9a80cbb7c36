"""Every filesystem write goes through here: write to a temporary sibling, then rename.

A run that fails part-way leaves the previous output intact and no half-written file behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from healthscore.errors import ConfigError

log = logging.getLogger(__name__)
TEMP_MARK = "tmp-pid"


def process_alive(pid: int) -> bool:
    """True when process ``pid`` of this machine still runs (someone else's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def sweep_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary siblings (``.NAME.tmp-pidPID.*``) that killed runs left in
    ``folder``; those of live processes (a concurrent run) are kept. Returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.glob(f".*.{TEMP_MARK}*"):
        pid = path.name.rsplit(f".{TEMP_MARK}", 1)[-1].split(".", 1)[0]
        if path.is_dir() and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.warning("removed %d temporary folder(s) left in %s by killed runs", len(removed),
                    folder)
    return removed


def writable_dir(path: str | Path, key: str) -> Path:
    """Create ``path`` if needed and check that files can be written in it, before any work.

    Raises :class:`ConfigError` naming the config ``key`` (e.g. ``workdir``) otherwise.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check."):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(key, [f"{key}: cannot write to {path} ({reason}); choose a folder "
                                "this user can write"]) from None
    return path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    Works for a file or a directory written at the yielded path. On error the temporary is
    removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # the pid in the name lets a later run remove what a killed one left (sweep_stale_temps)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.{TEMP_MARK}{os.getpid()}.",
                                    dir=target.parent))
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


def copy_file(source: str | Path, target: str | Path) -> Path:
    """Copy ``source`` to ``target`` atomically and return the target path."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return Path(target)


def write_partitioned_parquet(frame: pd.DataFrame, target: str | Path, column: str) -> Path:
    """Write ``frame`` atomically as a folder of Parquet files, one ``column=value/`` folder
    per value of ``column`` (the Hive layout Spark, DuckDB and pyarrow read as a table; the
    column lives in the folder names, not in the files). Dates are named in ISO form."""
    if frame[column].isna().any():
        raise ValueError(f"cannot partition by {column!r}: it has missing values")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        for value, part in frame.groupby(column, sort=True):
            text = value.isoformat() if hasattr(value, "isoformat") else str(value)
            folder = tmp / f"{column}={text}"
            folder.mkdir()
            part.drop(columns=column).to_parquet(folder / "part-0.parquet", index=False)
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
