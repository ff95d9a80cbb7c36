"""The score history: one row per (scoring date, role, account), in a DuckDB file by default or
any SQLAlchemy database (e.g. ``postgresql+psycopg2://…``, ``sqlite:///history.db``).

Trends and alerts are derived from it, so it keeps what they need (health, band, probability,
renewal facts, every feature's points, the expansion score) plus the model name, version, run id
and config hash of each row. Writing a date replaces that date's rows of the role (``primary`` or
``shadow``) in one transaction: re-running a date is safe, and a failed write leaves the history
as it was.

A store written before a column existed is migrated on the next write (the column is added,
empty for the old rows: see :data:`ADDED_COLUMNS`); until then it reads with that column empty.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from healthscore.errors import ConfigError, DataSourceError, LockHeldError, RetryableError
from healthscore.redact import redact_url, register_url, scrub, url_problem

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

TABLE = "health_scores"
PRIMARY, SHADOW = "primary", "shadow"
# column -> SQL type (portable across DuckDB, PostgreSQL and SQLite)
COLUMNS: dict[str, str] = {
    "as_of": "DATE",
    "role": "VARCHAR(16)",
    "account_id": "VARCHAR(128)",
    "segment": "VARCHAR(64)",
    "arr": "DOUBLE PRECISION",
    "days_to_renewal": "DOUBLE PRECISION",
    "health": "DOUBLE PRECISION",
    "model_health": "DOUBLE PRECISION",
    "band": "VARCHAR(64)",
    "churn_probability": "DOUBLE PRECISION",
    "dominant_risk_dimension": "VARCHAR(32)",
    "hard_stops": "VARCHAR(512)",
    "override": "VARCHAR(1024)",
    "points_json": "TEXT",
    "model_name": "VARCHAR(256)",
    "model_version": "VARCHAR(32)",
    "run_id": "VARCHAR(64)",
    "config_hash": "VARCHAR(32)",
    "scored_at": "TIMESTAMP",
    "expansion_score": "DOUBLE PRECISION",
}
# columns added after the first release of the table, oldest first: a store without one gets it
# (empty for its old rows) on its next write
ADDED_COLUMNS = ("expansion_score",)
TEXT_COLUMNS = [c for c, t in COLUMNS.items() if t.startswith(("VARCHAR", "TEXT"))]
FLOAT_COLUMNS = [c for c, t in COLUMNS.items() if t == "DOUBLE PRECISION"]


def history_rows(scores: pd.DataFrame, as_of: dt.date, role: str) -> pd.DataFrame:
    """The history columns of a score frame, typed for storage (ids as text)."""
    out = pd.DataFrame(index=scores.index)
    for column in COLUMNS:
        if column in ("as_of", "role"):
            continue
        out[column] = scores[column] if column in scores else None
    out["as_of"] = as_of
    out["role"] = role
    for column in TEXT_COLUMNS:
        out[column] = out[column].astype("string").fillna("").astype(object)
    for column in FLOAT_COLUMNS:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["scored_at"] = pd.to_datetime(out["scored_at"])
    return out[list(COLUMNS)].reset_index(drop=True)


class ScoreHistory:
    """Base of the two stores; subclasses provide the transaction."""

    location: str

    def read(self, until: dt.date | None = None, role: str = PRIMARY,
             since: dt.date | None = None) -> pd.DataFrame:
        """Rows of ``role`` dated ``since`` .. ``until`` (inclusive; open ends by default)."""
        raise NotImplementedError

    def replace(self, as_of: dt.date, rows: Mapping[str, pd.DataFrame]) -> None:
        """Replace the rows of ``as_of`` for every role in ``rows`` in one transaction."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise now if the store cannot be opened (before a run does any work)."""

    def dates(self, role: str = PRIMARY) -> list[dt.date]:
        """Scoring dates held for ``role``, oldest first."""
        frame = self.read(role=role)
        return sorted(set(frame["as_of"]))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored rows with every column of :data:`COLUMNS` (a column an old store lacks is empty),
    dates as dates and numbers as floats."""
    frame = frame.copy()
    for column in COLUMNS:
        if column not in frame:
            frame[column] = np.nan if column in FLOAT_COLUMNS else None
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    for column in FLOAT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _where(until: dt.date | None, since: dt.date | None, role: str,
           prefix: str) -> tuple[str, dict[str, object]]:
    """WHERE clause with named parameters (``prefix`` ``$`` for DuckDB, ``:`` for SQLAlchemy)."""
    params: dict[str, object] = {"role": role}
    clauses = [f"role = {prefix}role"]
    if until is not None:
        clauses.append(f"as_of <= {prefix}until")
        params["until"] = until
    if since is not None:
        clauses.append(f"as_of >= {prefix}since")
        params["since"] = since
    return " AND ".join(clauses), params


class DuckDBHistory(ScoreHistory):
    """The default store: a DuckDB file (created on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def _connect(self, read_only: bool):
        import duckdb

        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            if "lock" in str(exc).lower():  # another run holds it: retry later, not bad input
                raise LockHeldError(f"score history {self.path} is locked by another process "
                                    f"({str(exc).splitlines()[0]}); run again when it has "
                                    "finished (wrap scheduled jobs in flock)") from None
            raise DataSourceError(f"score history {self.path}: cannot open it ({exc})") from None

    def check(self) -> None:
        """Open the file once: another run holding its lock fails this one before any work."""
        if self.path.exists():
            self._connect(read_only=True).close()

    @contextlib.contextmanager
    def _table(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A read-only connection to the file while its table exists, else None."""
        if not self.path.exists():
            yield None
            return
        con = self._connect(read_only=True)
        try:
            exists = con.execute("SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_name = ?", [TABLE]).fetchone()[0]
            yield con if exists else None
        finally:
            con.close()

    def dates(self, role: str = PRIMARY) -> list[dt.date]:
        """Scoring dates held for ``role``, oldest first (without reading their rows)."""
        with self._table() as con:
            rows = [] if con is None else con.execute(
                f"SELECT DISTINCT as_of FROM {TABLE} WHERE role = ? ORDER BY 1", [role]
            ).fetchall()
        return [_as_date(r[0]) for r in rows]

    def read(self, until: dt.date | None = None, role: str = PRIMARY,
             since: dt.date | None = None) -> pd.DataFrame:
        """Rows of ``role`` dated ``since`` .. ``until`` (inclusive)."""
        with self._table() as con:
            if con is None:
                return _empty()
            where, params = _where(until, since, role, "$")
            frame = con.execute(f"SELECT * FROM {TABLE} WHERE {where} ORDER BY as_of, account_id",
                                params).df()
        return _typed(frame)

    def replace(self, as_of: dt.date, rows: Mapping[str, pd.DataFrame]) -> None:
        """Delete and insert the date's rows per role, all in one transaction."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect(read_only=False)
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                        + ", ".join(f"{c} {_duckdb_type(t)}" for c, t in COLUMNS.items()) + ")")
            for column in ADDED_COLUMNS:  # a store written before the column existed
                con.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {column} "
                            f"{_duckdb_type(COLUMNS[column])}")
            con.execute("BEGIN TRANSACTION")
            try:
                for role, frame in rows.items():
                    staged = history_rows(frame, as_of, role)
                    con.execute(f"DELETE FROM {TABLE} WHERE as_of = ? AND role = ?",
                                [as_of, role])
                    con.register("staged_history", staged)
                    con.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT "
                                f"{', '.join(COLUMNS)} FROM staged_history")
                    con.unregister("staged_history")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()


def _duckdb_type(sql_type: str) -> str:
    return sql_type.replace("DOUBLE PRECISION", "DOUBLE")


class SQLHistory(ScoreHistory):
    """Any SQLAlchemy database (PostgreSQL needs ``postgresql+psycopg2://`` and psycopg2)."""

    def __init__(self, url: str) -> None:
        import sqlalchemy

        register_url(url)
        problem = url_problem(url)
        if problem:
            raise ConfigError("scoring.history", [f"scoring.history: {redact_url(url)}: "
                                                  f"{problem}"])
        self.url = url
        try:
            self.engine = sqlalchemy.create_engine(url, **_connect_args(url))
        except (sqlalchemy.exc.ArgumentError, ImportError, ValueError) as exc:
            raise ConfigError("scoring.history", [
                f"scoring.history: {redact_url(url)} is not a usable SQLAlchemy URL "
                f"({scrub(str(exc))})"]) from None
        self.location = self.engine.url.render_as_string(hide_password=True)

    def check(self) -> None:
        """Connect once: a database that is down fails the run before any work."""
        import sqlalchemy

        with self._unavailable_is_retryable(), self.engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))

    @contextlib.contextmanager
    def _unavailable_is_retryable(self) -> Iterator[None]:
        """A database that cannot be reached is a temporary condition (retry later)."""
        import sqlalchemy

        try:
            yield
        except sqlalchemy.exc.OperationalError as exc:
            reason = (scrub(str(exc.orig)).strip().splitlines() or ["no reason given"])[0]
            if not any(word in reason.lower() for word in _UNAVAILABLE):
                raise DataSourceError(f"score history {self.location}: {reason}") from None
            raise RetryableError(f"score history {self.location} does not answer: {reason}; "
                                 "run again when the database is back") from None

    def _ensure_table(self) -> None:
        """Create the table on first use, in its own transaction: two first runs may race to
        create it (PostgreSQL's IF NOT EXISTS is not safe against that), and the loser finds it
        made by the winner."""
        import sqlalchemy

        with self.engine.connect() as connection:
            if sqlalchemy.inspect(connection).has_table(TABLE):
                self._add_missing_columns()
                return
        try:
            with self.engine.begin() as connection:
                connection.execute(sqlalchemy.text(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                    + ", ".join(f"{c} {t}" for c, t in COLUMNS.items()) + ")"))
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            with self.engine.connect() as connection:
                if not sqlalchemy.inspect(connection).has_table(TABLE):
                    raise

    def _add_missing_columns(self) -> None:
        """Migrate a table written before a column of :data:`ADDED_COLUMNS` existed, one
        column per transaction; a run that loses the race to add one finds it added."""
        import sqlalchemy

        for column in ADDED_COLUMNS:
            with self.engine.connect() as connection:
                present = {c["name"] for c in sqlalchemy.inspect(connection).get_columns(TABLE)}
            if column in present:
                continue
            try:
                with self.engine.begin() as connection:
                    connection.execute(sqlalchemy.text(
                        f"ALTER TABLE {TABLE} ADD COLUMN {column} {COLUMNS[column]}"))
            except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError):
                with self.engine.connect() as connection:
                    if column not in {c["name"] for c in
                                      sqlalchemy.inspect(connection).get_columns(TABLE)}:
                        raise
            else:
                log.info("score history %s: column %s added (empty for earlier rows)",
                         self.location, column)

    def read(self, until: dt.date | None = None, role: str = PRIMARY,
             since: dt.date | None = None) -> pd.DataFrame:
        """Rows of ``role`` dated ``since`` .. ``until`` (inclusive)."""
        import sqlalchemy

        with self._unavailable_is_retryable(), self.engine.connect() as connection:
            if not sqlalchemy.inspect(connection).has_table(TABLE):
                return _empty()
            where, params = _where(until, since, role, ":")
            frame = pd.read_sql(sqlalchemy.text(
                f"SELECT * FROM {TABLE} WHERE {where} ORDER BY as_of, account_id"),
                connection, params=params)
        return _typed(frame)

    def dates(self, role: str = PRIMARY) -> list[dt.date]:
        """Scoring dates held for ``role``, oldest first (without reading their rows)."""
        import sqlalchemy

        with self._unavailable_is_retryable(), self.engine.connect() as connection:
            if not sqlalchemy.inspect(connection).has_table(TABLE):
                return []
            rows = connection.execute(sqlalchemy.text(
                f"SELECT DISTINCT as_of FROM {TABLE} WHERE role = :role ORDER BY as_of"),
                {"role": role}).fetchall()
        return [_as_date(r[0]) for r in rows]

    def replace(self, as_of: dt.date, rows: Mapping[str, pd.DataFrame]) -> None:
        """Delete and insert the date's rows per role, all in one transaction."""
        import sqlalchemy

        with self._unavailable_is_retryable():
            self._ensure_table()
        with self._unavailable_is_retryable(), self.engine.begin() as connection:
            for role, frame in rows.items():
                connection.execute(
                    sqlalchemy.text(f"DELETE FROM {TABLE} WHERE as_of = :d AND role = :r"),
                    {"d": as_of, "r": role})
                history_rows(frame, as_of, role).to_sql(TABLE, connection, if_exists="append",
                                                       index=False, chunksize=10_000)


_UNAVAILABLE = ("could not connect", "connection refused", "timeout", "timed out", "locked",
                "the database system is starting up", "could not translate host name",
                "server closed the connection")


def _connect_args(url: str) -> dict:
    """A short connect timeout for PostgreSQL, so a database that is down fails fast."""
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 10}}
    return {}


def _as_date(value: object) -> dt.date:
    """A stored scoring date as a date (SQLite hands back text, others dates or datetimes)."""
    return pd.Timestamp(value).date()


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    for column in FLOAT_COLUMNS:
        frame[column] = frame[column].astype(float)
    return frame


def open_history(url: str | None, workdir: Path) -> ScoreHistory:
    """The configured store: a SQLAlchemy URL, a ``*.duckdb`` path, or by default
    ``<workdir>/history.duckdb``."""
    if url is None:
        return DuckDBHistory(Path(workdir) / "history.duckdb")
    if "://" in url:
        return SQLHistory(url)
    return DuckDBHistory(Path(url))


def as_text_ids(values: pd.Series) -> np.ndarray:
    """Account ids as the history stores them (text), for joining scores with history."""
    return values.astype("string").fillna("").to_numpy(dtype=object)
