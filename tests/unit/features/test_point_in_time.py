"""Point-in-time property tests: the future cannot move a feature, the past cannot move a label.

Each example draws a random small world (every table), a cut date ``c`` among the snapshot
dates and a random mutation:
- features: rows dated on or after ``c`` are added, deleted or changed, and later-known
  columns of earlier rows that are dated on or after ``c`` (a ticket's close and CSAT, an
  invoice's payment, a contact's departure, a subscription's end) are moved or erased. Every
  snapshot ``s <= c`` must keep exactly the same rows, context and feature values.
- labels: rows lying entirely before ``c`` are added, deleted or changed; the labels of
  snapshot ``c`` must not move.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthscore.data.dataset import dataset_from_frames
from healthscore.data.schema import TABLES
from healthscore.features.engine import FeatureMatrix, build_feature_matrix
from healthscore.features.settings import FeatureConfig
from healthscore.features.snapshots import LABEL_COLUMNS

START = pd.Timestamp("2023-01-01")
END = dt.date(2024, 12, 31)
DAYS = (pd.Timestamp(END) - START).days
EXAMPLES = int(os.environ.get("HEALTHSCORE_PIT_EXAMPLES", "60"))  # CI slow run: 240
TIME_COLUMN = {
    "accounts": "created_at", "subscriptions": "start_date", "events": "occurred_at",
    "contacts": "started_at", "invoices": "issued_at", "tickets": "opened_at",
    "surveys": "responded_at", "touchpoints": "occurred_at", "metrics": "measured_at",
}
COLUMNS = {
    "subscriptions": ["account_id", "start_date", "end_date", "arr", "seats", "term_months",
                      "plan"],
    "events": ["account_id", "occurred_at", "event_type", "user_id", "quantity", "amount"],
    "contacts": ["account_id", "role", "department", "started_at", "ended_at"],
    "invoices": ["account_id", "issued_at", "due_at", "paid_at", "amount", "status"],
    "tickets": ["account_id", "opened_at", "closed_at", "severity", "escalated", "reopened",
                "csat"],
    "surveys": ["account_id", "responded_at", "nps"],
    "touchpoints": ["account_id", "occurred_at", "kind"],
    "metrics": ["account_id", "measured_at", "metric", "value"],
}
KEYS = {"subscriptions": "subscription_id", "contacts": "contact_id", "invoices": "invoice_id",
        "tickets": "ticket_id"}


def day(rng: np.random.Generator, low: pd.Timestamp, high: pd.Timestamp) -> pd.Timestamp:
    """A random day in [low, high]."""
    span = max((high - low).days, 0)
    return low + pd.Timedelta(days=int(rng.integers(0, span + 1)))


def random_world(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """A small valid world with every table; dates up to END."""
    n = int(rng.integers(3, 7))
    end = pd.Timestamp(END)
    accounts = pd.DataFrame({
        "account_id": np.arange(1, n + 1), "segment": rng.choice(["smb", "enterprise"], n),
        "created_at": [START] * n,
    })
    subs, events, contacts, invoices, tickets, surveys, touch, metrics = ([] for _ in range(8))
    for a in range(1, n + 1):
        begin = day(rng, START, START + pd.Timedelta(days=300))
        for _ in range(int(rng.integers(1, 4))):
            stop = begin + pd.Timedelta(days=int(rng.integers(60, 500)))
            gap = int(rng.choice([0, 0, 10, 60]))
            subs.append({"account_id": a, "start_date": begin,
                         "end_date": stop if stop <= end else pd.NaT,
                         "arr": float(rng.integers(1, 20) * 100), "seats": int(rng.integers(1, 9)),
                         "term_months": int(rng.choice([1, 12])), "plan": "p"})
            begin = stop + pd.Timedelta(days=gap)
            if stop > end or begin > end:
                break
        for _ in range(int(rng.integers(5, 40))):
            events.append({"account_id": a, "occurred_at": day(rng, START, end),
                           "event_type": str(rng.choice(["login", "report", "api"])),
                           "user_id": int(rng.integers(1, 6)),
                           "quantity": float(rng.integers(1, 5)),
                           "amount": float(rng.integers(5, 99)) if rng.random() < 0.4
                           else np.nan})
        for _ in range(int(rng.integers(1, 5))):
            started = day(rng, START, end)
            left = day(rng, started, end + pd.Timedelta(days=200))
            contacts.append({"account_id": a, "role": str(rng.choice(
                ["champion", "executive_sponsor", "user"])), "department": str(rng.choice(
                    ["it", "ops"])), "started_at": started,
                "ended_at": left if left <= end else pd.NaT})
        for _ in range(int(rng.integers(0, 7))):
            issued = day(rng, START, end)
            paid = issued + pd.Timedelta(days=int(rng.integers(0, 90)))
            invoices.append({"account_id": a, "issued_at": issued,
                             "due_at": issued + pd.Timedelta(days=30),
                             "paid_at": paid if paid <= end and rng.random() < 0.8 else pd.NaT,
                             "amount": 10.0, "status": str(rng.choice(["paid", "open", "failed"]))})
        for _ in range(int(rng.integers(0, 7))):
            opened = day(rng, START, end)
            closed = opened + pd.Timedelta(days=int(rng.integers(0, 60)))
            tickets.append({"account_id": a, "opened_at": opened,
                            "closed_at": closed if closed <= end else pd.NaT,
                            "severity": str(rng.choice(["P1", "P2", "P3"])),
                            "escalated": bool(rng.random() < 0.3),
                            "reopened": bool(rng.random() < 0.3),
                            "csat": float(rng.integers(1, 6)) if rng.random() < 0.6 else np.nan})
        for _ in range(int(rng.integers(0, 5))):
            surveys.append({"account_id": a, "responded_at": day(rng, START, end),
                            "nps": int(rng.integers(0, 11))})
        for _ in range(int(rng.integers(0, 6))):
            touch.append({"account_id": a, "occurred_at": day(rng, START, end),
                          "kind": str(rng.choice(["qbr", "meeting"]))})
        for _ in range(int(rng.integers(0, 30))):  # irregular, some days twice, some empty
            metrics.append({"account_id": a, "measured_at": day(rng, START, end),
                            "metric": str(rng.choice(["seats_used", "crm_health"])),
                            "value": float(rng.integers(-5, 50)) if rng.random() < 0.9
                            else np.nan})
    rows = {"subscriptions": subs, "events": events, "contacts": contacts,
            "invoices": invoices, "tickets": tickets, "surveys": surveys, "touchpoints": touch,
            "metrics": metrics}
    frames = {"accounts": accounts}
    for table, records in rows.items():  # explicit columns: a table may have no rows
        frame = pd.DataFrame.from_records(records, columns=COLUMNS[table])
        for col in frame.columns:
            if col.endswith(("_at", "_date")):
                frame[col] = pd.to_datetime(frame[col])
        frames[table] = frame
    for table, key in KEYS.items():
        frames[table].insert(1, key, np.arange(1, len(frames[table]) + 1))
    return frames


def mutate_future(rng: np.random.Generator, frames: dict[str, pd.DataFrame], cut: pd.Timestamp,
                  ) -> dict[str, pd.DataFrame]:
    """Add, delete and change rows dated on or after ``cut``; move later-known values."""
    end = pd.Timestamp(END)
    out = {}
    for table, frame in frames.items():
        frame = frame.copy()
        time_col = TIME_COLUMN[table]
        future = frame[time_col] >= cut
        if table != "accounts":
            drop = future & (rng.random(len(frame)) < 0.4)
            frame = frame[~drop]
            # add copies of random rows re-dated into the future (new keys)
            extra = frame.sample(n=min(len(frame), 3), random_state=int(rng.integers(1 << 30)))
            if len(extra) and cut <= end:
                extra = extra.copy()
                extra[time_col] = [day(rng, cut, end) for _ in range(len(extra))]
                if table in KEYS:
                    extra[KEYS[table]] = frame[KEYS[table]].max() + 1 + np.arange(len(extra))
                frame = pd.concat([frame, extra], ignore_index=True)
            frame = _fix_order(frame, table)
        frame = _move_later_known(rng, frame.reset_index(drop=True), table, cut)
        out[table] = _fix_order(frame, table)
    return out


def _move_later_known(rng, frame: pd.DataFrame, table: str, cut: pd.Timestamp) -> pd.DataFrame:
    """Change values that are only known on or after ``cut``."""
    end = pd.Timestamp(END)
    later_dates = {"subscriptions": "end_date", "contacts": "ended_at", "invoices": "paid_at",
                   "tickets": "closed_at"}
    if table in later_dates:
        col = later_dates[table]
        known_late = frame[col] >= cut
        new = [day(rng, cut, end) if rng.random() < 0.6 else pd.NaT for _ in range(len(frame))]
        frame.loc[known_late, col] = pd.Series(new, index=frame.index, dtype=frame[col].dtype)
        if table == "tickets":
            late = frame["closed_at"].isna() | (frame["closed_at"] >= cut) | known_late
            frame.loc[late, "csat"] = rng.integers(1, 6, len(frame))[late.to_numpy()].astype(float)
            frame.loc[late, "escalated"] = ~frame.loc[late, "escalated"]
    if table == "invoices":
        due_late = frame["due_at"] >= cut
        frame.loc[due_late, "status"] = rng.choice(["paid", "failed", "open"], int(due_late.sum()))
    if table in ("events", "surveys", "touchpoints", "metrics"):
        future = frame[TIME_COLUMN[table]] >= cut
        if table == "metrics":
            frame.loc[future, "value"] = rng.integers(-9, 99, int(future.sum())).astype(float)
            frame.loc[future, "metric"] = rng.choice(["seats_used", "new_metric"],
                                                     int(future.sum()))
        if table == "events":
            frame.loc[future, "quantity"] = rng.integers(1, 9, int(future.sum())).astype(float)
            frame.loc[future, "amount"] = np.where(rng.random(int(future.sum())) < 0.5, np.nan,
                                                   rng.integers(1, 500, int(future.sum())))
            frame.loc[future, "event_type"] = rng.choice(["login", "new_thing"], int(future.sum()))
        if table == "surveys":
            frame.loc[future, "nps"] = rng.integers(0, 11, int(future.sum()))
    return frame


def _fix_order(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Keep end >= start after mutation (the contract requires it)."""
    pairs = {"subscriptions": ("start_date", "end_date"), "contacts": ("started_at", "ended_at"),
             "invoices": ("issued_at", "paid_at"), "tickets": ("opened_at", "closed_at")}
    if table in pairs:
        first, second = pairs[table]
        bad = frame[second] < frame[first]
        frame.loc[bad, second] = frame.loc[bad, first]
    if table == "invoices":
        frame["due_at"] = frame["issued_at"] + pd.Timedelta(days=30)
    return frame


def mutate_past(rng: np.random.Generator, frames: dict[str, pd.DataFrame], cut: pd.Timestamp,
                ) -> dict[str, pd.DataFrame]:
    """Add, delete and change rows lying entirely before ``cut`` (all their dates < cut)."""
    out = dict(frames)
    events = frames["events"]
    past = events["occurred_at"] < cut
    events = events[~(past & (rng.random(len(events)) < 0.5))].copy()
    earlier = events["occurred_at"] < cut
    events.loc[earlier, "quantity"] = rng.integers(1, 9, int(earlier.sum())).astype(float)
    added = pd.DataFrame({"account_id": frames["accounts"]["account_id"].to_numpy(),
                          "occurred_at": [day(rng, START, cut - pd.Timedelta(days=1))
                                          for _ in range(len(frames["accounts"]))],
                          "event_type": "login", "user_id": 1, "quantity": 3.0})
    out["events"] = pd.concat([events, added], ignore_index=True)
    subs = frames["subscriptions"]
    done = subs["end_date"] < cut
    subs = subs.copy()
    subs.loc[done, "arr"] = subs.loc[done, "arr"] * 2 + 1
    subs.loc[done, "seats"] = subs.loc[done, "seats"] + 1
    out["subscriptions"] = subs
    tickets = frames["tickets"]
    out["tickets"] = tickets[~(tickets["closed_at"] < cut)]
    return out


def build(frames: dict[str, pd.DataFrame], config: FeatureConfig) -> FeatureMatrix:
    if config is CONFIGS.get("no_subscriptions"):  # a shop: customers by activity alone
        frames = {k: v for k, v in frames.items() if k != "subscriptions"}
    # a random world may leave an optional table without rows: that table is absent (an empty
    # table given as input is a validation error)
    given = {name: frame for name, frame in frames.items()
             if len(frame) or TABLES[name].required}
    return build_feature_matrix(dataset_from_frames(given, END), config)


def as_of(matrix: FeatureMatrix, cut: dt.date, columns: list[str]) -> pd.DataFrame:
    frame = matrix.frame
    return frame.loc[frame.snapshot_date <= cut, ["account_id", "snapshot_date", *columns]]


CONFIGS = {
    "contract": FeatureConfig(),
    "inactivity": FeatureConfig(churn={"definition": "inactivity"}, horizon_days=60),
    "no_subscriptions": FeatureConfig(horizon_days=60),
}


@pytest.mark.property
@pytest.mark.parametrize("definition", list(CONFIGS))
@settings(max_examples=EXAMPLES // len(CONFIGS), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), cut_index=st.integers(0, 30))
def test_future_rows_never_change_past_features(definition, seed, cut_index):
    rng = np.random.default_rng(seed)
    config = CONFIGS[definition]
    frames = random_world(rng)
    original = build(frames, config)
    cut = original.dates[cut_index % len(original.dates)]
    mutated = build(mutate_future(rng, frames, pd.Timestamp(cut)), config)
    shared = [c for c in original.frame.columns
              if c in mutated.frame.columns and c not in LABEL_COLUMNS]
    pd.testing.assert_frame_equal(
        as_of(original, cut, shared).reset_index(drop=True),
        as_of(mutated, cut, shared).reset_index(drop=True),
        check_dtype=False,
    )
    # A column that exists only on one side (a new event type or metric, or a table whose
    # only rows lie after the cut) has no data then: zero, unknown or its no-data fill (366
    # days since the last touchpoint), and a metric's stale flag is 1.
    for matrix in (original, mutated):
        only = [c for c in matrix.frame.columns if c not in shared and c not in LABEL_COLUMNS]
        past = matrix.frame.loc[matrix.frame.snapshot_date <= cut, only]
        stale = [c for c in only if c.startswith("metric_stale__")]
        assert (past[stale] == 1).all().all(), f"{stale} see measurements before {cut}"
        fills = {s.name: s.fill for s in matrix.features}
        for column in past.columns.drop(stale):
            values = past[column]
            empty = values.isna() | (values == 0) | (values == fills.get(column))
            assert empty.all(), f"{column} carries data before {cut}"


@pytest.mark.property
@pytest.mark.parametrize("definition", list(CONFIGS))
@settings(max_examples=EXAMPLES // len(CONFIGS), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), cut_index=st.integers(0, 30))
def test_past_rows_never_change_labels(definition, seed, cut_index):
    rng = np.random.default_rng(seed)
    config = CONFIGS[definition]
    frames = random_world(rng)
    original = build(frames, config)
    cut = original.dates[cut_index % len(original.dates)]
    mutated = build(mutate_past(rng, frames, pd.Timestamp(cut)), config)

    def labels(matrix: FeatureMatrix) -> pd.DataFrame:
        frame = matrix.frame
        rows = frame[frame.snapshot_date == cut]
        return rows[["account_id", *LABEL_COLUMNS]].set_index("account_id").sort_index()

    before, after = labels(original), labels(mutated)
    common = before.index.intersection(after.index)
    pd.testing.assert_frame_equal(before.loc[common], after.loc[common])


def test_lifetime_features_are_in_the_property_test():
    matrix = build(random_world(np.random.default_rng(3)), CONFIGS["no_subscriptions"])
    names = set(matrix.feature_names)
    assert {"days_since_last_activity", "activity_overdue_ratio", "purchase_overdue_ratio",
            "revenue_lifetime", "average_basket", "revenue_365d"} <= names
    assert matrix.frame["purchase_overdue_ratio"].notna().any()
    assert matrix.frame["arr"].gt(0).any()  # revenue from amounts without subscriptions


def test_metric_features_are_in_the_property_test():
    matrix = build(random_world(np.random.default_rng(3)), CONFIGS["contract"])
    names = set(matrix.feature_names)
    assert {"metric_last__seats_used", "metric_slope_90d__crm_health"} <= names
    assert matrix.frame["metric_last__seats_used"].notna().any()


def test_the_property_test_catches_a_metrics_leak(monkeypatch):
    """A kernel whose cut-off lets the snapshot day in (<= instead of <) is caught."""
    from healthscore.features import metrics

    def leaky(days, start, hi, cutoff):
        j = start
        while j < hi and days[j] <= cutoff:
            j += 1
        return j

    monkeypatch.setattr(metrics, "_first_not_before", metrics.njit(leaky))
    monkeypatch.setattr(metrics, "_series_features", metrics.njit(parallel=False)(
        metrics._series_features.py_func))
    caught = 0
    for seed in range(5):
        frames = random_world(np.random.default_rng(seed))
        cut = dt.date(2024, 6, 1)
        frames["metrics"] = pd.concat([frames["metrics"], pd.DataFrame(
            {"account_id": [1], "measured_at": [pd.Timestamp(cut)], "metric": ["seats_used"],
             "value": [1000.0]})], ignore_index=True)
        original = build(frames, CONFIGS["contract"])
        changed = {k: v.copy() for k, v in frames.items()}
        changed["metrics"].loc[changed["metrics"].measured_at == pd.Timestamp(cut), "value"] = -1
        mutated = build(changed, CONFIGS["contract"])
        cols = ["metric_last__seats_used"]
        caught += not as_of(original, cut, cols).equals(as_of(mutated, cut, cols))
    assert caught > 0


def test_the_property_test_catches_a_leak(monkeypatch):
    """Sanity check of the harness: a feature that peeks one day past the cut is caught."""
    from healthscore.features import families

    leaky = families.Family(**{**families.FAMILIES["surveys"].__dict__,
                               "source": "SELECT account_id, responded_at - 1 AS responded_at, "
                                         "nps FROM surveys"})
    monkeypatch.setitem(families.FAMILIES, "surveys", leaky)
    caught = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        frames = random_world(rng)
        frames["surveys"] = pd.concat([frames["surveys"], pd.DataFrame(
            {"account_id": [1], "responded_at": [pd.Timestamp("2024-06-01")], "nps": [0]})],
            ignore_index=True)
        original = build(frames, CONFIGS["contract"])
        cut = dt.date(2024, 6, 1)
        changed = {k: v.copy() for k, v in frames.items()}
        changed["surveys"].loc[changed["surveys"].responded_at == "2024-06-01", "nps"] = 10
        mutated = build(changed, CONFIGS["contract"])
        cols = ["latest_nps"]
        caught += not as_of(original, cut, cols).equals(as_of(mutated, cut, cols))
    assert caught > 0
