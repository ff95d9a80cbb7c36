"""Hand-computed values on the tiny world, for the spine, labels and every feature family."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from tiny_world import END

from healthscore.data.dataset import dataset_from_frames, open_dataset
from healthscore.data.settings import DataConfig, TableSource
from healthscore.features.engine import build_feature_matrix
from healthscore.features.settings import FeatureConfig

SNAP = dt.date(2024, 3, 1)
NAN = float("nan")


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
    # lifetime activity: days 01-15 and 02-25 (the 03-01 event is future): one gap of 41 days
    "active_days_lifetime": 2, "activity_gap_mean_days": 41.0,
    "activity_gap_spread_days": NAN, "activity_overdue_ratio": 5 / 41,
    # purchases: one, of 30, on 02-25
    "days_since_last_purchase": 5, "purchases_lifetime": 1, "purchase_gap_mean_days": NAN,
    "purchase_overdue_ratio": NAN, "revenue_lifetime": 30.0, "average_basket": 30.0,
    "revenue_90d": 30.0, "revenue_365d": 30.0, "purchases_365d": 1,
}


# metrics (stale after 45 days). seats_used before 03-01: 3 on 11-20, 4 on 01-05, 2 on 02-10,
# 5 and 7 on 02-29 (mean 6); as of 01-31 (s - 30) the latest is 4 (26 days old), as of 12-02
# (s - 90) it is 3; the window [12-02, 03-01) holds 4, 2, 5, 7. crm_health: one value 168 days
# old, so stale. (The slope is checked against a least-squares fit below.)
ACCOUNT_1_METRICS = {
    "metric_last__seats_used": 6.0, "metric_change_30d__seats_used": 2.0,
    "metric_pct_change_30d__seats_used": 0.5, "metric_change_90d__seats_used": 3.0,
    "metric_pct_change_90d__seats_used": 1.0, "metric_min_90d__seats_used": 2.0,
    "metric_max_90d__seats_used": 7.0, "metric_days_since__seats_used": 1.0,
    "metric_stale__seats_used": 0.0,
    "metric_last__crm_health": NAN, "metric_change_30d__crm_health": NAN,
    "metric_pct_change_30d__crm_health": NAN, "metric_change_90d__crm_health": NAN,
    "metric_pct_change_90d__crm_health": NAN, "metric_slope_90d__crm_health": NAN,
    "metric_min_90d__crm_health": NAN, "metric_max_90d__crm_health": NAN,
    "metric_days_since__crm_health": 168.0, "metric_stale__crm_health": 1.0,
}


def mismatches(actual: pd.Series, expected: dict[str, object]) -> dict[str, tuple]:
    """Expected vs actual values that differ (NaN equals NaN)."""
    return {k: (v, actual[k]) for k, v in expected.items()
            if not (actual[k] == v or (pd.isna(v) and pd.isna(actual[k])))}


def test_every_feature_family_matches_hand_computed_values(matrix):
    actual = row(matrix, 1)
    wrong = mismatches(actual, {**ACCOUNT_1, **ACCOUNT_1_METRICS})
    assert not wrong, f"expected vs actual: {wrong}"


def test_golden_values_cover_every_built_feature(matrix):
    covered = {*ACCOUNT_1, *ACCOUNT_1_METRICS}
    assert set(matrix.feature_names) - covered == {"usage_trend_90d",
                                                   "metric_slope_90d__seats_used"}


def test_metric_slope_is_the_least_squares_slope_per_30_days(matrix):
    # days before 2024-03-01 of the window's measurements, and their values
    x = np.array([-56.0, -20.0, -1.0, -1.0])
    v = np.array([4.0, 2.0, 5.0, 7.0])
    slope = np.polyfit(x, v, 1)[0]
    assert row(matrix, 1)["metric_slope_90d__seats_used"] == pytest.approx(slope * 30)


def test_metric_features_a_month_later_see_the_snapshot_day_measurement(matrix):
    # 2024-04-01: the 100 of 03-01 is the latest (31 days old); as of 03-02 (s - 30) it is
    # also the latest; as of 01-02 (s - 90) the 3 of 11-20 is 43 days old, within 45 days
    actual = row(matrix, 1, dt.date(2024, 4, 1))
    assert not mismatches(actual, {
        "metric_last__seats_used": 100.0, "metric_change_30d__seats_used": 0.0,
        "metric_change_90d__seats_used": 97.0, "metric_pct_change_90d__seats_used": 5.0,
        "metric_min_90d__seats_used": 2.0, "metric_max_90d__seats_used": 100.0,
        "metric_days_since__seats_used": 31.0, "metric_stale__seats_used": 0.0,
    })


def test_metric_staleness_limit_applies_to_each_lookup(tiny):
    strict = config(metrics={"stale_after_days": 42})
    matrix = build_feature_matrix(dataset_from_frames(tiny, END), strict)
    actual = row(matrix, 1, dt.date(2024, 4, 1))
    assert pd.isna(actual["metric_change_90d__seats_used"]), "the 3 of 11-20 is 43 days old"
    assert actual["metric_change_30d__seats_used"] == 0.0
    early = row(matrix, 1, dt.date(2023, 10, 1))  # crm_health measured 16 days before
    assert (early["metric_last__crm_health"], early["metric_stale__crm_health"]) == (70.0, 0.0)
    later = row(matrix, 1, dt.date(2023, 11, 1))  # 47 days: stale
    assert pd.isna(later["metric_last__crm_health"])
    assert (later["metric_days_since__crm_health"], later["metric_stale__crm_health"]) == (
        47.0, 1.0)


def test_a_single_measurement_has_no_slope_and_no_earlier_value(matrix):
    actual = row(matrix, 2)  # seats_used 40 on 2024-02-01 only
    assert (actual["metric_last__seats_used"], actual["metric_min_90d__seats_used"],
            actual["metric_max_90d__seats_used"]) == (40.0, 40.0, 40.0)
    assert pd.isna(actual["metric_slope_90d__seats_used"])
    assert pd.isna(actual["metric_change_30d__seats_used"])
    assert pd.isna(actual["metric_days_since__crm_health"]), "never measured"
    assert actual["metric_stale__crm_health"] == 1.0


def test_a_wide_export_gives_the_same_metric_features(tiny, tmp_path):
    tiny["metrics"] = tiny["metrics"].drop(index=4)  # one value per account and day
    long = build_feature_matrix(dataset_from_frames(tiny, END), config())
    wide = tiny.pop("metrics").pivot(index=["account_id", "measured_at"], columns="metric",
                                     values="value").reset_index()
    wide.columns = ["Account", "Date", "CRM Health", "Seats Used"]
    wide.to_csv(tmp_path / "crm.csv", index=False)
    for name, frame in tiny.items():
        frame.to_parquet(tmp_path / f"{name}.parquet")
    data = DataConfig(dir=tmp_path, end_date=END, tables={"metrics": TableSource(
        path=tmp_path / "crm.csv", wide=True, value_columns=["Seats Used", "CRM Health"],
        columns={"account_id": "Account", "measured_at": "Date"})})
    melted = build_feature_matrix(open_dataset(data), config())
    columns = [c for c in long.feature_names if c.startswith("metric_")]
    assert len(columns) == 20 and columns == [c for c in melted.feature_names
                                              if c.startswith("metric_")]
    pd.testing.assert_frame_equal(long.frame[columns], melted.frame[columns])


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


@pytest.mark.parametrize(
    ("account", "day", "churn_days", "observed_days"),
    [
        (3, dt.date(2023, 8, 1), 92, 489),  # churns 11-01; known up to 2024-12-31 - 29 days
        (3, dt.date(2023, 11, 1), 0, 397),  # churn on the snapshot day: day 0
        (2, dt.date(2024, 6, 1), 101, 184),  # churn 09-10
        (2, dt.date(2024, 7, 1), 71, 154),
        (1, dt.date(2024, 3, 1), None, 276),  # no churn seen
    ],
)
def test_survival_labels(matrix, account, day, churn_days, observed_days):
    actual = row(matrix, account, day)
    assert actual["label_observed_days"] == observed_days
    if churn_days is None:
        assert pd.isna(actual["label_churn_days"])
    else:
        assert actual["label_churn_days"] == churn_days


def test_survival_labels_agree_with_the_horizon_label(matrix):
    frame = matrix.frame[matrix.frame["label_observed"]]
    within = frame["label_churn_days"].fillna(10_000) < 90
    assert (within == frame["label_churn"]).all()
    assert (frame["label_observed_days"] >= 90).all()


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


@pytest.mark.parametrize("text_ids", [False, True])
def test_metric_passes_over_account_ranges_give_the_same_features(tiny, monkeypatch, text_ids):
    from healthscore.features import metrics

    if text_ids:
        for frame in tiny.values():
            frame["account_id"] = "acc-" + frame["account_id"].astype(str)
    one = build_feature_matrix(dataset_from_frames(tiny, END), config())
    monkeypatch.setattr(metrics, "CHUNK_ROWS", 2)  # 8 rows: 4 passes of one account or none
    many = build_feature_matrix(dataset_from_frames(tiny, END), config())
    columns = [c for c in one.feature_names if c.startswith("metric_")]
    assert one.frame[columns].notna().any().any()
    pd.testing.assert_frame_equal(one.frame[columns], many.frame[columns])


# ------------------------------------------------------------------ a shop: no subscriptions


@pytest.fixture
def shop_matrix():
    from tiny_world import SHOP_END, tiny_shop_frames

    return build_feature_matrix(dataset_from_frames(tiny_shop_frames(), SHOP_END),
                                FeatureConfig(snapshots={"start": dt.date(2023, 7, 1)}))


# Customer 1 at 2024-03-01: purchases 11-01 (40), 01-01 (60), 02-20 (20); visit 02-25.
# Activity days 11-01, 01-01, 02-20, 02-25: gaps 61, 50, 5 (mean 116/3, population spread
# sqrt((61^2+50^2+5^2)/3 - (116/3)^2)). Purchase gaps 61, 50. Customer since 2023-11-01
# (121 days): yearly revenue 120 x 365 / 121.
SHOP_CUSTOMER_1 = {
    "days_since_last_activity": 5, "active_days_lifetime": 4,
    "activity_gap_mean_days": 116 / 3,
    "activity_gap_spread_days": np.sqrt((61**2 + 50**2 + 5**2) / 3 - (116 / 3) ** 2),
    "activity_overdue_ratio": 5 / (116 / 3),
    "days_since_last_purchase": 10, "purchases_lifetime": 3, "purchase_gap_mean_days": 55.5,
    "purchase_overdue_ratio": 10 / 55.5, "revenue_lifetime": 120.0, "average_basket": 40.0,
    "revenue_90d": 80.0, "revenue_365d": 120.0, "purchases_365d": 3,
    "tenure_days": 121, "arr": 120 * 365 / 121, "segment": "retail",
}


def test_a_shop_without_subscriptions_gets_lifetime_features(shop_matrix):
    actual = row(shop_matrix, 1)
    wrong = {k: (v, actual[k]) for k, v in SHOP_CUSTOMER_1.items()
             if not (actual[k] == pytest.approx(v) if isinstance(v, float) else actual[k] == v)}
    assert not wrong, f"expected vs actual: {wrong}"
    assert set(shop_matrix.feature_names) - set(SHOP_CUSTOMER_1) == {
        "events_7d", "events_30d", "events_90d", "events_change_30d", "usage_trend_90d",
        "weeks_active_12w", "event_types_30d",
        "events_30d_by_type__purchase", "events_30d_by_type__visit",
        "events_change_30d_by_type__purchase", "events_change_30d_by_type__visit",
    }  # no contract features: no renewal, term, seats or plan without subscriptions


def test_a_shop_customer_is_active_from_creation_until_inactive(shop_matrix):
    frame = shop_matrix.frame
    # customer 2 was created 01-20 and bought 02-10: in the spine at 02-01 and 03-01; its
    # 03-01 purchase is in that snapshot's horizon, so no churn
    two = frame[frame.account_id == 2].set_index("snapshot_date")
    assert list(two.index) == [dt.date(2024, 2, 1), dt.date(2024, 3, 1), dt.date(2024, 4, 1),
                               dt.date(2024, 5, 1)]
    assert not two.loc[dt.date(2024, 3, 1), "label_churn"]
    assert two.loc[dt.date(2024, 3, 1), "purchases_lifetime"] == 1  # 03-01 is future
    assert two.loc[dt.date(2024, 4, 1), "label_churn"]  # nothing from 04-01 to 06-29
    assert two.loc[dt.date(2024, 3, 1), "arr"] == pytest.approx(100 * 365 / 90)  # min 90 days
    # customer 3's only purchase (2023-06-01) makes it active until the horizon passes
    three = frame[frame.account_id == 3]
    assert list(three.snapshot_date) == [dt.date(2023, 7, 1), dt.date(2023, 8, 1)]
    assert three.label_churn.all()


def test_contract_churn_without_subscriptions_is_a_config_error():
    from tiny_world import SHOP_END, tiny_shop_frames

    from healthscore.errors import ConfigError

    with pytest.raises(ConfigError, match="contract churn needs a subscriptions table"):
        build_feature_matrix(dataset_from_frames(tiny_shop_frames(), SHOP_END),
                             config(churn={"definition": "contract"}))


def test_a_monthly_plan_is_in_its_renewal_window_only_in_the_last_days_of_its_term(tiny):
    subs = tiny["subscriptions"]
    monthly = subs.account_id == 3
    subs.loc[monthly, "start_date"] = pd.Timestamp("2023-06-20")
    subs.loc[monthly, "end_date"] = pd.Timestamp("2023-11-20")
    frame = build_feature_matrix(dataset_from_frames(tiny, END), config()).frame
    three = frame[frame.account_id == 3].set_index("snapshot_date")
    # renewals on the 20th: 19 days ahead on the 1st of a 31-day month, 18 after a 30-day one
    assert three.loc[dt.date(2023, 8, 1), "days_to_renewal"] == 19
    assert three.loc[dt.date(2023, 10, 1), "days_to_renewal"] == 19
    assert not three["in_renewal_window"].any()  # window: the last 7.5 days of a month
    annual = frame[(frame.account_id == 2) & (frame.snapshot_date == dt.date(2024, 1, 1))]
    assert annual["days_to_renewal"].iloc[0] <= 90 and annual["in_renewal_window"].iloc[0] == 1


def test_the_renewal_window_follows_the_term_length(tiny):
    subs = tiny["subscriptions"]
    subs.loc[subs.account_id == 3, ["start_date", "end_date"]] = [
        pd.Timestamp("2023-06-27"), pd.Timestamp("2023-11-27")]
    frame = build_feature_matrix(dataset_from_frames(tiny, END), config()).frame
    three = frame[frame.account_id == 3].set_index("snapshot_date")
    assert three.loc[dt.date(2023, 8, 1), "days_to_renewal"] == 26
    assert three.loc[dt.date(2023, 7, 1), "days_to_renewal"] == 26
    subs.loc[subs.account_id == 3, "start_date"] = pd.Timestamp("2023-06-05")
    frame = build_feature_matrix(dataset_from_frames(tiny, END), config()).frame
    three = frame[frame.account_id == 3].set_index("snapshot_date")
    assert (three["days_to_renewal"] == 4).all()  # renews on the 5th: 4 days ahead
    assert three["in_renewal_window"].all()
