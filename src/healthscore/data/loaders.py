"""Load input tables into one DuckDB connection under their contract names.

Each table becomes a view ``raw_<table>`` over its source (Parquet/CSV file, folder or glob;
a DuckDB database; a SQL query through SQLAlchemy) with the user's columns renamed to the
contract's. :func:`healthscore.data.validate.validate_dataset` then checks the raw views and
creates typed views named after the tables, which every later stage queries.
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from healthscore.data.schema import TABLES, WIDE_KEY_COLUMNS, Kind
from healthscore.data.settings import DataConfig, TableSource
from healthscore.errors import DataSourceError
from healthscore.io import write_text
from healthscore.redact import redact_url, scrub, url_problem
from healthscore.sql import identifier, literal

log = logging.getLogger(__name__)

_FILE_FORMATS = ("parquet", "csv")


@dataclass
class RawTable:
    """A registered raw view: the contract columns it has and where it came from."""

    name: str
    columns: tuple[str, ...]
    origin: str
    missing_mapped: dict[str, str]  # contract column -> user column the mapping named but absent
    found: tuple[str, ...] = ()  # every column of the source, as named there


def fetch_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    """Run ``sql`` and return its single result row, fully fetched."""
    rows = con.execute(sql).fetchall()
    if len(rows) != 1:
        raise RuntimeError(f"expected one row, got {len(rows)} from: {sql[:200]}")
    return rows[0]


def _file_format(path: Path, declared: str, table: str) -> str:
    if declared != "auto":
        return declared
    suffixes = "".join(path.suffixes).lower()
    for fmt in _FILE_FORMATS:
        if f".{fmt}" in suffixes:
            return fmt
    if path.is_dir():
        for fmt in _FILE_FORMATS:
            if any(path.rglob(f"*.{fmt}")):
                return fmt
    raise DataSourceError(
        f"table {table!r}: cannot tell the format of {path}: name it *.parquet or *.csv, or "
        "set `format:`"
    )


_PARQUET_MAGIC = b"PAR1"


def source_files(path: Path, fmt: str | None, table: str) -> list[Path]:
    """The data files behind a path source (a file, a folder or a glob), sorted; the one
    reader of folder sources.

    In a folder every ``*.<fmt>`` file below it is read, except hidden and bookkeeping files
    (names starting with ``.`` or ``_``, as Spark and Hive write them). A path that exists is
    taken literally, so ``[`` or ``*`` in a real folder name is no pattern. Raises
    :class:`DataSourceError` when nothing matches or a file is empty or truncated.
    """
    if path.is_dir():
        pattern = f"*.{fmt}" if fmt else "*"
        files = sorted(p for p in path.rglob(pattern) if p.is_file()
                       and not any(part.startswith((".", "_"))
                                   for part in p.relative_to(path).parts))
        where = f"no *.{fmt} file in the folder {path}" if fmt else f"no file in {path}"
    elif path.exists():
        files, where = [path], ""
    else:
        files = sorted(Path(m) for m in glob.glob(str(path), recursive=True)
                       if Path(m).is_file())
        where = f"no file matches {path}" if any(ch in str(path) for ch in "*?[") else (
            f"{path} does not exist")
    if not files:
        raise DataSourceError(f"table {table!r}: {where}")
    if fmt:
        for file in files:
            _check_file(file, fmt, table)
    return files


def _check_file(file: Path, fmt: str, table: str) -> None:
    """Refuse an empty file, and a Parquet file without its start and end markers."""
    size = file.stat().st_size
    if size == 0:
        raise DataSourceError(f"table {table!r}: {file} is empty (0 bytes); an interrupted "
                              "export? Remove it or export the table again.")
    if fmt == "parquet":
        with file.open("rb") as handle:
            head = handle.read(4)
            handle.seek(max(size - 4, 0))
            tail = handle.read(4)
        if head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC:
            raise DataSourceError(f"table {table!r}: {file} is not a complete Parquet file "
                                  f"({size} bytes, no PAR1 marker at its "
                                  f"{'start' if head != _PARQUET_MAGIC else 'end'}); a truncated "
                                  "or partial export? Export the table again.")


def _scan_sql(source: TableSource, table: str, con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """Return (SQL relation text, human-readable origin) for a source."""
    if source.path is not None:
        path = source.path
        if not path.exists() and not any(ch in str(path) for ch in "*?["):
            raise DataSourceError(f"table {table!r}: {path} does not exist")
        fmt = _file_format(path, source.format, table)
        files = source_files(path, fmt, table)
        listed = "[" + ", ".join(literal(str(f)) for f in files) + "]"
        if fmt == "parquet":
            if source.delimiter or source.whitespace or not source.header:
                raise DataSourceError(f"table {table!r}: {path} is Parquet; delimiter, "
                                      "whitespace and header apply to CSV files only")
            return f"read_parquet({listed})", str(path)
        if source.whitespace:
            frame = read_whitespace_csv(files, source.header)
            con.register(f"ws_{table}", frame)
            return f"ws_{table}", str(path)
        return f"read_csv({listed}{csv_options_sql(source)})", str(path)
    if source.duckdb is not None:
        if not source.duckdb.exists():
            raise DataSourceError(f"table {table!r}: DuckDB file {source.duckdb} does not exist")
        alias = f"src_{table}"
        con.execute(f"ATTACH {literal(str(source.duckdb))} AS {alias} (READ_ONLY)")
        return f"{alias}.{identifier(source.table or table)}", f"{source.duckdb}:{source.table}"
    frame = read_sql_source(source.url or "", source.query or "", table)
    con.register(f"df_{table}", frame)
    return f"df_{table}", f"query on {redact_url(source.url or '')}"


def csv_options_sql(source: TableSource) -> str:
    """DuckDB ``read_csv`` options for a CSV source (header, delimiter, date format)."""
    options = [f"header = {'true' if source.header else 'false'}"]
    if source.delimiter is not None:
        options.append(f"delim = {literal(source.delimiter)}")
    if source.date_format is not None:
        options.append(f"dateformat = {literal(source.date_format)}")
    return "".join(f", {o}" for o in options)


def read_whitespace_csv(files: list[Path], header: bool) -> pd.DataFrame:
    """Read CSV files whose columns are separated by runs of spaces or tabs; without a
    header the columns are named column0, column1, ... (as DuckDB names them)."""
    frames = [pd.read_csv(f, sep=r"\s+", header=0 if header else None, engine="python")
              for f in files]
    frame = pd.concat(frames, ignore_index=True)
    if not header:
        frame.columns = [f"column{i}" for i in range(frame.shape[1])]
    return frame


# The package that provides each SQLAlchemy dialect's driver, for the error when it is missing.
DRIVER_PACKAGES = {
    "duckdb": "duckdb-engine", "postgresql": "'psycopg[binary]'",
    "psycopg": "'psycopg[binary]'", "psycopg2": "psycopg2-binary", "pg8000": "pg8000",
    "asyncpg": "asyncpg", "pymysql": "pymysql", "mysqldb": "mysqlclient",
    "mysql": "pymysql", "mariadb": "pymysql", "mssql": "pyodbc", "oracle": "oracledb",
    "snowflake": "snowflake-sqlalchemy", "bigquery": "sqlalchemy-bigquery",
    "redshift": "sqlalchemy-redshift", "databricks": "databricks-sqlalchemy",
    "trino": "trino", "clickhouse": "clickhouse-sqlalchemy", "sqlite": "(built in)",
}


def missing_driver_message(url: str, table: str, exc: Exception) -> str:
    """What to install when a database URL's SQLAlchemy dialect or DBAPI driver is missing."""
    scheme = url.split("://", 1)[0]
    dialect, _, driver = scheme.partition("+")
    package = DRIVER_PACKAGES.get(driver) or DRIVER_PACKAGES.get(dialect)
    install = (f"install its driver: pip install {package}" if package and "(" not in package
               else f"install the SQLAlchemy driver package for {dialect!r}")
    hint = (" (or read a DuckDB file directly: `duckdb: <file>` and `table:` instead of `url:`)"
            if dialect == "duckdb" else "")
    return (f"table {table!r}: no SQLAlchemy driver for {redact_url(url)} is installed; "
            f"{install}{hint}. ({type(exc).__name__}: {scrub(str(exc))})")



def read_sql_source(url: str, query: str, table: str) -> pd.DataFrame:
    """Run ``query`` against a SQLAlchemy ``url`` and return the result."""
    import sqlalchemy
    from sqlalchemy.exc import NoSuchModuleError

    problem = url_problem(url)
    if problem:
        raise DataSourceError(f"table {table!r}: the url {redact_url(url)} cannot be used: "
                              f"{problem}")
    try:
        engine = sqlalchemy.create_engine(url)
    except (NoSuchModuleError, ImportError) as exc:
        raise DataSourceError(missing_driver_message(url, table, exc)) from exc
    except Exception as exc:  # a malformed URL
        raise DataSourceError(f"table {table!r}: cannot use {redact_url(url)}: "
                              f"{scrub(str(exc))}") from exc
    try:
        with engine.connect() as conn:
            return pd.read_sql(sqlalchemy.text(query), conn)
    except Exception as exc:  # driver errors have no common base class
        raise DataSourceError(
            f"table {table!r}: query against {redact_url(url)} failed: {scrub(str(exc))}"
        ) from exc


def _describe(con: duckdb.DuckDBPyConnection, table: str, relation: str,
              origin: str) -> dict[str, str]:
    """Column name -> DuckDB type of a source relation."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error as exc:
        raise DataSourceError(f"table {table!r}: cannot read {origin}: {exc}") from exc
    return {row[0]: str(row[1]) for row in rows}


_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN")


def melt_wide_metrics(con: duckdb.DuckDBPyConnection, relation: str, source: TableSource,
                      origin: str) -> str:
    """A relation in the long metrics shape (account id, date, metric, value) over a wide export
    with one column per metric (``source.value_columns``); empty cells are dropped.

    Numeric columns are melted as DOUBLE; if any value column holds text, every value is melted
    as text so that validation reports the cells that are not numbers.
    """
    types = _describe(con, "metrics", relation, origin)
    lookup = {c.lower(): c for c in types}
    missing = [c for c in source.value_columns if c.lower() not in lookup]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, list(types), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise DataSourceError(
            f"table 'metrics': value_columns {', '.join(hints)} not found in {origin}; its "
            f"columns: {list(types)[:30]}")
    actual = [lookup[c.lower()] for c in source.value_columns]
    numeric = all(types[c].upper().startswith(_NUMERIC_TYPES) for c in actual)
    target = "DOUBLE" if numeric else "VARCHAR"
    keys = []
    for col in WIDE_KEY_COLUMNS:
        user_col = lookup.get(source.columns.get(col, col).lower())
        if user_col is not None:
            keys.append(f"{identifier(user_col)} AS {identifier(col)}")
    values = ", ".join(f"CAST({identifier(c)} AS {target}) AS {identifier(c)}" for c in actual)
    on = ", ".join(identifier(c) for c in actual)
    return (f"(UNPIVOT (SELECT {', '.join([*keys, values])} FROM {relation}) "
            f"ON {on} INTO NAME metric VALUE value)")


def register_raw_view(
    con: duckdb.DuckDBPyConnection, table: str, relation: str, source: TableSource, origin: str
) -> RawTable:
    """Create ``raw_<table>`` selecting the contract columns (renamed) present in ``relation``."""
    spec = TABLES[table]
    wide = table == "metrics" and source.wide
    if wide:  # the melted relation already carries the contract's names
        relation = melt_wide_metrics(con, relation, source, origin)
    types = _describe(con, table, relation, origin)
    available = list(types)
    lookup = {c.lower(): c for c in available}
    selected: list[str] = []
    present: list[str] = []
    missing_mapped: dict[str, str] = {}
    for col in spec.column_names:
        user_col = col if wide else source.columns.get(col, col)
        actual = lookup.get(user_col.lower())
        if actual is None:
            if col in source.columns:
                missing_mapped[col] = source.columns[col]
            continue
        expr = identifier(actual)
        kind = spec.column(col).kind
        if source.date_format and kind in (Kind.DATE, Kind.TIMESTAMP) and types[actual] in (
                "VARCHAR", "TEXT"):  # text dates: parse with the format; bad ones stay text
            expr = (f"coalesce(CAST(try_strptime({expr}, {literal(source.date_format)}) "
                    f"AS VARCHAR), {expr})")
        if table == "subscriptions" and col == "arr" and source.mrr:
            expr = f"TRY_CAST({expr} AS DOUBLE) * 12"
        selected.append(f"{expr} AS {identifier(col)}")
        present.append(col)
    body = ", ".join(selected) if selected else "NULL AS __no_contract_columns"
    con.execute(f"CREATE OR REPLACE VIEW raw_{table} AS SELECT {body} FROM {relation}")
    return RawTable(table, tuple(present), origin, missing_mapped, tuple(available))


def resolve_sources(data: DataConfig) -> dict[str, TableSource]:
    """Find a source for every table: explicit ``tables`` entries first, then ``dir``.

    Raises :class:`DataSourceError` naming every required table that has no source.
    """
    sources: dict[str, TableSource] = dict(data.tables)
    looked: list[str] = []
    if data.dir is not None:
        for name in TABLES:
            if name in sources:
                continue
            for candidate in (data.dir / f"{name}.parquet", data.dir / f"{name}.csv",
                              data.dir / name):
                if candidate.exists():
                    sources[name] = TableSource(path=candidate)
                    break
        looked.append(f"{data.dir}/<table>.parquet|.csv|/")
    missing = [name for name, spec in TABLES.items() if spec.required and name not in sources]
    if missing:
        where = "; looked in " + ", ".join(looked) if looked else ""
        raise DataSourceError(
            f"required table(s) {missing} have no source{where}. Give them under data.tables "
            "(path, duckdb or url) or put them in data.dir; run `healthscore synth` for demo data."
        )
    for name in TABLES:
        if name not in sources:
            log.info("optional table %r is absent: its features are switched off", name)
    return sources


def register_sources(
    con: duckdb.DuckDBPyConnection, sources: Mapping[str, TableSource]
) -> dict[str, RawTable]:
    """Register every source as a raw view; return what each one provided."""
    raws: dict[str, RawTable] = {}
    for name, source in sources.items():
        relation, origin = _scan_sql(source, name, con)
        raws[name] = register_raw_view(con, name, relation, source, origin)
    return raws


def register_frames(
    con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame]
) -> dict[str, RawTable]:
    """Register in-memory DataFrames (already using contract names) as raw views."""
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise DataSourceError(f"unknown table(s) {unknown}; known: {sorted(TABLES)}")
    raws: dict[str, RawTable] = {}
    for name, frame in frames.items():
        if len(frame.columns) == 0:
            raise DataSourceError(f"table {name!r} has no columns; give at least its contract "
                                  f"columns {list(TABLES[name].column_names)}")
        con.register(f"df_{name}", frame)
        raws[name] = register_raw_view(con, name, f"df_{name}", TableSource(path=Path(name)),
                                       f"frame {name}")
    return raws


# a stat match is trusted only for files last changed this long before the fingerprint was
# taken (git's rule for "racily clean" files: a write within the clock's resolution of the
# hash would leave the same size and times)
RACY_NS = 2_000_000_000
CACHED_FINGERPRINTS = 16  # entries kept in a fingerprint cache file


def fingerprint_sources(sources: Mapping[str, TableSource], cache: Path | None = None) -> str:
    """Hash the bytes of every file source (and the text of query sources); with ``cache``
    see :func:`cached_fingerprint` (the cache is updated at once)."""
    fingerprint, save = cached_fingerprint(sources, cache)
    save()
    return fingerprint


def cached_fingerprint(sources: Mapping[str, TableSource], cache: Path | None
                       ) -> tuple[str, Callable[[], None]]:
    """(:func:`fingerprint_sources`' value, a call that records it in ``cache``).

    ``cache`` (a JSON file, e.g. in the work dir): a fingerprint taken earlier of the same
    source descriptions is reused, without reading a byte, when every file behind them has
    the same path, size, inode, modification and status-change times (ns) as then, and
    was last changed at least 2 s before it was taken; otherwise every byte is read again
    (the same value as without a cache). The call records a fingerprint read afresh when no
    file changed while being read (a caller that validates the data calls it only once the
    data passed, so a failed run writes nothing); otherwise it does nothing.
    """
    files = [(name, file, label) for name in sorted(sources)
             for file, label in _source_files(sources[name].path or sources[name].duckdb)]
    described = json.dumps({name: sources[name].model_dump_json() for name in sorted(sources)})
    key = hashlib.blake2b(described.encode(), digest_size=16).hexdigest()
    entries = _read_fingerprint_cache(cache)
    before = _file_stats(files)
    entry = entries.get(key)
    if (entry is not None and before is not None and entry["stats"] == before
            and all(max(mtime, ctime) < entry["taken_ns"] - RACY_NS
                    for _, _, _, mtime, ctime in before)):
        log.debug("data unchanged since its fingerprint was taken: reused (%s)", cache)
        return str(entry["fingerprint"]), _nothing
    taken = time.time_ns()
    digest = hashlib.blake2b(digest_size=16)
    by_name: dict[str, list[tuple[Path, str]]] = {}
    for name, file, label in files:
        by_name.setdefault(name, []).append((file, label))
    for name in sorted(sources):
        digest.update(name.encode())
        digest.update(sources[name].model_dump_json().encode())
        for file, label in by_name.get(name, []):
            digest.update(label.encode())
            with file.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
    fingerprint = digest.hexdigest()
    if cache is None or before is None or _file_stats(files) != before:
        return fingerprint, _nothing

    def save() -> None:
        entries.pop(key, None)
        entries[key] = {"stats": before, "taken_ns": taken, "fingerprint": fingerprint}
        kept = dict(list(entries.items())[-CACHED_FINGERPRINTS:])
        try:
            write_text(json.dumps(kept), cache)
        except OSError as exc:  # a read-only work dir: fingerprints are taken every run
            log.debug("fingerprint cache %s not written: %s", cache, exc)

    return fingerprint, save


def _nothing() -> None:
    return None


def _file_stats(files: list[tuple[str, Path, str]]) -> list[list] | None:
    """[path, size, inode, mtime_ns, ctime_ns] per file; None when one cannot be read."""
    stats = []
    for _, file, _ in files:
        try:
            st = file.stat()
        except OSError:
            return None
        stats.append([str(file), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns])
    return stats


def _read_fingerprint_cache(cache: Path | None) -> dict[str, dict]:
    if cache is None or not cache.is_file():
        return {}
    try:
        entries = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _source_files(path: Path | None) -> list[tuple[Path, str]]:
    """Files behind a path source (file, folder or glob), with stable labels for hashing."""
    if path is None:
        return []
    try:
        files = source_files(path, None, str(path))
    except DataSourceError:
        return []
    if path.is_dir():
        return [(f, str(f.relative_to(path))) for f in files]
    return [(f, f.name) for f in files]


def fingerprint_frames(frames: Mapping[str, pd.DataFrame]) -> str:
    """Hash in-memory tables by content."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(frames):
        digest.update(name.encode())
        frame = frames[name]
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
