"""Bring-your-own feature tables: renaming, feature metadata, validation errors, reading."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from healthscore.errors import ConfigError, DataSourceError, DataValidationError
from healthscore.training.feature_table import prepare_feature_table, read_table
from healthscore.training.settings import LightGBMConfig, TrainingConfig
from healthscore.training.train import train_and_evaluate


@pytest.fixture
def table() -> pd.DataFrame:
    """A customer's own table: their key names, two registry features, two unknown ones."""
    return pd.DataFrame({
        "customer": ["acct-1", "acct-2", "acct-3", "acct-4"],
        "churned": [0, 1, 0, 1],
        "as_of": ["2025-01-01", "2025-01-01", "2025-02-01", "2025-02-01"],
        "events_30d": [120.0, 3.0, 80.0, 0.0],
        "days_past_due": [0.0, 45.0, 0.0, 10.0],
        "mystery_score": [0.4, 0.9, 0.1, 0.7],
        "region": ["emea", "amer", "apac", "emea"],
        "segment": ["SMB", "SMB", "Enterprise", "Mid-Market"],
        "arr": [12000.0, 8000.0, 150000.0, 40000.0],
    })


def prepare(table: pd.DataFrame, date_column: str | None = "as_of"):
    return prepare_feature_table(table, "customer", "churned", date_column)


# ----------------------------------------------------------------------------- preparation


def test_key_columns_are_renamed_and_labels_marked_observed(table: pd.DataFrame) -> None:
    frame, _ = prepare(table)
    assert {"account_id", "label_churn", "snapshot_date", "label_observed"} <= set(frame.columns)
    assert not {"customer", "churned", "as_of"} & set(frame.columns)
    assert frame["account_id"].tolist() == table["customer"].tolist()
    assert frame["label_churn"].tolist() == [False, True, False, True]
    assert frame["label_observed"].all()
    assert frame["snapshot_date"].tolist() == [dt.date(2025, 1, 1)] * 2 + [dt.date(2025, 2, 1)] * 2


def test_feature_metadata_comes_from_the_registry_or_the_column_type(table: pd.DataFrame
                                                                     ) -> None:
    _, metas = prepare(table)
    by_name = {m.name: m for m in metas}
    assert list(by_name) == ["events_30d", "days_past_due", "mystery_score", "region"]
    # registry names keep their dimension; every column's direction is learned (a table
    # nobody prepared for us promises nothing about which way is healthy)
    assert (by_name["events_30d"].dimension, by_name["events_30d"].direction) == (
        "usage", "learned")
    assert (by_name["days_past_due"].dimension, by_name["days_past_due"].direction) == (
        "billing", "learned")
    assert {m.direction_source for m in metas} == {"learned"}
    # unknown numeric columns are usage features; text columns are categorical
    mystery = by_name["mystery_score"]
    assert (mystery.dimension, mystery.direction, mystery.categorical) == (
        "usage", "learned", False)
    assert by_name["region"].categorical
    assert by_name["region"].direction == "learned"
    assert not by_name["events_30d"].categorical


def test_config_declares_directions_of_table_columns(table: pd.DataFrame) -> None:
    _, metas = prepare_feature_table(table, "customer", "churned", "as_of", "t.csv",
                                     {"days_past_due": "lower_is_healthier"})
    by_name = {m.name: m for m in metas}
    assert (by_name["days_past_due"].direction, by_name["days_past_due"].direction_source) == (
        "lower_is_healthier", "config")
    assert by_name["mystery_score"].direction == "learned"


def test_an_unknown_declared_column_fails_with_a_suggestion(table: pd.DataFrame) -> None:
    with pytest.raises(ConfigError) as caught:
        prepare_feature_table(table, "customer", "churned", "as_of", "t.csv",
                              {"mystery_scor": "higher_is_healthier"})
    assert caught.value.exit_code == 2
    assert "features.directions.mystery_scor" in str(caught.value)
    assert "did you mean 'mystery_score'" in str(caught.value)


def test_segment_and_arr_are_context_not_features(table: pd.DataFrame) -> None:
    frame, metas = prepare(table)
    assert not {"segment", "arr"} & {m.name for m in metas}
    assert frame["segment"].tolist() == table["segment"].tolist()
    assert frame["arr"].tolist() == table["arr"].tolist()


def test_without_a_date_column_there_is_no_snapshot_date(table: pd.DataFrame) -> None:
    frame, metas = prepare(table.drop(columns=["as_of"]), date_column=None)
    assert "snapshot_date" not in frame.columns
    assert "as_of" not in {m.name for m in metas}


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("column", ["churned", "customer", "as_of"])
def test_a_missing_key_column_is_named_with_the_columns_present(table: pd.DataFrame,
                                                                column: str) -> None:
    with pytest.raises(DataValidationError) as info:
        prepare(table.drop(columns=[column]))
    message = str(info.value)
    assert f"feature table.{column}: required column missing" in message
    present = [c for c in table.columns if c != column]
    assert f"columns present: {present}" in message


@pytest.mark.parametrize("bad", [2, -1, "yes"])
def test_labels_other_than_0_1_are_named_with_the_offending_rows(table: pd.DataFrame,
                                                                 bad) -> None:
    table["churned"] = table["churned"].astype(object)
    table.loc[2, "churned"] = bad
    with pytest.raises(DataValidationError) as info:
        prepare(table)
    message = str(info.value)
    assert "feature table.churned: label must be 0/1 (1 row)" in message
    sample_line = next(line for line in message.splitlines() if "acct-3" in line)
    assert str(bad) in sample_line
    assert "acct-1" not in message


# ---------------------------------------------------------------------- training on a table


def own_table(world, with_dates: bool) -> pd.DataFrame:
    """The world's labelled rows as a customer would export them."""
    keep = ["account_id", "snapshot_date", "label_churn", "events_30d", "weeks_active_12w",
            "days_past_due", "tickets_90d", "latest_nps", "plan", "segment", "arr"]
    out = world.labelled[keep].rename(columns={"account_id": "customer", "label_churn": "churned",
                                               "snapshot_date": "as_of"})
    out["churned"] = out["churned"].astype(int)
    return out if with_dates else out.drop(columns=["as_of"])


def test_a_table_without_dates_is_split_at_random(world) -> None:
    frame, metas = prepare(own_table(world, with_dates=False), date_column=None)
    config = TrainingConfig(models=["scorecard", "lightgbm"], bootstrap=0,
                            lightgbm=LightGBMConfig(learning_rate=0.1, num_threads=1))
    run = train_and_evaluate(frame, metas, config, 90, seed=0)
    assert run.split_kind == "random"
    assert run.split is None
    assert any("random split" in note for note in run.notes)
    total = sum(run.sizes.values())
    assert total == len(frame)
    assert run.sizes["train"] == pytest.approx(0.6 * total, abs=2)
    assert run.sizes["test"] == pytest.approx(0.2 * total, abs=2)
    assert set(run.results) == {"scorecard", "lightgbm"}
    assert "snapshot_date" not in run.best.test_rows.columns


def test_a_table_with_dates_is_split_by_time(world) -> None:
    frame, metas = prepare(own_table(world, with_dates=True))
    run = train_and_evaluate(frame, metas, TrainingConfig(models=["scorecard"], bootstrap=0),
                             90, seed=0)
    assert run.split_kind == "time"
    assert run.split is not None
    assert run.notes[0].startswith("Split by time: ")
    assert not any("random split" in note for note in run.notes)


# --------------------------------------------------------------------------------- reading


def test_reading_a_missing_table_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.parquet"
    with pytest.raises(DataSourceError, match=f"feature table {path} does not exist"):
        read_table(path)


@pytest.mark.parametrize("name", ["features.csv", "FEATURES.CSV", "features.parquet"])
def test_csv_and_parquet_tables_are_read(table: pd.DataFrame, tmp_path: Path,
                                         name: str) -> None:
    path = tmp_path / name
    if name.lower().endswith(".csv"):
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
    got = read_table(path)
    assert got.columns.tolist() == table.columns.tolist()
    pd.testing.assert_frame_equal(got, table, check_dtype=False)
