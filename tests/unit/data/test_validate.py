"""Validation against the data contract: one failing input per rule, all violations at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import pytest

from healthscore.data.dataset import dataset_from_frames, open_dataset
from healthscore.data.schema import OPTIONAL_TABLES, TABLES
from healthscore.data.settings import DataConfig, TableSource
from healthscore.errors import DataValidationError, Violation
from healthscore.features.engine import candidate_features

END = dt.date(2024, 6, 30)

Frames = dict[str, pd.DataFrame]


@pytest.fixture
def frames() -> Frames:
    """Three accounts with every contract table; all rows valid as of END."""
    return {
        "accounts": pd.DataFrame({
            "account_id": [1, 2, 3],
            "name": ["Acme", "Globex", "Initech"],
            "segment": ["smb", "mid_market", "enterprise"],
            "created_at": ["2023-01-01", "2023-02-01", "2023-03-01"],
        }),
        "subscriptions": pd.DataFrame({
            "account_id": [1, 1, 2, 3],
            "subscription_id": [10, 11, 20, 30],
            "start_date": ["2023-01-01", "2023-07-01", "2023-02-01", "2023-03-01"],
            "end_date": ["2023-07-01", None, "2024-02-01", None],
            "arr": [1200.0, 1500.0, 9000.0, 50000.0],
            "seats": [2, 3, 10, 50],
            "term_months": [12, 12, 1, 24],
        }),
        "events": pd.DataFrame({
            "account_id": [1, 1, 2, 3, 3],
            "occurred_at": ["2024-01-02", "2024-01-03", "2024-01-03", "2024-03-01", "2024-06-30"],
            "event_type": ["login", "report", "login", "login", "export"],
            "user_id": ["u1", "u2", "u3", "u4", "u4"],
            "quantity": [1.0, 2.0, 1.0, 1.0, 3.0],
        }),
        "contacts": pd.DataFrame({
            "account_id": [1, 3],
            "contact_id": [100, 300],
            "role": ["champion", "admin"],
            "started_at": ["2023-01-01", "2023-03-01"],
            "ended_at": [None, "2024-01-01"],
        }),
        "invoices": pd.DataFrame({
            "account_id": [1, 2],
            "invoice_id": [1000, 2000],
            "issued_at": ["2024-01-01", "2024-01-01"],
            "due_at": ["2024-01-31", "2024-01-31"],
            "paid_at": ["2024-01-20", None],
            "amount": [100.0, 750.0],
            "status": ["paid", "failed"],
        }),
        "tickets": pd.DataFrame({
            "account_id": [1, 3],
            "ticket_id": [500, 501],
            "opened_at": ["2024-01-05", "2024-02-01"],
            "closed_at": ["2024-01-07", None],
            "severity": ["P2", "P1"],
            "escalated": [False, True],
            "csat": [4.0, None],
        }),
        "surveys": pd.DataFrame({
            "account_id": [1, 2],
            "responded_at": ["2024-02-01", "2024-02-02"],
            "nps": [9, 3],
        }),
        "touchpoints": pd.DataFrame({
            "account_id": [3],
            "occurred_at": ["2024-01-15"],
            "kind": ["qbr"],
        }),
        "metrics": pd.DataFrame({
            "account_id": [1, 1, 2],
            "measured_at": ["2024-01-07", "2024-01-07", "2024-02-01"],
            "metric": ["seats_used", "open_opportunities", "seats_used"],
            "value": [2.0, 1.0, None],
        }),
    }


def violations(frames: Frames) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        dataset_from_frames(frames, END)
    return info.value


def only_violation(error: DataValidationError) -> Violation:
    assert len(error.violations) == 1, str(error)
    return error.violations[0]


def set_cell(table: str, column: str, value: object, row: int = 0) -> Callable[[Frames], None]:
    def edit(frames: Frames) -> None:
        frame = frames[table]
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value

    return edit


def test_valid_frames_are_accepted(frames):
    dataset = dataset_from_frames(frames, END)
    assert dataset.tables == tuple(TABLES)
    assert dataset.end_date == END
    assert dataset.row_counts() == {name: len(frame) for name, frame in frames.items()}
    subs = dataset.frame("subscriptions")
    assert str(subs["start_date"].dtype).startswith("datetime64")
    assert subs["arr"].dtype == "float64"


def test_absent_optional_columns_take_their_defaults(frames):
    frames["events"] = frames["events"].drop(columns=["quantity", "user_id"])
    frames["subscriptions"] = frames["subscriptions"].drop(columns=["term_months"])
    dataset = dataset_from_frames(frames, END)
    assert dataset.frame("events")["quantity"].tolist() == [1.0] * 5
    assert dataset.frame("events")["user_id"].isna().all()
    assert dataset.frame("subscriptions")["term_months"].tolist() == [12] * 4
    tickets = dataset.frame("tickets")
    assert tickets["reopened"].tolist() == [False, False]


def test_text_account_ids_match_integer_accounts(frames):
    frames["events"]["account_id"] = ["1", "1", "2", "3", "3"]
    dataset = dataset_from_frames(frames, END)
    assert dataset.frame("events")["account_id"].tolist() == [1, 1, 2, 3, 3]


# (edit, table, column, rule, a value that must appear in the sample rows)
RULE_CASES = {
    "date-not-coercible": (set_cell("events", "occurred_at", "2024-13-01"),
                           "events", "occurred_at", "not coercible to date", "2024-13-01"),
    "number-not-coercible": (set_cell("subscriptions", "arr", "abc"),
                             "subscriptions", "arr", "not coercible to float", "abc"),
    "null-required": (set_cell("accounts", "segment", None, row=1),
                      "accounts", "segment", "null in a required column", "None"),
    "null-id": (set_cell("tickets", "ticket_id", None, row=1),
                "tickets", "ticket_id", "null in a required column", "3"),
    "after-end-date": (set_cell("events", "occurred_at", "2024-07-01"),
                       "events", "occurred_at", "date after the data's end date 2024-06-30",
                       "2024-07-01"),
    "nps-above-max": (set_cell("surveys", "nps", 11), "surveys", "nps", "above maximum 10", "11"),
    "amount-below-min": (set_cell("invoices", "amount", -5.0),
                         "invoices", "amount", "below minimum 0", "-5.0"),
    "csat-above-max": (set_cell("tickets", "csat", 7.0), "tickets", "csat", "above maximum 5",
                       "7.0"),
    "term-months-below-min": (set_cell("subscriptions", "term_months", 0),
                              "subscriptions", "term_months", "below minimum 1", "0"),
    "severity-not-allowed": (set_cell("tickets", "severity", "urgent"), "tickets", "severity",
                             "not one of ['P1', 'P2', 'P3', 'P4']", "urgent"),
    "status-not-allowed": (set_cell("invoices", "status", "weird"), "invoices", "status",
                           "not one of ['paid', 'open', 'failed', 'void']", "weird"),
    "end-before-start": (set_cell("subscriptions", "end_date", "2022-12-01"),
                         "subscriptions", "end_date", "end_date before start_date",
                         "2022-12-01"),
    "ended-before-started": (set_cell("contacts", "ended_at", "2023-02-01", row=1),
                             "contacts", "ended_at", "ended_at before started_at",
                             "2023-02-01"),
    "account-not-in-accounts": (set_cell("events", "account_id", 99),
                                "events", "account_id", "account_id not in accounts", "99"),
    "metric-not-a-number": (set_cell("metrics", "value", "12,5"),
                            "metrics", "value", "not coercible to float", "12,5"),
    "metric-not-finite": (set_cell("metrics", "value", float("inf")),
                          "metrics", "value", "not a finite number", "inf"),
    "metric-nan": (set_cell("metrics", "value", "NaN", row=2),
                   "metrics", "value", "not a finite number", "NaN"),
    "metric-name-null": (set_cell("metrics", "metric", None),
                         "metrics", "metric", "null in a required column", "None"),
    "metric-after-end-date": (set_cell("metrics", "measured_at", "2024-07-01"), "metrics",
                              "measured_at", "date after the data's end date 2024-06-30",
                              "2024-07-01"),
}


@pytest.mark.parametrize("case", RULE_CASES.values(), ids=RULE_CASES.keys())
def test_each_rule_names_table_column_rule_and_samples(frames, case):
    edit, table, column, rule, sample = case
    edit(frames)
    error = violations(frames)
    violation = only_violation(error)
    assert (violation.table, violation.column, violation.rule, violation.count) == (
        table, column, rule, 1)
    assert sample in violation.samples.to_string()
    message = str(error)
    assert message.startswith("input data breaks the data contract in 1 way(s):")
    assert f"  - {table}.{column}: {rule} (1 row)\n" in message
    sample_lines = message.split(f"{rule} (1 row)\n")[1].splitlines()[:2]
    assert sample in sample_lines[1], message


def test_duplicate_key_shows_the_key_and_its_row_count(frames):
    frames["subscriptions"].loc[1, "subscription_id"] = 10
    violation = only_violation(violations(frames))
    assert (violation.table, violation.column, violation.rule, violation.count) == (
        "subscriptions", "subscription_id", "duplicate key", 2)
    assert violation.samples.to_dict("records") == [{"subscription_id": 10, "n_rows": 2}]
    assert "subscriptions.subscription_id: duplicate key (2 rows)" in violation.describe()


def test_event_logs_may_repeat_rows(frames):
    frames["events"] = pd.concat([frames["events"], frames["events"]], ignore_index=True)
    assert dataset_from_frames(frames, END).row_counts()["events"] == 10


def test_required_column_missing(frames):
    frames["accounts"] = frames["accounts"].drop(columns="segment")
    violation = only_violation(violations(frames))
    assert (violation.table, violation.column, violation.rule) == (
        "accounts", "segment", "required column missing; columns found in frame accounts: "
        "'account_id', 'name', 'created_at'")
    assert violation.samples.empty


def test_required_column_missing_through_a_columns_mapping(frames, tmp_path):
    frames["accounts"] = frames["accounts"].rename(columns={"segment": "Tier"})
    for name in ("accounts", "subscriptions", "events"):
        frames[name].to_parquet(tmp_path / f"{name}.parquet")
    data = DataConfig(
        dir=tmp_path, end_date=END,
        tables={"accounts": TableSource(path=tmp_path / "accounts.parquet",
                                        columns={"segment": "tier_name"})},
    )
    with pytest.raises(DataValidationError) as info:
        open_dataset(data)
    violation = only_violation(info.value)
    assert (violation.table, violation.column) == ("accounts", "segment")
    assert violation.rule == (
        "required column missing (mapped from 'tier_name', not found); columns found in "
        f"{tmp_path / 'accounts.parquet'}: 'account_id', 'name', 'Tier', 'created_at'")
    assert "accounts.segment: required column missing (mapped from 'tier_name'" in str(info.value)


def test_empty_required_table(frames):
    frames["events"] = frames["events"].iloc[0:0]
    violation = only_violation(violations(frames))
    assert (violation.table, violation.column, violation.rule) == ("events", None, "table is empty")
    assert "  - events: table is empty (0 rows)" in str(violations(frames))


def test_a_given_optional_table_that_is_empty_is_an_error(frames):
    # an empty table would turn its features to zero instead of off and move accounts' bands
    frames["surveys"] = frames["surveys"].iloc[0:0]
    error = violations(frames)
    assert [(v.table, v.column) for v in error.violations] == [("surveys", None)]
    assert "table is empty; remove it" in error.violations[0].rule


def test_a_fraction_in_a_whole_number_column_is_an_error(frames):
    set_cell("surveys", "nps", 7.5)(frames)
    error = violations(frames)
    assert [(v.table, v.column, v.rule) for v in error.violations] == [
        ("surveys", "nps", "not a whole number")]


def test_every_violation_is_listed_in_one_error(frames):
    set_cell("events", "occurred_at", "2024-13-01")(frames)
    set_cell("surveys", "nps", 11)(frames)
    set_cell("tickets", "severity", "urgent")(frames)
    set_cell("invoices", "account_id", 42)(frames)
    frames["accounts"] = frames["accounts"].drop(columns="created_at")
    error = violations(frames)
    found = [(v.table, v.column, v.rule) for v in error.violations]
    assert found == [
        ("accounts", "created_at", "required column missing; columns found in frame "
                                   "accounts: 'account_id', 'name', 'segment'"),
        ("events", "occurred_at", "not coercible to date"),
        ("invoices", "account_id", "account_id not in accounts"),
        ("tickets", "severity", "not one of ['P1', 'P2', 'P3', 'P4']"),
        ("surveys", "nps", "above maximum 10"),
    ]
    assert str(error).startswith("input data breaks the data contract in 5 way(s):")
    assert str(error).count("\n  - ") == 5


def test_counts_and_samples_are_capped_at_five(frames):
    frames["events"] = pd.DataFrame({
        "account_id": [1] * 8, "occurred_at": [f"2025-01-0{i}" for i in range(1, 9)],
        "event_type": ["login"] * 8,
    })
    violation = only_violation(violations(frames))
    assert violation.count == 8
    assert len(violation.samples) == 5
    assert "(8 rows)" in violation.describe()


@pytest.mark.parametrize("table", OPTIONAL_TABLES)
def test_an_absent_optional_table_is_not_an_error(frames, table):
    del frames[table]
    dataset = dataset_from_frames(frames, END)
    assert not dataset.has(table)
    assert table not in dataset.tables


def test_absent_tickets_switch_off_support_features_only(frames):
    with_tickets = {s.dimension.value for s in candidate_features(dataset_from_frames(frames, END))}
    assert "support" in with_tickets
    del frames["tickets"]
    features = candidate_features(dataset_from_frames(frames, END))
    dimensions = {s.dimension.value for s in features}
    assert "support" not in dimensions
    assert {s.family for s in features}.isdisjoint({"tickets"})
    assert {"usage", "billing", "relationship", "sentiment"} <= dimensions
    assert "events_30d" in {s.name for s in features}


def test_absent_metrics_switch_off_metric_features_only(frames):
    with_metrics = candidate_features(dataset_from_frames(frames, END))
    metric_names = {s.name for s in with_metrics if s.family == "metrics"}
    assert {"metric_last__seats_used", "metric_stale__open_opportunities"} <= metric_names
    del frames["metrics"]
    without = candidate_features(dataset_from_frames(frames, END))
    assert {s.name for s in without} == {s.name for s in with_metrics} - metric_names


def test_a_metrics_table_without_values_has_no_metric_features(frames):
    frames["metrics"]["value"] = None
    features = candidate_features(dataset_from_frames(frames, END))
    assert not [s for s in features if s.family == "metrics"]


def test_metrics_may_repeat_a_day_and_leave_values_empty(frames):
    frames["metrics"] = pd.concat([frames["metrics"]] * 2, ignore_index=True)
    assert dataset_from_frames(frames, END).row_counts()["metrics"] == 6


def test_without_optional_tables_only_required_families_remain(frames):
    for table in OPTIONAL_TABLES:
        del frames[table]
    families = {s.family for s in candidate_features(dataset_from_frames(frames, END))}
    assert families == {"spine", "usage", "users", "activity"}
