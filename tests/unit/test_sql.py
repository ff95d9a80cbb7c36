"""The one quoting module: hostile names and values round-trip through DuckDB unchanged."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest

from healthscore.sql import (
    Dialect,
    Params,
    identifier,
    list_literal,
    literal,
    literal_list,
    string_literal,
)

HOSTILE = [
    "it's",
    "'; DROP TABLE t; --",
    'say "hi"',
    "back\\slash\\",
    "café ☕ 数据",
    "tab\tand\nnewline",
    "''",
    "",
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.mark.parametrize("value", HOSTILE)
def test_string_literal_round_trips(con, value):
    (got,) = con.execute(f"SELECT {literal(value)}").fetchone()
    assert got == value


def test_naive_quoting_breaks_where_literal_holds(con):
    value = "'; SELECT 42 AS injected; --"
    naive = con.execute(f"SELECT '{value}'").fetchall()  # what the module replaces
    assert naive == [(42,)]  # the value ended the string: a second statement ran
    assert con.execute(f"SELECT {literal(value)}").fetchall() == [(value,)]


@pytest.mark.parametrize("name", [n for n in HOSTILE if n])
def test_identifier_names_a_column_whatever_it_holds(con, name):
    con.execute(f"CREATE TABLE t ({identifier(name)} INTEGER)")
    con.execute(f"INSERT INTO t ({identifier(name)}) VALUES (7)")
    assert [d[0] for d in con.execute("SELECT * FROM t").description] == [name]
    assert con.execute(f"SELECT {identifier(name)} FROM t").fetchone() == (7,)


def test_in_list_and_list_values_match_only_their_members(con):
    values = ["it's", "a,b", "x') OR ('1'='1"]
    con.execute("CREATE TABLE v AS SELECT * FROM (VALUES ('it''s'), ('a'), ('1')) t(x)")
    rows = con.execute(f"SELECT x FROM v WHERE x IN {literal_list(values)}").fetchall()
    assert rows == [("it's",)]
    assert con.execute(f"SELECT {list_literal(values)}").fetchone()[0] == values
    with pytest.raises(ValueError, match="at least one"):
        literal_list([])


@pytest.mark.parametrize("value", [None, True, False, 0, -12, 2**62, 1.5, -0.25, 1e300,
                                   dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5)])
def test_typed_literals_round_trip(con, value):
    (got,) = con.execute(f"SELECT {literal(value)}").fetchone()
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_floats_are_typed_casts(con, value):
    (got,) = con.execute(f"SELECT {literal(value)}").fetchone()
    assert (math.isnan(got) and math.isnan(value)) or got == value


def test_unsupported_values_and_nul_are_refused():
    with pytest.raises(TypeError, match="no SQL literal for a list"):
        literal([1, 2])
    with pytest.raises(ValueError, match="NUL"):
        literal("a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        identifier("a\x00b")


def test_spark_escapes_with_backslashes_and_backticks():
    # Spark reads 'it''s' as the adjacent literals 'it' and 's': the doubling must not be used
    assert string_literal("it's", Dialect.SPARK) == "'it\\'s'"
    assert string_literal("a\\b", Dialect.SPARK) == "'a\\\\b'"
    assert identifier("we`ird", Dialect.SPARK) == "`we``ird`"
    assert literal(dt.date(2024, 1, 1), Dialect.SPARK) == "DATE '2024-01-01'"
    assert list_literal(["x"], Dialect.SPARK) == "array('x')"


def test_params_bind_values_out_of_the_sql_text(con):
    params = Params()
    hostile = "'; DROP TABLE t; --"
    sql = f"SELECT {params.bind('a', hostile)} AS a, {params.bind('d', dt.date(2024, 1, 1))} AS d"
    assert hostile not in sql
    assert con.execute(sql, params.values).fetchone() == (hostile, dt.date(2024, 1, 1))
    assert params.bind("a", hostile) == "$a"  # the same value again: the same placeholder
    with pytest.raises(ValueError, match="already bound"):
        params.bind("a", "other")
    with pytest.raises(ValueError, match="identifier"):
        params.bind("no pe", 1)
