"""Bring-your-own feature tables: renaming, feature metadata, validation errors, reading."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from healthscore.errors import ConfigError, DataSourceError
from healthscore.training.feature_table import (
    FeatureTableError,
    prepare_feature_table,
    read_feature_metadata,
    read_table,
    starter_metadata,
)
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


def prepare(table: pd.DataFrame, date_column: str | None = "as_of", **kwargs):
    prepared = prepare_feature_table(table, "customer", "churned", date_column, **kwargs)
    return prepared.frame, prepared.metas


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
    # unknown columns are filed under "other" (never "usage"); text columns are categorical
    mystery = by_name["mystery_score"]
    assert (mystery.dimension, mystery.direction, mystery.categorical) == (
        "other", "learned", False)
    assert by_name["region"].dimension == "other"
    assert mystery.sentence(0.25) == "Mystery score: 0.25"
    assert by_name["region"].sentence("emea") == "Region: emea"
    assert by_name["region"].categorical
    assert by_name["region"].direction == "learned"
    assert not by_name["events_30d"].categorical


def test_config_declares_directions_of_table_columns(table: pd.DataFrame) -> None:
    metas = prepare_feature_table(table, "customer", "churned", "as_of", "t.csv",
                                  {"days_past_due": "lower_is_healthier"}).metas
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
def test_a_missing_key_column_is_named_with_every_column_present(table: pd.DataFrame,
                                                                 column: str) -> None:
    with pytest.raises(FeatureTableError) as info:
        prepare(table.drop(columns=[column]))
    message = str(info.value)
    assert info.value.exit_code == 2
    assert f"column(s) ['{column}'] not found" in message
    assert ", ".join(c for c in table.columns if c != column) in message
    assert "docs/feature-tables.md" in message


def test_every_column_is_listed_when_the_label_is_missing(table: pd.DataFrame) -> None:
    wide = table.assign(**{f"extra_{i}": 1.0 for i in range(40)})
    with pytest.raises(FeatureTableError) as info:
        prepare_feature_table(wide, "customer", "churn", "as_of")
    assert "extra_39" in str(info.value)  # not cut at 20 columns: it would look absent
    assert "did you mean 'churned'" in str(info.value)


@pytest.mark.parametrize("values", [["Yes", "No", "no", "YES"], ["true", "false", "False", "True"],
                                    [True, False, False, True], [1, 0, 0, 1], ["1", "0", "0", "1"]])
def test_yes_no_true_false_and_0_1_labels_are_recognised(table: pd.DataFrame, values) -> None:
    table["churned"] = values
    frame, _ = prepare(table)
    assert frame["label_churn"].tolist() == [True, False, False, True]


def test_a_positive_label_names_the_churn_value(table: pd.DataFrame) -> None:
    table["churned"] = ["Churned", "Active", "Active", "Churned"]
    with pytest.raises(FeatureTableError, match="--positive-label VALUE"):
        prepare(table)
    frame, _ = prepare(table, positive_label="Churned")
    assert frame["label_churn"].tolist() == [True, False, False, True]
    with pytest.raises(FeatureTableError, match="'Lost' does not occur"):
        prepare(table, positive_label="Lost")


@pytest.mark.parametrize("bad", [2, -1, "maybe"])
def test_unknown_labels_are_named_with_the_offending_rows(table: pd.DataFrame, bad) -> None:
    table["churned"] = table["churned"].astype(object)
    table.loc[2, "churned"] = bad
    with pytest.raises(FeatureTableError) as info:
        prepare(table)
    message = str(info.value)
    assert "'churned' holds 1 label(s) that are not 0/1" in message
    assert f"acct-3: {bad}" in message
    assert "acct-1:" not in message


def test_rows_without_a_label_are_kept_but_not_labelled(table: pd.DataFrame) -> None:
    table["churned"] = [0, 1, None, 1]
    frame, _ = prepare(table)
    assert frame["label_observed"].tolist() == [True, True, False, True]


# ------------------------------------------------------------------------------ column typing


def raw(rows: int = 300) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(0)
    tenure = rng.integers(0, 70, rows)
    total = (tenure * rng.uniform(20, 100, rows)).round(2).astype(str).astype(object)
    total[:3] = " "
    return pd.DataFrame({
        "customer": [f"c{i}" for i in range(rows)], "churned": rng.choice(["Yes", "No"], rows),
        "tenure": tenure, "total": total, "phone": rng.permutation(rows) + 5_550_000,
        "note": [f"text {i % 150}" for i in range(rows)], "empty": [None] * rows,
        "flag": ["x"] * rows, "tenure_copy": tenure, "tenure_weeks": tenure * 4.0,
        "signup": ["2024-01-0" + str(1 + i % 9) for i in range(rows)],
        "plan": rng.choice(["basic", "pro"], rows),
    })


def test_every_problem_column_is_reported_and_left_out() -> None:
    prepared = prepare_feature_table(raw(), "customer", "churned", None)
    notes = {n.column: n for n in prepared.notes}
    assert (notes["total"].action, notes["total"].count) == ("coerced", 3)
    assert "numbers stored as text" in notes["total"].reason
    assert prepared.frame["total"].dtype == float and prepared.frame["total"].isna().sum() == 3
    assert notes["phone"].action == "excluded" and "id-like" in notes["phone"].reason
    assert notes["note"].action == "excluded" and "150 levels" in notes["note"].reason
    assert notes["empty"].action == "dropped" and "missing" in notes["empty"].reason
    assert notes["flag"].action == "dropped" and "constant" in notes["flag"].reason
    assert notes["tenure_copy"].reason == "duplicate of 'tenure'"
    assert notes["tenure_weeks"].reason == "perfectly correlated with 'tenure'"
    assert notes["signup"].action == "excluded" and "date" in notes["signup"].reason
    assert [m.name for m in prepared.metas] == ["tenure", "total", "plan"]
    assert {n.column for n in prepared.warnings} == {
        "total", "phone", "note", "empty", "flag", "tenure_copy", "tenure_weeks", "signup"}
    report = prepared.report()
    assert list(report.columns) == ["column", "action", "reason", "count"]
    assert set(report["column"]) >= {"tenure", "total", "phone", "plan"}


def test_a_table_with_nothing_to_learn_from_is_refused() -> None:
    table = raw()[["customer", "churned", "empty", "flag"]]
    with pytest.raises(FeatureTableError, match="no column is left to learn from"):
        prepare_feature_table(table, "customer", "churned", None)


# --------------------------------------------------------------------------- feature metadata


def test_metadata_gives_labels_dimensions_directions_and_sentences(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text("columns:\n  tenure:\n    label: Tenure\n    dimension: relationship\n"
                    "    direction: higher_is_healthier\n    unit: months\n"
                    "    sentence: 'Customer for {value:g} months'\n  plan:\n"
                    "    dimension: commercial\n")
    prepared = prepare_feature_table(raw(), "customer", "churned", None,
                                     metadata=read_feature_metadata(path))
    by_name = {m.name: m for m in prepared.metas}
    tenure = by_name["tenure"]
    assert (tenure.dimension, tenure.direction, tenure.direction_source, tenure.unit) == (
        "relationship", "higher_is_healthier", "config", "months")
    assert tenure.sentence(3) == "Customer for 3 months"
    assert by_name["plan"].dimension == "commercial"
    assert by_name["total"].dimension == "other"


def test_bad_metadata_lists_every_problem_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text("columns:\n  tenure:\n    dimension: loyalty\n    colour: red\n"
                    "    sentence: '{tenure} months'\n  plan:\n    direction: up\n")
    with pytest.raises(ConfigError) as info:
        read_feature_metadata(path)
    message = str(info.value)
    assert info.value.exit_code == 2
    for part in ("columns.tenure.dimension", "columns.tenure.colour", "columns.tenure.sentence",
                 "columns.plan.direction"):
        assert part in message


def test_the_starter_file_reads_back_as_the_defaults(tmp_path: Path) -> None:
    prepared = prepare_feature_table(raw(), "customer", "churned", None)
    path = tmp_path / "features.yaml"
    path.write_text(starter_metadata(prepared, "raw.csv"))
    assert "# phone: excluded" in path.read_text()
    again = prepare_feature_table(raw(), "customer", "churned", None,
                                  metadata=read_feature_metadata(path))
    assert again.metas == prepared.metas


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


def test_an_unreadable_table_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet")
    with pytest.raises(DataSourceError, match="cannot read it as Parquet"):
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
