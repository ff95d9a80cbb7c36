"""Hand-computed values on the tiny world, for the spine, labels and every feature family."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from tiny_world import END

from healthscore.data.dataset import dataset_from_frames
from healthscore.features.engine import build_feature_matrix
from healthscore.features.settings import FeatureConfig

SNAP = dt.date(2024, 3, 1)


def config(**overrides) -> FeatureConfig:
    """Snapshots from April 2023: the tiny world's events begin later than its contracts."""
    return FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)}, **overrides)


@pytest.fixture
def matrix(tiny):
    return build_feature_matrix(dataset_from_frames(tiny, END), config())


def row(matrix, account: int, day: dt.date = SNAP) -> pd.Series:
    frame = matrix.frame
    hit = frame[(frame.account_id == account) & (frame.snapshot_date == day)]
    assert len(hit) == 1, f"no single row for account {account} at {day}"
    return hit.iloc[0]


# Account 1 at 2024-03-01. The event ON 2024-03-01 is future; the invoice due 2024-03-02 is
# not due yet (its failed status unknown); ticket 2 closes after the snapshot, so it is open
# and its reopened flag unknown; the champion left 2024-02-10.
ACCOUNT_1 = {
    # usage: 2 on 02-25 (5 days ago), 1 on 01-15 (46 days ago)
    "events_7d": 2, "events_30d": 2, "events_90d": 3, "events_change_30d": 1.0,
    "weeks_active_12w": 2, "event_types_30d": 1, "days_since_last_activity": 5,
    "events_30d_by_type__login": 0, "events_30d_by_type__report": 2,
    "events_change_30d_by_type__login": -1.0, "events_change_30d_by_type__report": 1.0,
    # users: user 11 in the last 30 days, user 10 in the 30 before; 5 seats
    "active_users_30d": 1, "active_users_change_30d": 0.0, "license_utilisation_30d": 0.2,
    # relationship
    "active_contacts": 1, "departments_engaged": 1, "has_executive_sponsor": 0,
    "has_champion": 0, "key_contact_left_90d": 1, "contacts_lost_180d": 1,
    # billing: invoice 1 due 01-31 paid 02-10 (late); invoice 2 not due
    "days_past_due": 0, "failed_payments_90d": 0, "late_payment_share_365d": 1.0,
    "contraction_180d": 0, "arr_change_180d": 0.0,
    # support: ticket 1 P1 closed after 4 days, escalated, csat 2; ticket 2 P3 open
    "tickets_30d": 2, "tickets_90d": 2, "high_severity_tickets_30d": 1,
    "high_severity_tickets_90d": 1, "p1_tickets_30d": 1, "open_p1_tickets": 0,
    "open_high_severity_tickets": 0,
    "median_resolution_days_180d": 4.0, "reopened_tickets_90d": 0, "escalations_90d": 1,
    "mean_csat_180d": 2.0,
    # sentiment: 8 on 2023-10-01 then 5 on 2024-02-01
    "latest_nps": 5, "nps_change": -3, "days_since_last_survey": 29,
    # engagement: QBR on 01-10
    "touchpoints_90d": 1, "days_since_last_qbr": 51, "days_since_last_touchpoint": 51,
    # commercial: customer since 2023-01-15, renews 2025-01-15
    "tenure_days": 411, "days_to_renewal": 320, "term_months": 12, "arr": 100.0,
    "seats": 5, "plan": "pro", "segment": "smb", "in_renewal_window": 0,
}


def test_every_feature_family_matches_hand_computed_values(matrix):
    actual = row(matrix, 1)
    mismatches = {k: (v, actual[k]) for k, v in ACCOUNT_1.items() if actual[k] != v}
    assert not mismatches, f"expected vs actual: {mismatches}"


def test_golden_values_cover_every_built_feature(matrix):
    assert set(matrix.feature_names) - set(ACCOUNT_1) == {"usage_trend_90d"}


def test_usage_trend_is_the_relative_least_squares_slope(matrix):
    # Daily series over 90 days (x = days ago): 2 at x=5, 1 at x=46, zeros elsewhere.
    x = pd.Series(range(1, 91), dtype=float)
    y = pd.Series(0.0, index=x.index)
    y[x == 5] = 2.0
    y[x == 46] = 1.0
    t = -x
    slope = ((t - t.mean()) * y).sum() / ((t - t.mean()) ** 2).sum()
    assert row(matrix, 1)["usage_trend_90d"] == pytest.approx(slope * 90 / y.mean())


def test_missing_values_keep_their_meaning(matrix):
    account_2 = row(matrix, 2)
    assert pd.isna(account_2["latest_nps"]), "no NPS yet must not read as NPS 0"
    assert pd.isna(account_2["mean_csat_180d"])
    assert pd.isna(account_2["late_payment_share_365d"])
    assert account_2["days_since_last_qbr"] == 366  # documented fill: none in a year
    assert account_2["days_since_last_touchpoint"] == 91


def test_spine_holds_only_active_accounts_with_context(matrix):
    frame = matrix.frame
    account_3 = frame[frame.account_id == 3]
    # monthly plan 2023-06-01 .. 2023-11-01 (exclusive end): active at the Nov 1 snapshot
    assert account_3.snapshot_date.min() == dt.date(2023, 7, 1)
    assert account_3.snapshot_date.max() == dt.date(2023, 11, 1)
    account_2 = row(matrix, 2, dt.date(2024, 4, 1))
    assert account_2["arr"] == 1500.0 and account_2["seats"] == 60
    assert account_2["lifecycle_stage"] == "mature" and account_2["days_to_renewal"] == 343
    assert row(matrix, 2, dt.date(2023, 5, 1))["lifecycle_stage"] == "onboarding"
    assert row(matrix, 2, dt.date(2023, 7, 1))["lifecycle_stage"] == "adoption"


@pytest.mark.parametrize(
    ("account", "day", "churn", "expansion"),
    [
        (3, dt.date(2023, 8, 1), False, False),  # churns 11-01: 92 days later, outside 90
        (3, dt.date(2023, 9, 1), True, False),
        (3, dt.date(2023, 11, 1), True, False),  # churn on the snapshot day is in the horizon
        (2, dt.date(2024, 1, 1), False, True),  # seat change 03-10 continues, ARR +50 %
        (2, dt.date(2024, 6, 1), False, False),  # churn 09-10 is 101 days later
        (2, dt.date(2024, 7, 1), True, False),
        (1, dt.date(2024, 3, 1), False, False),
    ],
)
def test_contract_labels(matrix, account, day, churn, expansion):
    actual = row(matrix, account, day)
    assert (actual["label_churn"], actual["label_expansion"]) == (churn, expansion)


def test_label_is_unobserved_when_the_horizon_and_grace_pass_the_data_end(matrix):
    frame = matrix.frame
    # horizon 90 + grace 30: a snapshot is labelled only if s + 119 days <= 2024-12-31
    observed = frame.groupby("snapshot_date")["label_observed"].all()
    assert observed[dt.date(2024, 9, 1)] and not observed[dt.date(2024, 10, 1)]
    assert frame.snapshot_date.max() == dt.date(2025, 1, 1)


def test_grace_days_merge_a_short_gap(tiny):
    subs = tiny["subscriptions"]
    subs.loc[subs.subscription_id == 3, "start_date"] = pd.Timestamp("2024-03-25")
    frame = build_feature_matrix(dataset_from_frames(tiny, END), config()).frame
    before_gap = frame[(frame.account_id == 2) & (frame.snapshot_date == dt.date(2024, 1, 1))]
    assert not before_gap.label_churn.iloc[0], "a 15-day gap is within the 30-day grace"
    strict = config(churn={"grace_days": 0})
    frame = build_feature_matrix(dataset_from_frames(tiny, END), strict).frame
    before_gap = frame[(frame.account_id == 2) & (frame.snapshot_date == dt.date(2024, 1, 1))]
    assert before_gap.label_churn.iloc[0]


def test_inactivity_churn_definition(tiny):
    inactivity = config(churn={"definition": "inactivity"}, horizon_days=30)
    frame = build_feature_matrix(dataset_from_frames(tiny, END), inactivity).frame
    # account 1 events: 01-15, 02-25, 03-01 -> active at 02-01 (01-15 within 30 days)
    at = frame[(frame.account_id == 1)].set_index("snapshot_date")
    assert not at.loc[dt.date(2024, 2, 1), "label_churn"]  # 02-25 falls in [02-01, 03-02)
    assert not at.loc[dt.date(2024, 3, 1), "label_churn"]  # the 03-01 event is in its horizon
    assert dt.date(2024, 5, 1) not in at.index  # no event in the 30 days before
