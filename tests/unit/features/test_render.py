"""The feature build's SQL goes through one renderer: the constructs engines spell differently
come only from it, and every statement a build runs is within what a transpiler to Spark reads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import duckdb
import pytest
from tiny_world import END, tiny_frames, tiny_shop_frames

from healthscore.data.dataset import dataset_from_frames
from healthscore.features import snapshots
from healthscore.features.engine import build_feature_matrix, candidate_features
from healthscore.features.families import FAMILIES, METRICS_FAMILY, SPINE_FAMILY
from healthscore.features.settings import FeatureConfig
from healthscore.features.sql import Renderer
from healthscore.sql import Dialect

# DuckDB spellings a second engine does not read (or reads differently)
DUCKDB_ONLY = ("UBIGINT", "EXCLUDE", "ASOF", "generate_series", "unnest", "to_months",
               "arg_max", "GROUP BY ALL", "date_diff", "//", "TEMP TABLE", "col0", "list(",
               "count_if", "VARCHAR")


class Marker(Renderer):
    """Renders every construct as a marked call, so what the renderer did not write shows."""

    dialect = Dialect.DUCKDB

    def create_table(self, name: str, select: str) -> str:
        return f"MARK_TABLE {name} AS {select}"

    def day_series(self, start: str, stop: str) -> str:
        return f"MARK_SERIES({start}, {stop})"

    def bit(self, position: str) -> str:
        return f"MARK_BIT({position})"

    def arg_max(self, value: str, key: str) -> str:
        return f"MARK_ARG_MAX({value}, {key})"

    def add_months(self, day: str, months: str) -> str:
        return f"MARK_ADD_MONTHS({day}, {months})"

    def months_between(self, start: str, end: str) -> str:
        return f"MARK_MONTHS({start}, {end})"

    def int_div(self, numerator: str, denominator: str) -> str:
        return f"MARK_DIV({numerator}, {denominator})"

    def all_columns_except(self, alias: str, columns: list[str]) -> str:
        return f"MARK_EXCEPT({alias}, {', '.join(columns)})"

    def latest_row_join(self, left: str, right: str, key: str, left_time: str,
                        right_time: str) -> str:
        return f"FROM {left} s MARK_LATEST_JOIN {right} x ({key}, {left_time}, {right_time})"

    def nth_latest(self, value: str, time: str, n: int) -> str:
        return f"MARK_NTH({value}, {time}, {n})"

    def date_out(self, day: str) -> str:
        return f"MARK_DATE({day})"

    def text_type(self) -> str:
        return "MARK_TEXT"


def family_statements(frames, render: Renderer) -> dict[str, str]:
    """The SQL of every family of a world's candidate features, as the engine composes it."""
    specs = candidate_features(dataset_from_frames(frames, END))
    out = {}
    for name in {s.family for s in specs} - {SPINE_FAMILY, METRICS_FAMILY}:
        family, members = FAMILIES[name], [s for s in specs if s.family == name]
        source = None
        if family.prepare is not None:
            values = sorted({m.parameter for m in members if m.parameter})
            out[f"{name} source"] = family.prepare(values, render)
            source = "SELECT * FROM prepared"
        out[name] = family.features_sql({m.name: m.render(render) for m in members}, source,
                                        render)
    return out


def spine_statements(render: Renderer) -> dict[str, str]:
    return {"blocks": snapshots.subscription_blocks_sql(30),
            "contract state": snapshots.contract_state_sql("blocks", render),
            "activity state": snapshots.activity_state_sql(True),
            "arr covering": snapshots.arr_covering_sql("d.snapshot_date + 29")}


@pytest.mark.parametrize("world", [tiny_frames, tiny_shop_frames])
def test_engine_specific_constructs_come_only_from_the_renderer(world):
    statements = family_statements(world(), Marker()) | spine_statements(Marker())
    found = {name: [token for token in DUCKDB_ONLY if token in sql]
             for name, sql in statements.items()}
    assert {name: tokens for name, tokens in found.items() if tokens} == {}
    text = "\n".join(statements.values())
    # the renderer was asked for what it replaced (not merely bypassed)
    for mark in ("MARK_BIT", "MARK_SERIES", "MARK_EXCEPT", "MARK_ARG_MAX",
                 "MARK_ADD_MONTHS", "MARK_MONTHS", "MARK_DIV",
                 *(["MARK_NTH"] if "surveys" in world() else [])):
        assert mark in text, mark
    # no declared family joins as of a snapshot any more (lifetime totals are summed per
    # snapshot), but the family mode stays and still asks the renderer
    asof = dataclasses.replace(FAMILIES["activity"], per_snapshot=False, asof=True)
    assert "MARK_LATEST_JOIN" in asof.joined_rows_sql("SELECT 1", Marker())


class Recording:
    """A DuckDB connection that keeps the text of every statement it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.statements = con, []

    def execute(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.con.execute(sql, *args, **kwargs)

    def sql(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.con.sql(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.con, name)


@pytest.mark.parametrize("world", [tiny_frames, tiny_shop_frames])
def test_every_statement_of_a_build_transpiles_to_spark(world):
    sqlglot = pytest.importorskip("sqlglot")  # a dev dependency (pyproject [dev])
    from sqlglot.errors import ErrorLevel

    dataset = dataset_from_frames(world(), END)
    recording = Recording(dataset.con)
    config = FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)})
    build_feature_matrix(dataclasses.replace(dataset, con=recording), config)
    assert any(" AS feat_usage " in sql for sql in recording.statements)  # the matrix query
    failed = {}
    for sql in recording.statements:
        try:
            (spark,) = sqlglot.transpile(sql, read="duckdb", write="spark",
                                         unsupported_level=ErrorLevel.RAISE)
        except sqlglot.errors.SqlglotError as exc:
            failed[sql[:120]] = str(exc)[:200]
            continue
        assert not re.search(r"\bEXCLUDE\b|generate_series|\bunnest\b", spark, re.IGNORECASE)
    assert failed == {}
