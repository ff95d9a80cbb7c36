"""A feature build owns its SQL: rendered when the matrix is built, in tables of its own."""

from __future__ import annotations

import datetime as dt
import logging
import re

import duckdb
import pytest
from tiny_world import END

from healthscore.data.dataset import dataset_from_frames
from healthscore.features import registry
from healthscore.features.engine import build_feature_matrix
from healthscore.features.scratch import Scratch
from healthscore.features.settings import FeatureConfig


def test_a_feature_is_rendered_when_built_not_when_declared(monkeypatch):
    monkeypatch.setattr(registry, "_FEATURES", {})
    monkeypatch.setattr(registry, "_TEMPLATES", {})
    calls = []

    @registry.feature(family="usage", dimension=registry.Dimension.USAGE,
                      direction=registry.Direction.LEARNED, unit="events", explain="{value}")
    def probe_feature() -> str:
        """A feature that records when its SQL is rendered."""
        calls.append("plain")
        return "count(*)"

    @registry.feature(family="usage", dimension=registry.Dimension.USAGE,
                      direction=registry.Direction.LEARNED, unit="events", explain="{value}",
                      over="event_type")
    def probe_template(event_type: str) -> str:
        """A template that records when its SQL is rendered."""
        calls.append(event_type)
        return "sum(1)"

    assert calls == []  # declaring renders nothing
    (spec,) = registry.all_features()
    assert spec.render() == "count(*)" and calls == ["plain"]
    expanded = registry.all_templates()[0].expand("login")
    assert calls == ["plain"]  # expanding names the column; rendering writes the SQL
    assert expanded.render() == "sum(1)" and calls == ["plain", "login"]


def temp_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}


def test_a_build_leaves_only_its_spine_and_dates_behind(tiny):
    dataset = dataset_from_frames(tiny, END)
    config = FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)})
    first = build_feature_matrix(dataset, config).frame
    assert temp_tables(dataset.con) == {"spine", "snapshot_dates"}
    again = build_feature_matrix(dataset, config).frame
    assert first.equals(again)


class Records(logging.Handler):
    """Keeps the messages of the logger it is attached to, rendered when logged (a root
    handler an earlier in-process command left, with its redacting filter, rewrites the
    record's msg and args afterwards)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


@pytest.fixture
def engine_records():
    """The feature engine's INFO records while the test runs."""
    engine_log = logging.getLogger("healthscore.features.engine")
    handler, level, disabled = Records(), engine_log.level, engine_log.disabled
    switched_off = logging.root.manager.disable  # what an earlier test's logging setup left
    logging.disable(logging.NOTSET)
    engine_log.disabled = False  # (a fileConfig with disable_existing_loggers switches it off)
    engine_log.addHandler(handler)
    engine_log.setLevel(logging.INFO)
    yield handler.records
    engine_log.removeHandler(handler)
    engine_log.setLevel(level)
    engine_log.disabled = disabled
    logging.disable(switched_off)


def test_the_profile_and_the_materialised_build_give_the_same_values(tiny, engine_records,
                                                                     monkeypatch):
    """-v times each family's own query, Spark materialises each family: both give the
    composed query's frame, column for column; a family that runs out of memory on its own
    falls back to the composed query."""
    from healthscore.features import engine
    from healthscore.features.snapshots import build_spine

    dataset = dataset_from_frames(tiny, END)
    config = FeatureConfig()
    build_spine(dataset, config, [dt.date(2023, 11, 1), dt.date(2024, 3, 1), dt.date(2024, 7, 1)])
    specs = engine.candidate_features(dataset)
    composed = engine.compute_features(dataset, specs)
    engine_records.clear()
    profiled = engine.compute_features(dataset, specs, profile=True)
    timed = {m.split()[1].rstrip(":") for m in engine_records
             if re.fullmatch(r"family \w+: \d+ features in \d+\.\ds", m)}
    assert timed == {s.family for s in specs} - {"spine"}
    materialised = engine.compute_features(dataset, specs, materialise=True)
    (rows,) = dataset.con.execute("SELECT count(*) FROM spine").fetchone()
    assert len(composed) == rows > 0 and composed.shape[1] > 60
    assert composed.equals(profiled) and composed.equals(materialised)
    assert temp_tables(dataset.con) == {"spine", "snapshot_dates"}

    real = engine.family_columns

    def out_of_memory(con, specs, by_family, family_name, render):
        if family_name == "tickets":
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate")
        return real(con, specs, by_family, family_name, render)

    monkeypatch.setattr(engine, "family_columns", out_of_memory)
    engine_records.clear()
    assert engine.compute_features(dataset, specs, profile=True).equals(composed)
    assert any("family tickets ran out of DuckDB's memory" in m for m in engine_records)


def test_scratch_tables_are_unique_per_build_and_dropped_on_failure():
    con = duckdb.connect()
    with Scratch(con) as one, Scratch(con) as two:
        assert one.table("step", "SELECT 1 AS x") != two.table("step", "SELECT 2 AS x")
        assert con.execute(f"SELECT x FROM {one.name('step')}").fetchone() == (1,)
    assert temp_tables(con) == set()
    with pytest.raises(duckdb.Error), Scratch(con) as failing:
        failing.table("made", "SELECT 1 AS x")
        failing.table("broken", "SELECT no_such_column")
    assert temp_tables(con) == set()
    with pytest.raises(ValueError, match="role"):
        Scratch(con).name("x; DROP TABLE y")
