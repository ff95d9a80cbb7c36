"""Config loading: one ConfigError naming the file and every bad key path."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from healthscore.errors import ConfigError
from healthscore.pipeline.config import Config, config_from_mapping, load_config

CONFIGS = Path(__file__).resolve().parents[3] / "configs"

SEGMENT = {
    "seats": [1, 5], "arr_per_seat": 100, "monthly_plan_share": 0.5,
    "annual_churn": [0.1, 0.2], "base_health": 1.0, "contacts": [1, 3],
}


def write_yaml(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def problem_for(error: ConfigError, key_path: str) -> str:
    """The one problem line that starts with ``key_path``."""
    matches = [p for p in error.problems if p.startswith(f"{key_path}:")]
    assert len(matches) == 1, f"no single problem for {key_path!r} in {error.problems}"
    return matches[0]


def test_bad_file_lists_every_bad_key_path_in_one_error(tmp_path):
    path = write_yaml(tmp_path, """
        seed: 7
        data:
          tabels: {}
          tables:
            events: {path: events.parquet, colums: {}}
            accounts: {format: parquet}
        synth:
          accounts: 3
          format: xlsx
        features:
          horizon_days: soon
          churn: {definition: vibes}
          snapshots: {warmup_days: 1000, cadence: month}
    """)
    error = config_error(path)
    text = str(error)
    assert text.startswith(f"{path}: 9 configuration problem(s):")
    assert error.source == str(path)
    assert {p.split(":")[0] for p in error.problems} == {
        "data.tabels", "data.tables.events.colums", "data.tables.accounts", "synth.accounts",
        "synth.format", "features.horizon_days", "features.churn.definition",
        "features.snapshots.warmup_days", "features.snapshots.cadence",
    }
    assert "did you mean 'tables'?" in problem_for(error, "data.tabels")
    assert "did you mean 'columns'" in problem_for(error, "data.tables.events.colums")
    assert "unknown name 'cadence'" in problem_for(error, "features.snapshots.cadence")
    assert ("give exactly one of path, duckdb or url (or table alone: a table of the Spark "
            "catalog); got none") in problem_for(error, "data.tables.accounts")
    assert problem_for(error, "synth.accounts").endswith(
        "greater than or equal to 10; got 3")
    assert "'parquet' or 'csv'; got 'xlsx'" in problem_for(error, "synth.format")
    assert "valid integer" in problem_for(error, "features.horizon_days")
    assert "got 'soon'" in problem_for(error, "features.horizon_days")
    assert "'contract' or 'inactivity'; got 'vibes'" in problem_for(
        error, "features.churn.definition")
    assert "less than or equal to 730; got 1000" in problem_for(
        error, "features.snapshots.warmup_days")
    for problem in error.problems:
        assert f"  - {problem}" in text


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"duckdb": "w.duckdb"}, "a duckdb source needs `table`"),
        ({"url": "sqlite:///x.db"}, "a url source needs `query`"),
        ({"path": "a.csv", "url": "sqlite:///x.db", "query": "select 1"},
         "give exactly one of path, duckdb or url (or table alone: a table of the Spark "
         "catalog); got ['path', 'url']"),
    ],
    ids=["duckdb-without-table", "url-without-query", "two-sources"],
)
def test_table_source_needs_exactly_one_complete_source(table, expected):
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"data": {"tables": {"events": table}}}, "t.yaml")
    assert info.value.problems == [f"data.tables.events: {expected}"]


def test_unknown_table_name_is_named():
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"data": {"tables": {"tikets": {"path": "t.csv"}}}}, "t.yaml")
    (problem,) = info.value.problems
    assert problem == ("data.tables.tikets: unknown name 'tikets'; "
                       "did you mean 'tickets' or 'events'?")


def test_unknown_contract_column_in_mapping_is_named():
    raw = {"data": {"tables": {"accounts": {"path": "a.csv", "columns": {"acct": "AccountId"}}}}}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, "t.yaml")
    (problem,) = info.value.problems
    assert problem.startswith("data.tables.accounts.columns.acct: unknown name 'acct'")
    assert "did you mean 'account_id'" in problem


def test_mapping_a_column_of_another_table_is_named():
    raw = {"data": {"tables": {"accounts": {"path": "a.csv", "columns": {"nps": "Score"}}}}}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, "t.yaml")
    (problem,) = info.value.problems
    assert problem.startswith("data.tables: accounts.columns maps column(s) ['nps'] that "
                              "accounts does not have")


def test_unknown_table_and_unknown_column_are_both_reported():
    raw = {"data": {"tables": {
        "tikets": {"path": "t.csv"},
        "accounts": {"path": "a.csv", "columns": {"acct": "AccountId"}},
    }}}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, "t.yaml")
    text = str(info.value)
    assert "data.tables.tikets: unknown name 'tikets'" in text
    assert "data.tables.accounts.columns.acct: unknown name 'acct'" in text


def test_unknown_table_is_reported_next_to_a_source_error():
    raw = {"data": {"tables": {"tikets": {"path": "t.csv"}, "accounts": {}}}}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, "t.yaml")
    text = str(info.value)
    assert "data.tables.accounts: give exactly one of path, duckdb or url" in text
    assert "data.tables.tikets: unknown name 'tikets'" in text


def test_segment_shares_must_add_up_to_one():
    raw = {"synth": {"segments": {"smb": {"share": 0.5, **SEGMENT},
                                  "enterprise": {"share": 0.3, **SEGMENT}}}}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, "t.yaml")
    assert info.value.problems == ["synth.segments: segment shares must add up to 1; got 0.800"]


def test_segment_tuple_errors_name_the_segment():
    raw = {"synth": {"segments": {"smb": {**SEGMENT, "share": 1.0, "seats": [5, 1]}}}}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw, "t.yaml")
    (problem,) = info.value.problems
    assert problem.startswith("synth.segments.smb.seats: must be [low, high] with 1 <= low")


def test_missing_file_says_so(tmp_path):
    path = tmp_path / "nope.yaml"
    error = config_error(path)
    assert error.problems == ["<file>: no such file"]
    assert str(error).startswith(f"{path}: 1 configuration problem(s):")


def test_invalid_yaml_says_so_with_the_position(tmp_path):
    path = write_yaml(tmp_path, "data:\n  dir: [unclosed\nseed: 7\n")
    error = config_error(path)
    (problem,) = error.problems
    assert problem.startswith("<file>: not valid YAML:")
    assert "line" in problem
    assert str(path) in str(error)


def test_a_yaml_list_is_not_a_config(tmp_path):
    error = config_error(write_yaml(tmp_path, "- seed: 7\n"))
    assert error.problems == ["<root>: must be a mapping of keys; got list"]


def test_an_empty_file_is_an_error_not_the_demo_defaults(tmp_path):
    with pytest.raises(ConfigError, match=r"empty.yaml: (.|\n)*the file is empty"):
        load_config(write_yaml(tmp_path, "", "empty.yaml"))


def test_a_yaml_syntax_error_names_the_file(tmp_path):
    path = write_yaml(tmp_path, "data:\n  dir: [unclosed\n", "broken.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "<unicode string>" not in str(info.value)
    assert f"{path}, line" in str(info.value)


def test_an_unknown_table_is_offered_the_table_names(tmp_path):
    path = write_yaml(tmp_path, "data:\n  tables:\n    ticket: {path: x.csv}\n", "t.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "did you mean 'tickets'" in message and "'expected'" not in message


def test_none_returns_the_defaults():
    config = load_config(None)
    assert config == Config()
    assert config.data.dir == Path("healthscore-out/data")
    assert config.data.end_date is None
    assert config.features.horizon_days == 90
    assert sum(p.share for p in config.synth.segment_profiles().values()) == pytest.approx(1)


def test_demo_config_loads_and_matches_the_defaults():
    config = load_config(CONFIGS / "demo.yaml")
    assert config.data.dir == Path("healthscore-out/data")
    assert config.synth.accounts == 5000
    assert config.features.churn.definition is None  # contract with subscriptions
    assert config == Config()


def test_warehouse_example_loads():
    config = load_config(CONFIGS / "warehouse-example.yaml")
    tables = config.data.tables
    assert config.data.dir is None
    assert config.data.end_date == dt.date(2026, 10, 31)
    assert set(tables) == {"accounts", "subscriptions", "events", "tickets", "metrics"}
    assert tables["metrics"].wide and "CSM Health" in tables["metrics"].value_columns
    assert config.features.metrics.definitions["CSM Health"].dimension == "relationship"
    assert tables["subscriptions"].mrr is True
    assert tables["accounts"].columns["account_id"] == "AccountId"
    assert tables["tickets"].url.startswith("postgresql+psycopg2://")
    assert config.features.churn.grace_days == 45


def test_config_is_frozen():
    config = load_config(None)
    with pytest.raises(ValueError, match="frozen"):
        config.seed = 3


def test_transactional_example_is_a_shop_by_configuration_only():
    config = load_config(CONFIGS / "transactional.yaml")
    assert config.synth.business == "transactional"
    assert config.features.churn.definition == "inactivity"
    assert config.features.churn.inactivity_event_types == ["purchase"]
    assert config.data.dir == Path("healthscore-out/transactional/data")
    assert config.training.split == Config().training.split  # sized from the data
