"""Open validated input data: the single entry point later stages use."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from healthscore.data.loaders import (
    RawTable,
    cached_fingerprint,
    fetch_row,
    fingerprint_frames,
    register_frames,
    register_sources,
    resolve_sources,
)
from healthscore.data.schema import TABLES
from healthscore.data.settings import DataConfig, EngineConfig
from healthscore.data.validate import create_typed_views, validate_raw
from healthscore.errors import DataSourceError, DataValidationError, Violation
from healthscore.io import write_text
from healthscore.sql import identifier, literal

log = logging.getLogger(__name__)


@dataclass
class Dataset:
    """Validated input tables as typed DuckDB views named after the contract tables."""

    con: duckdb.DuckDBPyConnection
    tables: tuple[str, ...]
    end_date: dt.date
    fingerprint: str
    # records in the work dir's cache what opening learnt (the fingerprint, passed checks):
    # called by a command once it succeeded, so a failed run writes nothing
    remember: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)

    def has(self, table: str) -> bool:
        """Whether ``table`` was given (optional tables may be absent)."""
        return table in self.tables

    def frame(self, table: str) -> pd.DataFrame:
        """Return a typed table as a pandas DataFrame (for small tables and tests)."""
        return self.con.sql(f"SELECT * FROM {identifier(table)}").df()

    def row_counts(self) -> dict[str, int]:
        """Rows per present table."""
        counts = {}
        for table in self.tables:
            (count,) = fetch_row(self.con, f"SELECT count(*) FROM {identifier(table)}")
            counts[table] = int(count)
        return counts


def connect(engine: EngineConfig | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the project's settings: no progress bar on stdout (the CLI
    draws its own), bounded memory with spilling, insertion order not preserved."""
    engine = engine or EngineConfig()
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        # In Jupyter without ipywidgets DuckDB refuses to change the setting: there its
        # progress bar is off already.
        log.debug("DuckDB progress bar setting unavailable here (Jupyter without ipywidgets)")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = {literal(engine.memory_limit)}")
    if engine.threads:
        con.execute(f"SET threads = {literal(int(engine.threads))}")
    if engine.temp_directory:
        con.execute(f"SET temp_directory = {literal(str(engine.temp_directory))}")
    return con


def default_end_date() -> dt.date:
    """The day before today: data dated today is still arriving."""
    return dt.date.today() - dt.timedelta(days=1)


# checks the raw tables (views raw_<table> of the connection): every contract violation
Checker = Callable[[duckdb.DuckDBPyConnection, Mapping[str, RawTable], dt.date], list[Violation]]


def _finish(
    con: duckdb.DuckDBPyConnection, raws: Mapping[str, RawTable], end_date: dt.date, fp: str,
    check: Checker = validate_raw,
) -> Dataset:
    missing = [n for n, spec in TABLES.items() if spec.required and n not in raws]
    if missing:
        raise DataSourceError(f"required table(s) {missing} were not given")
    violations = check(con, raws, end_date)
    if violations:
        raise DataValidationError(violations)
    create_typed_views(con, raws)
    present = tuple(n for n in TABLES if n in raws)
    log.info("validated %d tables (%s) up to %s", len(present), ", ".join(present), end_date)
    return Dataset(con=con, tables=present, end_date=end_date, fingerprint=fp)


FINGERPRINT_CACHE = "data-fingerprints.json"  # in the cache dir: see fingerprint_sources
CHECKS_PASSED = "data-checks"  # in the cache dir: one file per data that passed the checks


def open_dataset(data: DataConfig, con: duckdb.DuckDBPyConnection | None = None,
                 check: Checker = validate_raw, cache_dir: Path | None = None,
                 reuse_checks: bool = False) -> Dataset:
    """Find, load and validate every table in ``data``; raise one error listing all problems.

    ``check``: what lists the contract's violations (default: DuckDB; the Spark engine passes
    its own, see ``healthscore.features.spark_data``). ``cache_dir``: where the data
    fingerprint is cached between runs (:func:`fingerprint_sources`). ``reuse_checks`` (with
    ``cache_dir`` and the default checks): skip the contract checks when the same data (the
    same fingerprint and columns), end date and contract code passed them before. Nothing is
    written until the caller calls ``dataset.remember()``."""
    con = con or connect(data.engine)
    sources = resolve_sources(data)
    raws = register_sources(con, sources)
    end_date = data.end_date or default_end_date()
    fingerprint, save_fingerprint = cached_fingerprint(
        sources, cache_dir / FINGERPRINT_CACHE if cache_dir is not None else None)
    passed = None
    if reuse_checks and cache_dir is not None and check is validate_raw:
        passed = cache_dir / CHECKS_PASSED / f"{_checks_key(fingerprint, end_date, raws)}.ok"
        if passed.is_file():
            log.info("data unchanged since it passed the contract checks (%s): not checked "
                     "again", passed.name)
            check = _passed_before
    dataset = _finish(con, raws, end_date, fingerprint, check)
    checked = passed is not None and check is validate_raw

    def remember() -> None:
        save_fingerprint()
        if checked:
            try:
                write_text(f"{fingerprint} {end_date.isoformat()}\n", passed)
            except OSError as exc:  # a read-only cache: the checks run every time
                log.debug("could not record the passed checks in %s: %s", passed, exc)

    dataset.remember = remember
    return dataset


def _passed_before(con: duckdb.DuckDBPyConnection, raws: Mapping[str, RawTable],
                   end_date: dt.date) -> list[Violation]:
    return []


def _checks_key(fingerprint: str, end_date: dt.date, raws: Mapping[str, RawTable]) -> str:
    """What the contract checks' outcome depends on: the data, its columns, the end date and
    the code of the rules (the contract, the loaders and the checks themselves)."""
    from healthscore import __version__
    from healthscore.data import loaders, schema, validate

    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([fingerprint, end_date.isoformat(), __version__,
                              sorted((n, list(r.columns), r.origin) for n, r in raws.items())]
                             ).encode())
    for module in (schema, loaders, validate):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def dataset_from_frames(
    frames: Mapping[str, pd.DataFrame],
    end_date: dt.date,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Dataset:
    """Validate in-memory tables (contract column names) into a :class:`Dataset`."""
    con = con or connect()
    raws = register_frames(con, frames)
    return _finish(con, raws, end_date, fingerprint_frames(frames))
