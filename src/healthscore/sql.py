"""SQL text in one place: identifiers, literals and bound parameters, per engine dialect.

Every module that writes SQL quotes through here, so that a name or a value from the data
(an event type, a metric, a column of a user's export, a file path) can never end a string or
an identifier early. Values that are data go in as bound parameters where the query is run
directly (:class:`Params`); where SQL text is composed before it runs (feature expressions,
the spine), :func:`literal` writes the value in the dialect's own escaping.

DuckDB doubles a quote inside a string or an identifier; Spark SQL escapes with a backslash
and would read ``'it''s'`` as the two adjacent literals ``'it'`` and ``'s'`` (``its``), so
the dialect is a parameter, not an assumption.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Dialect(StrEnum):
    """The SQL engines healthscore renders for."""

    DUCKDB = "duckdb"
    SPARK = "spark"


DUCKDB = Dialect.DUCKDB


def _no_nul(text: str, what: str) -> str:
    if "\x00" in text:
        raise ValueError(f"a SQL {what} cannot contain a NUL character: {text!r}")
    return text


def identifier(name: str, dialect: Dialect = DUCKDB) -> str:
    """A quoted identifier (a column or table name), safe whatever characters ``name`` holds
    (a double quote inside it is doubled in DuckDB; a backtick in Spark)."""
    _no_nul(name, "identifier")
    if dialect is Dialect.SPARK:
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def string_literal(value: str, dialect: Dialect = DUCKDB) -> str:
    """A quoted string literal (a single quote inside it is doubled in DuckDB; escaped with a
    backslash in Spark, like a backslash itself)."""
    _no_nul(value, "string")
    if dialect is Dialect.SPARK:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def literal(value: object, dialect: Dialect = DUCKDB) -> str:
    """A SQL literal for a Python value: None, bool, int, float, str, date or datetime.

    Non-finite floats become typed casts (``CAST('NaN' AS DOUBLE)``); anything else is a
    ``TypeError`` (no silent ``str()`` of an object).
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):  # a bare 1.5 would be a DECIMAL in DuckDB
            return f"CAST({value!r} AS DOUBLE)"
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return f"CAST({string_literal(text, dialect)} AS DOUBLE)"
    if isinstance(value, str):
        return string_literal(value, dialect)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP {string_literal(value.isoformat(sep=' '), dialect)}"
    if isinstance(value, dt.date):
        return f"DATE {string_literal(value.isoformat(), dialect)}"
    raise TypeError(f"no SQL literal for a {type(value).__name__}: {value!r}")


def type_name(duckdb_type: str, dialect: Dialect = DUCKDB) -> str:
    """A DuckDB type name as ``dialect`` spells it (Spark: ``STRING`` for ``VARCHAR``)."""
    if dialect is Dialect.SPARK and duckdb_type.upper() == "VARCHAR":
        return "STRING"
    return duckdb_type


def try_cast(expr: str, duckdb_type: str, dialect: Dialect = DUCKDB) -> str:
    """``expr`` cast to a type, NULL where it cannot be (DuckDB ``TRY_CAST``, Spark
    ``try_cast``)."""
    name = type_name(duckdb_type, dialect)
    return f"try_cast({expr} AS {name})" if dialect is Dialect.SPARK else (
        f"TRY_CAST({expr} AS {name})")


def is_finite(expr: str, dialect: Dialect = DUCKDB) -> str:
    """TRUE for a finite number, FALSE for NaN or an infinity, NULL for NULL (DuckDB's
    ``isfinite``; Spark has none: ``isnan`` is FALSE for NULL, the comparison NULL)."""
    if dialect is Dialect.SPARK:
        return f"(NOT isnan({expr}) AND abs({expr}) < CAST('Infinity' AS DOUBLE))"
    return f"isfinite({expr})"


def literal_list(values: Iterable[object], dialect: Dialect = DUCKDB) -> str:
    """``(v1, v2, ...)`` for an ``IN`` list; a non-empty iterable."""
    items = [literal(v, dialect) for v in values]
    if not items:
        raise ValueError("an IN list needs at least one value")
    return "(" + ", ".join(items) + ")"


def list_literal(values: Iterable[object], dialect: Dialect = DUCKDB) -> str:
    """``[v1, v2, ...]``: a DuckDB list value (``array(...)`` in Spark)."""
    items = ", ".join(literal(v, dialect) for v in values)
    return f"array({items})" if dialect is Dialect.SPARK else f"[{items}]"


@dataclass
class Params:
    """Named bound parameters collected while a query is written: ``p.bind("low", x)``
    returns ``$low`` to put in the SQL; run it with ``con.execute(sql, p.values)``."""

    values: dict[str, object] = field(default_factory=dict)

    def bind(self, name: str, value: object) -> str:
        """The placeholder for ``value`` under ``name`` (a name is bound once)."""
        if not name.isidentifier():
            raise ValueError(f"a parameter name must be an identifier: {name!r}")
        if name in self.values and self.values[name] != value:
            raise ValueError(f"parameter ${name} is already bound to another value")
        self.values[name] = value
        return f"${name}"
