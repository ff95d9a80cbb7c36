"""Driver views on the hand-built linear model of test_scorer: one account's breakdown adds up
to its health (hard stops included), and the portfolio importance ranks what moves health."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from test_scorer import Squash, frame, model

from healthscore.errors import ParameterError
from healthscore.model.explain import health_points
from healthscore.serving.drivers import account_drivers, driver_importance
from healthscore.serving.settings import ScoringConfig


def test_an_accounts_points_add_up_to_its_health():
    view = account_drivers(model(Squash()), frame(), account_id=1)
    assert view.base_health + view.table["points"].sum() == pytest.approx(view.health)
    assert view.health == view.model_health and view.hard_stops == ""
    assert view.table["points"].is_monotonic_increasing  # riskiest first
    first = view.table.iloc[0]
    assert first["feature"] in {"active_users_30d", "days_past_due", "has_champion"}
    assert first["reason"] == f"{first['feature']} is {first['value']}"
    assert "account 1: health" in view.summary and "(risks)" in view.summary


def test_a_binding_hard_stop_takes_the_points_it_removes():
    rows = frame().assign(days_past_due=[45.0, 35.0, 5.0, 0.0])
    stops = ScoringConfig().hard_stops
    view = account_drivers(model(), rows, account_id=2, hard_stops=stops)
    assert view.hard_stops == "seriously_past_due"
    assert view.health == 20 < view.model_health
    assert view.base_health + view.table["points"].sum() == pytest.approx(20)
    plain = account_drivers(model(), rows, account_id=2)
    cut = view.table.set_index("feature")["points"] - plain.table.set_index("feature")["points"]
    assert cut["days_past_due"] == pytest.approx(20 - view.model_health)
    assert "capped the model's" in view.summary


def test_account_drivers_needs_exactly_one_row():
    rows = frame().assign(snapshot_date=dt.date(2026, 3, 1))
    twice = rows.assign(snapshot_date=dt.date(2026, 4, 1))
    both = pd.concat([rows, twice], ignore_index=True)
    with pytest.raises(ParameterError, match="1: 2 rows"):
        account_drivers(model(), both, account_id=1)
    picked = account_drivers(model(), both, account_id=1, snapshot_date=dt.date(2026, 4, 1))
    assert picked.snapshot_date == dt.date(2026, 4, 1)
    with pytest.raises(ParameterError, match="99: 0 rows"):
        account_drivers(model(), rows, account_id=99)


def test_importance_averages_the_points_per_feature():
    m = model(Squash())
    table = driver_importance(m, frame())
    _, points, _ = health_points(m, frame())
    names = list(m.model.feature_names)
    expected = dict(zip(names, np.abs(points).mean(axis=0), strict=True))
    got = dict(zip(table["feature"], table["mean_abs_points"], strict=True))
    assert got == pytest.approx(expected)
    assert table["mean_abs_points"].is_monotonic_decreasing
    assert table["top_risk_share"].sum() == pytest.approx(
        np.mean(points.min(axis=1) <= -0.05))
    assert set(table["dimension"]) == {"usage", "billing", "support", "relationship",
                                       "commercial"}
    with pytest.raises(ParameterError, match="empty frame"):
        driver_importance(m, frame().iloc[:0])
