"""Check raw tables against the data contract, then expose typed views.

Every rule for a table is one ``count(*) FILTER (WHERE ...)`` in a single scan, so 10M event
rows validate in seconds; samples are fetched only for the rules that fail (the first rows in
the order of the columns shown, so every engine shows the same ones).

The rules are declared once (:func:`row_rules`) and written in the dialect of the engine that
runs them: DuckDB by default, Spark SQL (``features.engine: spark``) through a connection
with DuckDB's ``execute``/``sql(...).df()`` calls (see ``healthscore.features.spark_data``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from healthscore.data.loaders import RawTable, fetch_row
from healthscore.data.schema import ACCOUNT_ID, DUCKDB_TYPE, TABLES, Column, Kind, Table
from healthscore.errors import DataSourceError, Violation
from healthscore.sql import Dialect, identifier, is_finite, literal, try_cast, type_name

log = logging.getLogger(__name__)

SAMPLE_ROWS = 5
DUCKDB = Dialect.DUCKDB


@dataclass(frozen=True)
class Rule:
    """One row-level rule: a SQL condition that is TRUE on offending rows."""

    column: str | None
    name: str
    condition: str
    show: tuple[str, ...]


def _cast(col: str, kind: Kind, dialect: Dialect = DUCKDB) -> str:
    target = DUCKDB_TYPE[kind]
    quoted = identifier(col, dialect)
    return quoted if target is None else try_cast(quoted, target, dialect)


def _as_date(col: str, dialect: Dialect = DUCKDB) -> str:
    return try_cast(identifier(col, dialect), "DATE", dialect)


def row_rules(spec: Table, present: set[str], end_date: dt.date,
              dialect: Dialect = DUCKDB) -> list[Rule]:
    """Every row-level rule that applies to the columns ``present`` in a table, written in
    ``dialect``."""
    rules: list[Rule] = []
    keys = tuple(c for c in (ACCOUNT_ID, *spec.key, *spec.context) if c in present)
    end = literal(end_date, dialect)

    def show(*cols: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for c in (*keys, *cols) if c in present))

    for col in spec.columns:
        if col.name not in present:
            continue
        q = identifier(col.name, dialect)
        target = DUCKDB_TYPE[col.kind]
        if target is not None:
            rules.append(Rule(col.name, f"not coercible to {col.kind.value}",
                              f"{q} IS NOT NULL AND {_cast(col.name, col.kind, dialect)} IS NULL",
                              show(col.name)))
        if col.kind is Kind.INT:  # a cast to BIGINT would round 7.5 to 8 without a word
            number = try_cast(q, "DOUBLE", dialect)
            rules.append(Rule(col.name, "not a whole number",
                              f"{is_finite(number, dialect)} AND {number} <> round({number})",
                              show(col.name)))
        if not col.nullable:
            rules.append(Rule(col.name, "null in a required column", f"{q} IS NULL",
                              show(col.name)))
        if col.not_after_end:
            rules.append(Rule(col.name, f"date after the data's end date {end_date}",
                              f"{_as_date(col.name, dialect)} > {end}", show(col.name)))
        rules.extend(_range_rules(col, show(col.name), dialect))
    for order in spec.order_rules:
        if order.earlier in present and order.later in present:
            rules.append(Rule(order.later, f"{order.later} before {order.earlier}",
                              f"{_as_date(order.later, dialect)} < "
                              f"{_as_date(order.earlier, dialect)}",
                              show(order.earlier, order.later)))
    return rules


def _range_rules(col: Column, show: tuple[str, ...], dialect: Dialect = DUCKDB) -> list[Rule]:
    rules = []
    value = _cast(col.name, col.kind, dialect)
    if col.min is not None:
        rules.append(Rule(col.name, f"below minimum {col.min:g}", f"{value} < {col.min}", show))
    if col.max is not None:
        rules.append(Rule(col.name, f"above maximum {col.max:g}", f"{value} > {col.max}", show))
    if col.finite:
        rules.append(Rule(col.name, "not a finite number", f"NOT {is_finite(value, dialect)}",
                          show))
    if col.allowed:
        allowed = ", ".join(literal(v, dialect) for v in col.allowed)
        rules.append(Rule(col.name, f"not one of {list(col.allowed)}",
                          f"{identifier(col.name, dialect)} NOT IN ({allowed})", show))
    return rules


def _order_by(cols: tuple[str, ...] | list[str], dialect: Dialect) -> str:
    """``ORDER BY`` the columns shown, NULLs last (the default differs between engines)."""
    if not cols:
        return ""
    return " ORDER BY " + ", ".join(f"{identifier(c, dialect)} NULLS LAST" for c in cols)


def _samples(con: duckdb.DuckDBPyConnection, table: str, condition: str, cols: tuple[str, ...],
             dialect: Dialect = DUCKDB):
    select = ", ".join(identifier(c, dialect) for c in cols) or "*"
    return con.sql(
        f"SELECT {select} FROM raw_{table} WHERE {condition}{_order_by(cols, dialect)} "
        f"LIMIT {SAMPLE_ROWS}"
    ).df()


def missing_column_rule(raw: RawTable, column: str) -> str:
    """``required column missing``, with the mapping tried, the columns found and, when the
    source has a single column, a hint that its delimiter was not recognised."""
    mapped = raw.missing_mapped.get(column)
    text = "required column missing" + (f" (mapped from {mapped!r}, not found)" if mapped
                                        else "")
    if raw.found:
        shown = ", ".join(repr(c) for c in raw.found[:30])
        more = f" and {len(raw.found) - 30} more" if len(raw.found) > 30 else ""
        text += f"; columns found in {raw.origin}: {shown}{more}"
    if len(raw.found) == 1:
        text += (f". Only one column was found: the file is probably not comma-separated; set "
                 f"data.tables.{raw.name}.delimiter (e.g. ';' or '\\t') or whitespace: true")
    return text


def check_table(
    con: duckdb.DuckDBPyConnection, raw: RawTable, end_date: dt.date, has_accounts: bool,
    dialect: Dialect = DUCKDB,
) -> list[Violation]:
    """Return every violation of the contract in one raw table (its rules in ``dialect``)."""
    spec = TABLES[raw.name]
    present = set(raw.columns)
    violations: list[Violation] = []
    for col in spec.columns:
        if col.required and col.name not in present:
            violations.append(Violation(spec.name, col.name,
                                        missing_column_rule(raw, col.name), 0))
    rules = row_rules(spec, present, end_date, dialect)
    try:
        total, *broken = fetch_row(
            con,
            "SELECT count(*)"
            + "".join(f", count(*) FILTER (WHERE {r.condition})" for r in rules)
            + f" FROM raw_{raw.name}",
        )
    except duckdb.Error as exc:  # a corrupt or inconsistent file found while scanning it
        raise DataSourceError(f"table {raw.name!r}: cannot read {raw.origin}: "
                              f"{str(exc).splitlines()[0]}") from None
    if total == 0:  # an optional table that is given but empty would switch features to 0
        rule = "table is empty" + ("" if spec.required else (
            "; remove it from the config or the data folder to switch its features off, or "
            "export its rows"))
        violations.append(Violation(spec.name, None, rule, 0))
        return violations
    for rule, count in zip(rules, broken, strict=True):
        if count:
            violations.append(Violation(spec.name, rule.column, rule.name, int(count),
                                        _samples(con, raw.name, rule.condition, rule.show,
                                                 dialect)))
    if spec.key and set(spec.key) <= present:
        violations.extend(_duplicate_keys(con, spec, dialect))
    if spec.name != "accounts" and has_accounts and ACCOUNT_ID in present:
        violations.extend(_unknown_accounts(con, spec, dialect))
    return violations


def _duplicate_keys(con: duckdb.DuckDBPyConnection, spec: Table,
                    dialect: Dialect = DUCKDB) -> list[Violation]:
    key = ", ".join(identifier(k, dialect) for k in spec.key)
    dup = f"SELECT {key}, count(*) AS n_rows FROM raw_{spec.name} GROUP BY ALL HAVING count(*) > 1"
    keys, rows = fetch_row(con, f"SELECT count(*), sum(n_rows) FROM ({dup})")
    if not keys:
        return []
    order = ", ".join(f"{identifier(k, dialect)} NULLS LAST" for k in spec.key)
    samples = con.sql(f"{dup} ORDER BY n_rows DESC, {order} LIMIT {SAMPLE_ROWS}").df()
    return [Violation(spec.name, ", ".join(spec.key), "duplicate key", int(rows), samples)]


def _unknown_accounts(con: duckdb.DuckDBPyConnection, spec: Table,
                      dialect: Dialect = DUCKDB) -> list[Violation]:
    text = type_name("VARCHAR", dialect)
    anti = (
        f"FROM raw_{spec.name} t WHERE t.{ACCOUNT_ID} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM raw_accounts a WHERE CAST(a.{ACCOUNT_ID} AS {text}) "
        f"= CAST(t.{ACCOUNT_ID} AS {text}))"
    )
    if _same_id_type(con, spec.name, dialect):
        join = "LEFT ANTI JOIN" if dialect is Dialect.SPARK else "ANTI JOIN"
        anti = (f"FROM raw_{spec.name} t {join} raw_accounts a "
                f"ON a.{ACCOUNT_ID} = t.{ACCOUNT_ID} WHERE t.{ACCOUNT_ID} IS NOT NULL")
    (count,) = fetch_row(con, f"SELECT count(*) {anti}")
    if not count:
        return []
    samples = con.sql(f"SELECT DISTINCT t.{ACCOUNT_ID} {anti} ORDER BY {ACCOUNT_ID} "
                      f"LIMIT {SAMPLE_ROWS}").df()
    return [Violation(spec.name, ACCOUNT_ID, "account_id not in accounts", int(count), samples)]


def _column_type(con: duckdb.DuckDBPyConnection, view: str, column: str,
                 dialect: Dialect = DUCKDB) -> str:
    describe = "DESCRIBE QUERY" if dialect is Dialect.SPARK else "DESCRIBE"
    rows = con.execute(f"{describe} SELECT {identifier(column, dialect)} FROM {view}"
                       ).fetchall()
    return str(rows[0][1])


def _same_id_type(con: duckdb.DuckDBPyConnection, table: str,
                  dialect: Dialect = DUCKDB) -> bool:
    return _column_type(con, f"raw_{table}", ACCOUNT_ID, dialect) == _column_type(
        con, "raw_accounts", ACCOUNT_ID, dialect
    )


def validate_raw(
    con: duckdb.DuckDBPyConnection, raws: Mapping[str, RawTable], end_date: dt.date,
    dialect: Dialect = DUCKDB,
) -> list[Violation]:
    """Check every raw table (views ``raw_<table>`` of ``con``, an engine speaking
    ``dialect``); return all violations (empty when the data is valid)."""
    violations: list[Violation] = []
    has_accounts = "accounts" in raws and ACCOUNT_ID in raws["accounts"].columns
    for name in TABLES:
        if name in raws:
            violations.extend(check_table(con, raws[name], end_date, has_accounts, dialect))
    return violations


def create_typed_views(con: duckdb.DuckDBPyConnection, raws: Mapping[str, RawTable]) -> None:
    """Create one view per table with contract types and defaults for absent optional columns.

    Account ids take the type of ``accounts.account_id`` so joins never compare text to numbers.
    """
    id_type = _column_type(con, "raw_accounts", ACCOUNT_ID)
    for name, raw in raws.items():
        spec = TABLES[name]
        cols = []
        for col in spec.columns:
            if col.name not in raw.columns:
                value = col.default or "NULL"
                target = DUCKDB_TYPE[col.kind]
                cols.append(f"CAST({value} AS {target})" if target else value)
            elif col.name == ACCOUNT_ID:
                cols.append(f"CAST({identifier(col.name)} AS {id_type})")
            else:
                target = DUCKDB_TYPE[col.kind]
                name_sql = identifier(col.name)
                cols.append(f"CAST({name_sql} AS {target})" if target else name_sql)
        select = ", ".join(f"{expr} AS {identifier(col.name)}"
                           for expr, col in zip(cols, spec.columns, strict=True))
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {select} FROM raw_{name}")
    for name, spec in TABLES.items():  # absent optional tables: empty, so SQL can name them
        if name not in raws:
            cols = [f"CAST(NULL AS {DUCKDB_TYPE[c.kind] or id_type}) AS {identifier(c.name)}"
                    for c in spec.columns]
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {', '.join(cols)} WHERE FALSE")
