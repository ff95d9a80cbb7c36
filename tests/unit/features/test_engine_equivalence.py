"""The faster family SQL gives the previous engine's matrix, value for value.

The previous engine's SQL for the families that were rewritten for speed (issue 21: lifetime
totals as running windows over every activity day joined as of each snapshot; one row per
user and day for the active-user counts; usage per account and day, with the two usage
features that read single days) is kept here, as the reference. Both engines build
the whole matrix of a 2,000-account synthetic world (and of a shop world, where the purchase
families exist); every column must agree: exactly for text, dates and flags, within 1e-9
relative for numbers. A reference kept in code (rather than a frozen matrix file) keeps the
test honest when the synthetic world is re-tuned: both sides always see the same data.
"""

from __future__ import annotations

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


PREVIOUS_USAGE_FEATURES = {"usage_trend_90d": previous_usage_trend_90d,
                           "weeks_active_12w": previous_weeks_active_12w}


def previous_families() -> dict[str, object]:
    """The rewritten families as the previous engine declared them."""
    return {
        "activity": replace(FAMILIES["activity"], per_snapshot=False, asof=True,
                            prepare=previous_activity_days_sql),
        "purchases": replace(FAMILIES["purchases"], per_snapshot=False, asof=True,
                             prepare=previous_purchase_days_sql, probe=HAS_AMOUNTS),
        "users": replace(FAMILIES["users"], source=PREVIOUS_USERS_DAILY, prepare=None),
        "usage": replace(FAMILIES["usage"], prepare=previous_usage_daily_sql),
    }


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
    dataset = dataset_from_frames(synth.tables, synth.end_date)
    new = build_feature_matrix(dataset, FeatureConfig())
    with monkeypatch.context() as patch:
        for name, family in previous_families().items():
            patch.setitem(FAMILIES, name, family)
        for name, build in PREVIOUS_USAGE_FEATURES.items():
            patch.setitem(registry._FEATURES, name,
                          replace(registry._FEATURES[name], build=build))
        old = build_feature_matrix(dataset, FeatureConfig())
    rewritten = {s.family for s in new.features} & set(previous_families())
    assert rewritten >= ({"activity", "users", "usage"} if business == "saas"
                         else {"activity", "purchases", "usage"})
    assert new.feature_names == old.feature_names
    assert_same_matrix(new.frame, old.frame)
    # the reference really differs from the new SQL, so the comparison is of two engines
    assert previous_families()["activity"].prepare is not FAMILIES["activity"].prepare
    assert previous_families()["usage"].prepare is not FAMILIES["usage"].prepare
