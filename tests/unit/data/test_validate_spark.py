"""The data contract checked by Spark lists the same violations as DuckDB: on a world with a
violation of every kind injected, the same tables, columns, rules, counts and sample rows;
a valid world passes; `healthscore validate` with `features.engine: spark` exits 2 with the
list. Slow tier; skipped without pyspark or Java."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from click.testing import CliRunner
from spark_support import require_spark
from test_validate import END, frames, set_cell  # noqa: F401 (frames: the fixture)

from healthscore.data.dataset import connect
from healthscore.data.loaders import register_frames
from healthscore.data.validate import validate_raw
from healthscore.errors import Violation
from healthscore.features.settings import SparkSettings

require_spark()

pytestmark = pytest.mark.slow
SPARK = SparkSettings(master="local[2]", conf={"spark.sql.shuffle.partitions": "4",
                                              "spark.default.parallelism": "2",
                                              "spark.driver.memory": "1g"})

# one injected violation per kind of rule, each in its own cell
INJECTED = [
    set_cell("events", "occurred_at", "2024-13-01", row=0),  # not a date
    set_cell("events", "occurred_at", "2024-07-01", row=1),  # after the end date
    set_cell("events", "account_id", 99, row=2),  # unknown account
    set_cell("subscriptions", "arr", "abc", row=1),  # not a number
    set_cell("subscriptions", "term_months", 0, row=0),  # below minimum
    set_cell("subscriptions", "end_date", "2022-12-01", row=0),  # end before start
    set_cell("subscriptions", "subscription_id", 10, row=2),  # duplicate key
    set_cell("accounts", "segment", None, row=1),  # null in a required column
    set_cell("tickets", "ticket_id", None, row=1),
    set_cell("tickets", "csat", 7.0, row=0),  # above maximum
    set_cell("tickets", "severity", "urgent", row=0),  # not allowed
    set_cell("surveys", "nps", 11, row=0),
    set_cell("surveys", "nps", 7.5, row=1),  # not a whole number
    set_cell("invoices", "amount", -5.0, row=0),
    set_cell("invoices", "status", "weird", row=1),
    set_cell("contacts", "ended_at", "2023-02-01", row=1),  # ended before started
    set_cell("metrics", "value", "12,5", row=0),
    set_cell("metrics", "value", "inf", row=1),  # not finite
    set_cell("metrics", "metric", None, row=2),
    set_cell("metrics", "measured_at", "2024-07-01", row=2),
]


def described(violations: list[Violation]) -> list[tuple]:
    """Each violation as comparable values: table, column, rule, count, sample rows (as text,
    missing as None: the engines' pandas dtypes differ, not their values)."""
    def cell(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return [(v.table, v.column, v.rule, v.count,
             [tuple(cell(x) for x in row) for row in v.samples.itertuples(index=False)])
            for v in violations]


def both_engines(tables: dict[str, pd.DataFrame]) -> tuple[list[Violation], list[Violation]]:
    from healthscore.features.spark_data import spark_violations

    con = connect()
    raws = register_frames(con, tables)
    return validate_raw(con, raws, END), spark_violations(con, raws, END, SPARK)


def test_spark_lists_the_same_violations_as_duckdb(frames) -> None:  # noqa: F811
    for edit in INJECTED:
        edit(frames)
    frames["accounts"] = frames["accounts"].drop(columns="created_at")  # a required column
    frames["touchpoints"] = frames["touchpoints"].iloc[:0]  # a given optional table, empty
    duck, spark = both_engines(frames)
    assert len(duck) >= 20
    assert {v.rule for v in duck} >= {"duplicate key", "account_id not in accounts",
                                      "not a whole number", "not a finite number"}
    assert ("touchpoints", None) in {(v.table, v.column) for v in duck}  # table is empty
    assert described(spark) == described(duck)


def test_a_valid_world_passes_on_spark(frames) -> None:  # noqa: F811
    duck, spark = both_engines(frames)
    assert duck == [] and spark == []


def test_validate_on_the_spark_engine_exits_2_with_the_list(frames, tmp_path) -> None:  # noqa: F811
    from healthscore.pipeline.cli import cli

    set_cell("surveys", "nps", 11)(frames)
    folder = tmp_path / "data"
    folder.mkdir()
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    config = tmp_path / "spark.yaml"
    config.write_text(f"data:\n  dir: {folder}\n  end_date: {END}\nfeatures:\n  engine: spark\n"
                      "  spark:\n    master: local[2]\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "validate"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "surveys.nps: above maximum 10 (1 row)" in text
    assert "Traceback" not in result.output
