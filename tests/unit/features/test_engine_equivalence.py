"""The faster family SQL gives the previous engine's matrix, value for value.

The previous engine's SQL for the families that were rewritten for speed (issue 21: lifetime
totals as running windows over every activity day joined as of each snapshot; one row per
user and day for the active-user counts; usage per account and day, with the two usage
features that read single days; every ticket of the look-back joined to the spine with its
later-known columns masked, and the support features over those rows) is kept here, as the
reference. Both engines build the whole matrix of a 2,000-account synthetic world (and of a
shop world, where the purchase families exist), with extra slow tickets; every column must
agree: exactly for text, dates and flags, within 1e-9 relative for numbers. A reference kept
in code (rather than a frozen matrix file) keeps the test honest when the synthetic world is
re-tuned: both sides always see the same data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features import registry
from healthscore.features.engine import build_feature_matrix
from healthscore.features.families import FAMILIES, HAS_AMOUNTS, MAX_TYPE_BITS, type_column
from healthscore.features.settings import FeatureConfig
from healthscore.features.sql import Renderer
from healthscore.synth import generate_world


def previous_activity_days_sql(_: list[str], render: Renderer,
                               purchases_only: bool = False) -> str:
    """The previous engine's running lifetime totals per account and activity day."""
    where = "WHERE amount IS NOT NULL" if purchases_only else ""
    return f"""
        WITH d AS (
            SELECT account_id, occurred_at AS day, count(amount) AS purchases,
                   coalesce(sum(amount), 0) AS revenue
            FROM events {where} GROUP BY account_id, occurred_at
        ), g AS (
            SELECT *, day - lag(day) OVER (PARTITION BY account_id ORDER BY day) AS gap
            FROM d
        )
        SELECT account_id, day,
               min(day) OVER w AS first_day,
               count(*) OVER w AS active_days,
               sum(purchases) OVER w AS purchases,
               sum(revenue) OVER w AS revenue,
               max(CASE WHEN purchases > 0 THEN day END) OVER w AS last_purchase_day,
               count(gap) OVER w AS gaps,
               sum(gap) OVER w AS gap_sum,
               sum(CAST(gap AS DOUBLE) * gap) OVER w AS gap_squares
        FROM g
        WINDOW w AS (PARTITION BY account_id ORDER BY day ROWS UNBOUNDED PRECEDING)
    """


def previous_purchase_days_sql(values: list[str], render: Renderer) -> str:
    """The previous engine's running totals over purchase days."""
    return previous_activity_days_sql(values, render, purchases_only=True)


PREVIOUS_USERS_DAILY = """
    SELECT DISTINCT account_id, occurred_at AS day, user_id
    FROM events WHERE user_id IS NOT NULL
"""


def previous_usage_daily_sql(event_types: list[str], render: Renderer) -> str:
    """The previous engine's usage per account and day."""
    columns = "".join(
        f", sum(e.quantity) FILTER (WHERE e.event_type = {render.literal(value)})"
        f" AS {type_column(value)}" for value in event_types
    )
    return f"""
        WITH types AS (
            SELECT event_type,
                   CAST((dense_rank() OVER (ORDER BY event_type) - 1) % {MAX_TYPE_BITS}
                        AS INTEGER) AS bit
            FROM (SELECT DISTINCT event_type FROM events)
        )
        SELECT e.account_id, e.occurred_at AS day, sum(e.quantity) AS quantity,
               bit_or({render.bit("t.bit")}) AS type_mask{columns}
        FROM events e JOIN types t USING (event_type)
        GROUP BY e.account_id, e.occurred_at
    """


def previous_usage_trend_90d() -> str:
    """The previous usage trend over daily rows."""
    return ("sum((45.5 - (s.snapshot_date - t.day)) * t.quantity) / 60742.5 * 8100.0 "
            "/ nullif(sum(t.quantity), 0)")


def previous_weeks_active_12w(sql: Renderer) -> str:
    """The previous weeks with usage over daily rows."""
    week = f"CAST({sql.int_div('(s.snapshot_date - t.day) - 1', '7')} AS INTEGER)"
    return (f"bit_count(bit_or({sql.bit(week)}) "
            "FILTER (WHERE t.day >= s.snapshot_date - 84))")


PREVIOUS_TICKETS = replace(
    FAMILIES["tickets"], source="SELECT * FROM tickets", time_column="opened_at",
    columns=("opened_at", "closed_at", "severity", "escalated", "reopened", "csat"),
    lookback_days=365, per_snapshot=False, prepare=None,
    known_at={"closed_at": "closed_at", "escalated": "closed_at", "reopened": "closed_at",
              "csat": "closed_at"})
HIGH = "t.severity IN ('P1', 'P2')"
OPENED_30D, OPENED_90D = (f"t.opened_at >= s.snapshot_date - {d}" for d in (30, 90))
CLOSED_90D, CLOSED_180D = (f"t.closed_at >= s.snapshot_date - {d}" for d in (90, 180))
PREVIOUS_TICKET_FEATURES = {  # the previous SQL over every ticket row joined to each snapshot
    "tickets_30d": f"count(*) FILTER (WHERE {OPENED_30D})",
    "tickets_90d": f"count(*) FILTER (WHERE {OPENED_90D})",
    "high_severity_tickets_30d": f"count(*) FILTER (WHERE {HIGH} AND {OPENED_30D})",
    "high_severity_tickets_90d": f"count(*) FILTER (WHERE {HIGH} AND {OPENED_90D})",
    "p1_tickets_30d": f"count(*) FILTER (WHERE t.severity = 'P1' AND {OPENED_30D})",
    "open_p1_tickets": "count(*) FILTER (WHERE t.severity = 'P1' AND t.closed_at IS NULL)",
    "open_high_severity_tickets": f"count(*) FILTER (WHERE {HIGH} AND t.closed_at IS NULL)",
    "median_resolution_days_180d":
        f"median(t.closed_at - t.opened_at) FILTER (WHERE {CLOSED_180D})",
    "reopened_tickets_90d": f"count(*) FILTER (WHERE t.reopened AND {CLOSED_90D})",
    "escalations_90d": f"count(*) FILTER (WHERE t.escalated AND {CLOSED_90D})",
    "mean_csat_180d": f"avg(t.csat) FILTER (WHERE {CLOSED_180D})",
}


def returning(sql: str):
    """A feature build function returning ``sql``."""
    return lambda: sql


PREVIOUS_FEATURES = {"usage_trend_90d": previous_usage_trend_90d,
                     "weeks_active_12w": previous_weeks_active_12w,
                     **{name: returning(sql) for name, sql in PREVIOUS_TICKET_FEATURES.items()}}


def previous_families() -> dict[str, object]:
    """The rewritten families as the previous engine declared them."""
    return {
        "activity": replace(FAMILIES["activity"], per_snapshot=False, asof=True,
                            prepare=previous_activity_days_sql),
        "purchases": replace(FAMILIES["purchases"], per_snapshot=False, asof=True,
                             prepare=previous_purchase_days_sql, probe=HAS_AMOUNTS),
        "users": replace(FAMILIES["users"], source=PREVIOUS_USERS_DAILY, prepare=None),
        "usage": replace(FAMILIES["usage"], prepare=previous_usage_daily_sql),
        "tickets": PREVIOUS_TICKETS,
    }


def with_slow_tickets(tables: dict[str, pd.DataFrame], end: dt.date, seed: int = 0,
                      n: int = 4000) -> dict[str, pd.DataFrame]:
    """The world's tables plus ``n`` tickets that take 0-420 days to close (some never do),
    with fractional CSAT: the synthetic world resolves almost every ticket within weeks, so
    without them no ticket would meet the one-year look-back on its opening date once closed,
    and a mistake at that boundary would go unseen."""
    rng = np.random.default_rng(seed)
    tickets = tables["tickets"]
    start = tickets["opened_at"].min()
    span = (pd.Timestamp(end) - start).days
    opened = start + pd.to_timedelta(rng.integers(0, span + 1, n), unit="D")
    closed = opened + pd.to_timedelta(rng.integers(0, 421, n), unit="D")
    closed = closed.where((closed <= pd.Timestamp(end)) & (rng.random(n) < 0.9))
    extra = pd.DataFrame({
        "account_id": rng.choice(tables["accounts"]["account_id"].to_numpy(), n),
        "ticket_id": tickets["ticket_id"].max() + 1 + np.arange(n),
        "opened_at": opened.astype(tickets["opened_at"].dtype),
        "closed_at": closed.astype(tickets["closed_at"].dtype),
        "severity": rng.choice(["P1", "P2", "P3", "P4"], n),
        "escalated": rng.random(n) < 0.3,
        "reopened": rng.random(n) < 0.3,
        "csat": np.where(rng.random(n) < 0.7, np.round(1 + 4 * rng.random(n), 2), np.nan),
    })
    return {**tables, "tickets": pd.concat([tickets, extra], ignore_index=True)}


def assert_same_matrix(new: pd.DataFrame, old: pd.DataFrame) -> None:
    """Same rows and columns; numbers within 1e-9 relative, everything else exactly."""
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old)
    for column in new.columns:
        a, b = new[column], old[column]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0,
                                       equal_nan=True, err_msg=column)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True, obj=column)


@pytest.mark.parametrize("business", ["saas", "transactional"])
def test_the_new_engine_builds_the_previous_engines_matrix(business, monkeypatch):
    synth = generate_world(SynthConfig(accounts=2000, months=24, seed=5, business=business))
    dataset = dataset_from_frames(with_slow_tickets(synth.tables, synth.end_date),
                                  synth.end_date)
    new = build_feature_matrix(dataset, FeatureConfig())
    with monkeypatch.context() as patch:
        for name, family in previous_families().items():
            patch.setitem(FAMILIES, name, family)
        for name, build in PREVIOUS_FEATURES.items():
            patch.setitem(registry._FEATURES, name,
                          replace(registry._FEATURES[name], build=build))
        old = build_feature_matrix(dataset, FeatureConfig())
    rewritten = {s.family for s in new.features} & set(previous_families())
    assert rewritten >= ({"activity", "users", "usage", "tickets"} if business == "saas"
                         else {"activity", "purchases", "usage", "tickets"})
    assert new.feature_names == old.feature_names
    assert_same_matrix(new.frame, old.frame)
    # the reference really differs from the new SQL, so the comparison is of two engines
    assert previous_families()["activity"].prepare is not FAMILIES["activity"].prepare
    assert previous_families()["usage"].prepare is not FAMILIES["usage"].prepare
