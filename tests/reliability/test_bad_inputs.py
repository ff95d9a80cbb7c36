"""The bad-input corpus: every table, every column, every rule of the data contract, and the
config, each broken once on a copy of a small world and fed to the nightly command.

Every case asserts the exit code, that the one-paragraph message names the table, column and
rule (or the file / key), that there is no traceback, and that nothing was written: no score
file, no history, no cache. Cases are generated from the contract in healthscore.data.schema,
so a new column or rule is covered without editing this file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    World,
    base_config,
    copy_world,
    files_under,
    flat,
    invoke,
    read_table,
    remove_table,
    write_table,
)

from healthscore.data.schema import ACCOUNT_ID, TABLES, Column, Kind, Table

Mutation = Callable[[Path, dict, Path], None]  # (data folder, config mapping, case folder)


@dataclass(frozen=True)
class Case:
    """One broken input: how to break it, what the message must name, the exit code."""

    id: str
    mutate: Mutation
    words: tuple[str, ...]
    code: int = 2
    args: tuple[str, ...] = ("score",)
    secrets: tuple[str, ...] = ()  # must not appear in the output


def _set_cell(table: str, column: str, value, row: int = 0) -> Mutation:
    """Put ``value`` in one cell; the column becomes text when ``value`` is text."""
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        frame = read_table(data, table)
        if column not in frame:  # an optional column this world does not write (events.amount)
            frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        values = frame[column].astype(object).where(frame[column].notna(), None).tolist()
        if isinstance(value, str):  # a text cell among numbers or dates: the column is text
            values = [None if v is None else str(v) for v in values]
        elif isinstance(value, float) and pd.api.types.is_numeric_dtype(frame[column]):
            values = [None if v is None else float(v) for v in values]
        values[row] = value
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
        write_table(data, table, frame)
    return mutate


def _drop_column(table: str, column: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        write_table(data, table, read_table(data, table).drop(columns=column))
    return mutate


def _empty_table(table: str, fmt: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        write_table(data, table, read_table(data, table).iloc[0:0], fmt)
    return mutate


def _zero_byte_file(table: str, fmt: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        remove_table(data, table)
        (data / f"{table}.{fmt}").write_bytes(b"")
    return mutate


def _truncated_parquet(table: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        path = write_table(data, table, read_table(data, table))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return mutate


def _remove(table: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        remove_table(data, table)
    return mutate


def _duplicate_first_row(table: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        frame = read_table(data, table)
        write_table(data, table, pd.concat([frame, frame.head(1)], ignore_index=True))
    return mutate


def _shift_date(table: str, later: str, earlier: str) -> Mutation:
    """Put ``later`` ten days before ``earlier`` on a row where both are set."""
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        frame = read_table(data, table)
        both = frame[frame[earlier].notna()].index[0]
        frame[later] = frame[later].astype(object)
        frame.loc[both, later] = (pd.Timestamp(frame.loc[both, earlier])
                                  - pd.Timedelta(days=10)).date()
        write_table(data, table, frame)
    return mutate


def _sample_value(column: Column, end: dt.date):
    """A broken value per rule of one column: {rule words: value}."""
    cases: dict[str, object] = {}
    if column.kind in (Kind.DATE, Kind.TIMESTAMP):
        cases[f"not coercible to {column.kind.value}"] = "2024-13-45"
    if column.kind in (Kind.FLOAT, Kind.INT):
        cases[f"not coercible to {column.kind.value}"] = "twelve"
    if column.kind is Kind.BOOL:
        cases["not coercible to bool"] = "maybe"
    if column.kind is Kind.INT:
        low = column.min if column.min is not None else 0
        cases["not a whole number"] = float(low) + 1.5
    if column.min is not None:
        cases["below minimum"] = column.min - 1
    if column.max is not None:
        cases["above maximum"] = column.max + 1
    if column.not_after_end:
        cases["date after the data's end date"] = (end + dt.timedelta(days=40)).isoformat()
    if column.allowed:
        cases["not one of"] = "bogus"
    if column.finite:
        cases["not a finite number"] = float("inf")
    return cases


END = dt.date(2026, 6, 30)  # replaced by the world's end date where it matters (see below)


def contract_cases() -> list[Case]:
    """Cases generated from every table and column of the contract."""
    cases: list[Case] = []
    for table in TABLES.values():
        cases += _table_cases(table)
        for column in table.columns:
            cases += _column_cases(table, column)
    return cases


def _table_cases(table: Table) -> list[Case]:
    name = table.name
    out = [
        Case(f"{name}-empty-parquet", _empty_table(name, "parquet"), (name, "table is empty")),
        Case(f"{name}-header-only-csv", _empty_table(name, "csv"), (name, "table is empty")),
        Case(f"{name}-zero-byte-parquet", _zero_byte_file(name, "parquet"),
             (f"table '{name}'", f"{name}.parquet", "is empty (0 bytes)")),
        Case(f"{name}-zero-byte-csv", _zero_byte_file(name, "csv"),
             (f"table '{name}'", f"{name}.csv", "is empty (0 bytes)")),
        Case(f"{name}-truncated-parquet", _truncated_parquet(name),
             (f"table '{name}'", f"{name}.parquet", "not a complete Parquet file")),
    ]
    if table.required:
        out.append(Case(f"{name}-missing", _remove(name),
                        ("required table(s)", f"'{name}'", "have no source")))
    if table.key:
        out.append(Case(f"{name}-duplicate-key", _duplicate_first_row(name),
                        (f"{name}.{', '.join(table.key)}", "duplicate key")))
    if name != "accounts":
        out.append(Case(f"{name}-orphan-account", _set_cell(name, ACCOUNT_ID, "no-such-account"),
                        (f"{name}.{ACCOUNT_ID}", "account_id not in accounts",
                         "no-such-account")))
        out.append(Case(f"{name}-unicode-orphan", _set_cell(name, ACCOUNT_ID, "Kundé-账户-7"),
                        (f"{name}.{ACCOUNT_ID}", "account_id not in accounts",
                         "Kundé-账户-7")))
    for order in table.order_rules:
        out.append(Case(f"{name}-{order.later}-before-{order.earlier}",
                        _shift_date(name, order.later, order.earlier),
                        (f"{name}.{order.later}", f"{order.later} before {order.earlier}")))
    return out


def _column_cases(table: Table, column: Column) -> list[Case]:
    name, col = table.name, column.name
    out = []
    if column.required:
        out.append(Case(f"{name}.{col}-missing", _drop_column(name, col),
                        (f"{name}.{col}", "required column missing")))
    if not column.nullable:
        out.append(Case(f"{name}.{col}-null", _set_cell(name, col, None),
                        (f"{name}.{col}", "null in a required column")))
    for rule, value in _sample_value(column, END).items():
        mutate = (_future_date(name, col) if rule.startswith("date after")
                  else _set_cell(name, col, value))
        out.append(Case(f"{name}.{col}-{rule.replace(' ', '-')}", mutate,
                        (f"{name}.{col}", rule)))
    return out


def _future_date(table: str, column: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        end = dt.date.fromisoformat(config["data"]["end_date"])
        _set_cell(table, column, (end + dt.timedelta(days=40)).isoformat())(data, config, tmp)
    return mutate


# --------------------------------------------------------------------------------------------
# files, formats and sources

def _config_file(text: str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        config.clear()
        config["__text__"] = text
    return mutate


def _update(path: str, value) -> Mutation:
    """Set a dotted config key (``scoring.overrides``); ``{tmp}`` in strings is the case folder."""
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        node = config
        keys = path.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = _in_case_folder(value, tmp)
    return mutate


def _in_case_folder(value, tmp: Path):
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, dict):
        return {k: _in_case_folder(v, tmp) for k, v in value.items()}
    if isinstance(value, list):
        return [_in_case_folder(v, tmp) for v in value]
    return value


def _both(*mutations: Mutation) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        for m in mutations:
            m(data, config, tmp)
    return mutate


def _file(relative: str, content: bytes | str) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        path = tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return mutate


def as_folder(data: Path, table: str, parts: int = 3) -> Path:
    """Rewrite a table as a folder of Parquet part files, as Spark or a warehouse export
    writes it."""
    frame = read_table(data, table)
    remove_table(data, table)
    folder = data / table
    folder.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[chunk].to_parquet(folder / f"part-{i:04d}.parquet", index=False)
    return folder


def _zero_byte_part(data: Path, config: dict, tmp: Path) -> None:
    (as_folder(data, "events") / "part-0099.parquet").write_bytes(b"")


def _garbage_part(data: Path, config: dict, tmp: Path) -> None:
    (as_folder(data, "events") / "part-0098.parquet").write_bytes(b"PAR1 this is not parquet")


def _huge_string(data: Path, config: dict, tmp: Path) -> None:
    _set_cell("subscriptions", "arr", "9" * 50 + "x" * 200_000)(data, config, tmp)


def _overrides(frame: pd.DataFrame) -> Mutation:
    def mutate(data: Path, config: dict, tmp: Path) -> None:
        frame.to_csv(tmp / "overrides.csv", index=False)
        config.setdefault("scoring", {})["overrides"] = str(tmp / "overrides.csv")
    return mutate


PASSWORD = "s3cr@t:pa/ss"
ENCODED = "s3cr%40t%3Apa%2Fss"
GOOD_OVERRIDE = {"account_id": [1], "value": [50.0], "author": ["cs"], "reason": ["r"],
                 "expires_at": ["2099-01-01"]}


def source_and_config_cases() -> list[Case]:
    cases = [
        Case("events-zero-byte-part-in-folder", lambda d, c, t: _zero_byte_part(d, c, t),
             ("table 'events'", "part-0099.parquet", "is empty (0 bytes)")),
        Case("events-garbage-part-in-folder", lambda d, c, t: _garbage_part(d, c, t),
             ("table 'events'", "part-0098.parquet", "not a complete Parquet file")),
        Case("huge-string-in-a-number-column", lambda d, c, t: _huge_string(d, c, t),
             ("subscriptions.arr", "not coercible to float")),
        Case("surveys-nps-fraction-csv", _both(
            lambda d, c, t: write_table(d, "surveys", read_table(d, "surveys").assign(
                nps=lambda f: f["nps"].astype(float).where(f.index != 0, 7.5)), "csv")),
             ("surveys.nps", "not a whole number")),
        Case("subscriptions-seats-fraction", _set_cell("subscriptions", "seats", 2.5),
             ("subscriptions.seats", "not a whole number")),
        Case("subscriptions-term-fraction", _set_cell("subscriptions", "term_months", 12.4),
             ("subscriptions.term_months", "not a whole number")),
        Case("table-path-missing", _update("data.tables.tickets", {"path": "{tmp}/nope.csv"}),
             ("table 'tickets'", "nope.csv does not exist")),
        Case("table-glob-matches-nothing",
             _update("data.tables.tickets", {"path": "{tmp}/exports/tickets-*.csv"}),
             ("table 'tickets'", "no file matches", "tickets-*.csv")),
        Case("table-unknown-format", _both(_file("t.txt", "a,b\n1,2\n"),
                                           _update("data.tables.tickets", {"path": "{tmp}/t.txt"})),
             ("table 'tickets'", "cannot tell the format", "t.txt")),
        Case("table-duckdb-file-missing",
             _update("data.tables.tickets", {"duckdb": "{tmp}/w.duckdb", "table": "tickets"}),
             ("table 'tickets'", "w.duckdb does not exist")),
        Case("table-sql-query-fails",
             _update("data.tables.tickets", {"url": "sqlite:///{tmp}/w.db",
                                             "query": "select * from tickets"}),
             ("table 'tickets'", "query against sqlite:///", "failed")),
        Case("table-mapped-column-absent",
             _update("data.tables.surveys", {"path": "{tmp}/data/surveys.parquet",
                                             "columns": {"nps": "score"}}),
             ("surveys.nps", "required column missing", "mapped from 'score'")),
        Case("table-maps-a-column-it-lacks",
             _update("data.tables.surveys", {"path": "{tmp}/data/surveys.parquet",
                                             "columns": {"severity": "sev"}}),
             ("data.tables", "surveys.columns maps column(s) ['severity']",
              "surveys does not have")),
        Case("table-two-sources", _update("data.tables.surveys",
                                          {"path": "{tmp}/x.csv", "url": "sqlite://"}),
             ("data.tables.surveys", "give exactly one of path, duckdb or url")),
        Case("table-unknown-name", _update("data.tables.ticket", {"path": "{tmp}/x.csv"}),
             ("data.tables", "ticket", "did you mean 'tickets'"),
             secrets=("'expected'",)),
        # the config file itself
        Case("config-yaml-syntax", _config_file("data:\n  dir: [oops\nworkdir: x\n"),
             ("run.yaml", "not valid YAML", "line")),
        Case("config-empty-file", _config_file(""), ("run.yaml", "the file is empty")),
        Case("config-not-a-mapping", _config_file("- a\n- b\n"),
             ("run.yaml", "must be a mapping")),
        Case("config-unknown-key", _update("workdri", "x"),
             ("workdri", "did you mean 'workdir'")),
        Case("config-bad-seed", _update("seed", "abc"), ("seed", "valid integer")),
        Case("config-horizon-zero", _update("features.horizon_days", 0),
             ("features.horizon_days",)),
        Case("config-unknown-model", _update("training.models", ["xgboost"]),
             ("training.models",)),
        Case("config-memory-limit", _update("data.engine.memory_limit", "lots"),
             ("data.engine.memory_limit",)),
        Case("config-end-date-bad", _update("data.end_date", "yesterday"),
             ("data.end_date",)),
        Case("config-band-gap", _update("scoring.bands", [
            {"name": "low", "low": 0, "high": 40}, {"name": "high", "low": 50, "high": 100}]),
             ("scoring.bands",)),
        Case("config-hard-stop-misspelt", _update("scoring.hard_stops", [
            {"name": "late", "feature": "days_pst_due", "op": ">=", "value": 30, "cap": 20}]),
             ("scoring.hard_stops[0].feature", "unknown feature 'days_pst_due'",
              "did you mean 'days_past_due'")),
        Case("config-hard-stop-bad-op", _update("scoring.hard_stops", [
            {"name": "late", "feature": "days_past_due", "op": "=>", "value": 30, "cap": 20}]),
             ("scoring.hard_stops[0].op",)),
        Case("overrides-file-missing", _update("scoring.overrides", "{tmp}/none.csv"),
             ("scoring.overrides", "none.csv does not exist")),
        Case("overrides-missing-column", _overrides(pd.DataFrame(
            {k: v for k, v in GOOD_OVERRIDE.items() if k != "author"})),
             ("overrides.author", "required column missing")),
        Case("overrides-value-out-of-range", _overrides(pd.DataFrame(
            GOOD_OVERRIDE | {"value": [150.0]})), ("overrides.value, cap", "outside 0-100")),
        Case("overrides-value-and-cap", _overrides(pd.DataFrame(
            GOOD_OVERRIDE | {"cap": [10.0]})), ("overrides.value, cap", "both value and cap")),
        Case("overrides-zero-byte", _both(_file("o.csv", b""),
                                          _update("scoring.overrides", "{tmp}/o.csv")),
             ("overrides", "o.csv")),
        Case("workdir-under-a-file", _both(_file("blocker", "x"),
                                           _update("workdir", "{tmp}/blocker/work")),
             ("workdir", "cannot write to", "blocker/work")),
        Case("output-dir-under-a-file", _both(_file("blocker", "x"),
                                              _update("scoring.output_dir", "{tmp}/blocker/s")),
             ("scoring.output_dir", "cannot write to", "blocker/s")),
        Case("history-url-raw-at", _update(
            "scoring.history", f"postgresql+psycopg2://scorer:{PASSWORD}@localhost:1/h"),
             ("scoring.history", "percent-encode", "%40"),
             secrets=(PASSWORD, "cr@t", "pa/ss")),
        Case("history-url-unknown-dialect", _update(
            "scoring.history", f"nosuchdb://scorer:{ENCODED}@localhost/h"),
             ("scoring.history", "not a usable SQLAlchemy URL", "scorer:***@localhost"),
             secrets=(ENCODED, PASSWORD)),
        Case("tracking-url-raw-at", _update(
            "training.tracking.uri", f"postgresql+psycopg2://ml:{PASSWORD}@localhost:1/ml"),
             ("training.tracking.uri", "percent-encode"), secrets=(PASSWORD, "cr@t")),
        Case("as-of-after-the-data", lambda d, c, t: None, ("--as-of", "2099-01-01"),
             args=("score", "--as-of", "2099-01-01")),
        Case("as-of-not-a-date", lambda d, c, t: None, ("--as-of", "yesterday"),
             args=("score", "--as-of", "yesterday")),
        Case("tracking-store-missing", _update("training.tracking.uri",
                                               "sqlite:///{tmp}/no-such-mlflow.db"),
             ("no MLflow tracking store", "no-such-mlflow.db", "never creates"), code=3),
        Case("model-alias-missing", lambda d, c, t: None, ("models:/healthscore@nosuch",),
             code=3, args=("score", "--model", "models:/healthscore@nosuch")),
        Case("drift-store-missing", _update("training.tracking.uri",
                                            "sqlite:///{tmp}/no-such-mlflow.db"),
             ("no MLflow tracking store",), code=3, args=("drift",)),
        Case("validate-bad-data", _set_cell("surveys", "nps", 11),
             ("surveys.nps", "above maximum 10"), args=("validate",)),
        Case("build-features-bad-data", _set_cell("surveys", "nps", -1),
             ("surveys.nps", "below minimum 0"), args=("build-features",)),
        Case("train-bad-data", _set_cell("tickets", "severity", "P9"),
             ("tickets.severity", "not one of"), args=("train",)),
        Case("drift-bad-data", _set_cell("invoices", "status", "lost"),
             ("invoices.status", "not one of"), args=("drift",)),
    ]
    return cases


CASES = contract_cases() + source_and_config_cases()
# The default tier runs every table-level, source and config case and every column rule of two
# tables that between them have every kind of rule; `make test-slow` runs all the rest.
DEFAULT_TIER_COLUMNS = ("surveys.", "subscriptions.")


def _param(case: Case):
    slow = "." in case.id.split("-")[0] and not case.id.startswith(DEFAULT_TIER_COLUMNS)
    return pytest.param(case, id=case.id, marks=[pytest.mark.slow] if slow else [])


def test_the_corpus_covers_every_table_and_is_large_enough():
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    for table in TABLES:
        assert any(c.id.startswith(f"{table}.") for c in CASES), table


def _write_config(config: dict, tmp: Path) -> Path:
    path = tmp / "run.yaml"
    if "__text__" in config:
        path.write_text(config["__text__"])
    else:
        path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_a_bad_input_is_one_clear_error_and_writes_nothing(case: Case, world: World, tmp_path,
                                                           monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.tracking_uri)
    data = copy_world(world, tmp_path)
    config = base_config(world, tmp_path)
    case.mutate(data, config, tmp_path)
    if "training" in config and "tracking" in config["training"]:
        monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the config's store is the one under test
    path = _write_config(config, tmp_path)
    # half the cases give -c after the subcommand, as a scheduler's command line may
    argv = (["-c", str(path), *case.args] if sum(map(ord, case.id)) % 2 else
            [case.args[0], "-c", str(path), *case.args[1:]])
    result = invoke(argv)
    text = flat(result.output)
    assert result.exit_code == case.code, text[-3000:]
    for word in case.words:
        assert word in text, f"{word!r} not in: {text[-3000:]}"
    for secret in case.secrets:
        assert secret not in text
    assert "Traceback" not in text
    assert len(text) < 20_000  # samples are cut, a 200k-character cell is not echoed
    workdir = Path(config.get("workdir", tmp_path / "work"))
    assert files_under(workdir) == [], "a failed run wrote files"
    assert files_under(tmp_path / "work") == []


@pytest.mark.parametrize("variant", ["bom", "semicolon", "bracket-folder"])
def test_odd_but_valid_inputs_are_read(variant, world: World, tmp_path, monkeypatch):
    """A UTF-8 BOM, a semicolon delimiter and a '[' in the folder name are not errors."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.tracking_uri)
    folder = tmp_path / ("exports [2025]" if variant == "bracket-folder" else "plain")
    folder.mkdir()
    data = copy_world(world, folder)
    config = base_config(world, folder)
    surveys = read_table(data, "surveys")
    events = as_folder(data, "events")
    (events / "_SUCCESS").write_bytes(b"")  # bookkeeping files of a Spark export are skipped
    if variant == "bom":
        write_table(data, "surveys", surveys, "csv", encoding="utf-8-sig")
    elif variant == "semicolon":
        write_table(data, "surveys", surveys, "csv", sep=";")
    path = _write_config(config, folder)
    result = invoke(["-c", str(path), "validate"])
    assert result.exit_code == 0, flat(result.output)
    assert "surveys" in result.output and f"{len(surveys):,}" in result.output
    assert f"{len(read_table(data, 'events')):,}" in result.output  # every part was read


def test_an_empty_file_is_not_the_demo_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    result = invoke(["-c", str(path), "validate"])
    assert result.exit_code == 2 and "the file is empty" in flat(result.output)


def test_fractions_are_errors_not_rounded(world: World, tmp_path, monkeypatch):
    """NPS 7.5 was read as 8: every whole-number column refuses a fraction."""
    whole = [(t.name, c.name) for t in TABLES.values() for c in t.columns if c.kind is Kind.INT]
    assert ("surveys", "nps") in whole and ("subscriptions", "seats") in whole
    ids = {c.id for c in CASES}
    for table, column in whole:
        assert f"{table}.{column}-not-a-whole-number" in ids
