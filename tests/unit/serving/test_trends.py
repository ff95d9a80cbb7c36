"""Trends and alerts over a three-date sequence kept in a real history store."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from healthscore.serving.history import PRIMARY, DuckDBHistory
from healthscore.serving.settings import AlertConfig
from healthscore.serving.trends import (
    history_since,
    momentum,
    point_changes,
    reference_date,
    trends_and_alerts,
)

BANDS = ["Critical", "At risk", "Moderate", "Healthy"]
D1, D2, D3 = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)  # 31 and 28 days


def band_of(health: float) -> str:
    return BANDS[min(int(health // 25), 3)]


def day(health: dict[str, float], points: dict[str, dict[str, float]] | None = None,
        renewal: dict[str, float] | None = None) -> pd.DataFrame:
    ids = list(health)
    points = points or {}
    renewal = renewal or {}
    return pd.DataFrame({
        "account_id": ids, "health": [health[a] for a in ids],
        "band": [band_of(health[a]) for a in ids],
        "churn_probability": [1 - health[a] / 100 for a in ids],
        "days_to_renewal": [renewal.get(a, 300.0) for a in ids],
        "points_json": [json.dumps(points.get(a, {})) for a in ids],
        "risk_1_reason": ["Oldest unpaid invoice is 40 days past due" if a == "payer" else ""
                          for a in ids],
    })


@pytest.fixture
def sequence(tmp_path):
    """Three monthly runs: 'decliner' loses usage points, 'riser' gains, 'steady' holds,
    'payer' renews soon at health 65, 'new' appears on the last date only."""
    history = DuckDBHistory(tmp_path / "history.duckdb")
    history.replace(D1, {PRIMARY: day(
        {"decliner": 82.0, "riser": 60.0, "steady": 90.0, "payer": 70.0},
        {"decliner": {"events_30d": 1.0, "days_past_due": 0.0}, "riser": {"events_30d": -8.0}})})
    history.replace(D2, {PRIMARY: day(
        {"decliner": 72.0, "riser": 70.0, "steady": 91.0, "payer": 66.0},
        {"decliner": {"events_30d": -5.0, "days_past_due": -2.0},
         "riser": {"events_30d": -2.0}})})
    today = day({"decliner": 45.0, "riser": 84.0, "steady": 89.0, "payer": 65.0, "new": 50.0},
                {"decliner": {"events_30d": -20.0, "days_past_due": -9.0, "nps": 0.5},
                 "riser": {"events_30d": 3.0, "latest_nps": 1.0}},
                renewal={"payer": 45.0})
    return history, today


def test_reference_dates_follow_the_scoring_cadence() -> None:
    monthly = [D1, D2]
    assert reference_date(monthly, D3, 30) == D2  # 28 days back is "30 days ago"
    assert reference_date(monthly, D3, 90) is None  # 59 days back is too far from 90
    daily = [D3 - dt.timedelta(days=k) for k in range(1, 100)]
    assert reference_date(daily, D3, 30) == D3 - dt.timedelta(days=30)
    assert reference_date([D3 - dt.timedelta(days=23), D3 - dt.timedelta(days=37)], D3, 30) == (
        D3 - dt.timedelta(days=37))  # equally close: the earlier one
    assert reference_date([], D3, 30) is None


def test_momentum_bands_the_30_day_change() -> None:
    out = momentum(pd.Series([6.0, 5.0, -5.0, -5.1, np.nan]), 5.0)
    assert out.tolist() == ["improving", "stable", "stable", "declining", ""]


def test_point_changes_rank_features_by_how_much_they_moved() -> None:
    moved = point_changes('{"a": 1.0, "b": -2.0}', '{"a": -4.0, "c": 0.5}')
    assert moved == [("a", -5.0), ("b", 2.0), ("c", 0.5)]
    assert point_changes(None, '{"a": 1.0}') == [("a", 1.0)]


def test_trends_over_three_dates(sequence) -> None:
    history, today = sequence
    trend = trends_and_alerts(today, history.read(until=D3 - dt.timedelta(days=1)), D3,
                              AlertConfig(), BANDS).set_index("account_id")
    assert trend.loc["decliner", "previous_health"] == 72.0
    assert trend.loc["decliner", "health_30d_ago"] == 72.0
    assert trend.loc["decliner", "health_change_30d"] == -27.0
    assert np.isnan(trend.loc["decliner", "health_change_90d"])  # no run ~90 days back
    assert trend.loc["decliner", "momentum"] == "declining"
    assert trend.loc["riser", "momentum"] == "improving"
    assert trend.loc["steady", "momentum"] == "stable"
    assert trend.loc["new", "momentum"] == ""
    assert np.isnan(trend.loc["new", "previous_health"])
    assert trend.loc["new", "previous_band"] == ""


def test_alerts_and_their_reasons(sequence) -> None:
    history, today = sequence
    trend = trends_and_alerts(today, history.read(), D3, AlertConfig(), BANDS,
                              labels={"events_30d": "Events in the last 30 days"}
                              ).set_index("account_id")
    alerts = trend["alerts"].str.split(";")
    assert alerts["decliner"] == ["health_drop", "entered_at_risk"]
    why = trend.loc["decliner", "alert_reasons"]
    # the drop is explained by the driver points that fell most since the 30-day reference
    assert why.startswith("health_drop: -27.0 since 2025-02-01: Events in the last 30 days "
                          "-15.0 pts; days_past_due -7.0 pts")
    # the previous run is the 30-day reference: the band entry's drivers are the drop's
    assert why.endswith(" | entered_at_risk: Moderate -> At risk (same drivers)")
    assert why.count("Events in the last 30 days") == 1
    assert "nps" not in why  # it moved up, not down
    assert alerts["riser"] == ["expansion_play"]
    assert "Events in the last 30 days +5.0 pts; latest_nps +1.0 pts" in (
        trend.loc["riser", "alert_reasons"])
    assert alerts["payer"] == ["renewal_at_risk"]
    assert trend.loc["payer", "alert_reasons"] == (
        "renewal_at_risk: renews in 45 days at health 65.0: "
        "Oldest unpaid invoice is 40 days past due")
    assert trend.loc["steady", "alerts"] == "" and trend.loc["new", "alerts"] == ""


def test_alert_thresholds_come_from_the_config(sequence) -> None:
    history, today = sequence
    strict = AlertConfig(drop_points=30, renewal_days=30, expansion_health=90,
                         risk_bands=["Critical"])
    trend = trends_and_alerts(today, history.read(), D3, strict, BANDS).set_index("account_id")
    assert (trend["alerts"] == "").all()


def test_the_first_run_has_no_trends_and_only_state_alerts(sequence, tmp_path) -> None:
    _, today = sequence
    empty = DuckDBHistory(tmp_path / "not-yet-written.duckdb").read()
    trend = trends_and_alerts(today, empty, D3, AlertConfig(), BANDS)
    assert trend["health_change_30d"].isna().all()
    assert trend["alerts"].tolist() == ["", "", "", "renewal_at_risk", ""]


def test_reason_labels_tell_a_template_s_features_apart() -> None:
    from healthscore.model.artifact import FeatureMeta
    from healthscore.serving.batch import reason_labels

    def meta(name: str, description: str) -> FeatureMeta:
        return FeatureMeta(name, "usage", "neutral", "", description, "{value}", False)

    labels = reason_labels([
        meta("events_30d_by_type__export_all_data", "Usage events of one event type."),
        meta("events_30d_by_type__seat_removed", "Usage events of one event type."),
        meta("events_30d", "Events in the last 30 days.")])
    assert labels == {
        "events_30d_by_type__export_all_data": "Usage events of one event type (export_all_data)",
        "events_30d_by_type__seat_removed": "Usage events of one event type (seat_removed)",
        "events_30d": "Events in the last 30 days"}


def test_the_trajectory_continues_the_line_of_the_last_90_days(sequence, tmp_path) -> None:
    """decliner: 82, 72, 45 on days -59, -28, 0 -> a least-squares fall of about 0.6 points a
    day, so 90 days on it is at 0; riser climbs to 100 (clipped); steady stays near 89;
    'new' has no history, so no trajectory."""
    history, today = sequence
    trend = trends_and_alerts(today, history.read(), D3, AlertConfig(), BANDS
                              ).set_index("account_id")["projected_health_90d"]
    t = np.array([-59.0, -28.0, 0.0])
    slope = np.polyfit(t, [82.0, 72.0, 45.0], 1)[0]
    assert trend["decliner"] == round(max(0.0, 45.0 + 90 * slope), 1) == 0.0
    assert trend["riser"] == 100.0
    steady = 89.0 + 90 * np.polyfit(t, [90.0, 91.0, 89.0], 1)[0]
    assert trend["steady"] == pytest.approx(steady, abs=0.05) and 85 < trend["steady"] < 89
    assert np.isnan(trend["new"])
    empty = DuckDBHistory(tmp_path / "first-run.duckdb").read()
    first = trends_and_alerts(today, empty, D3, AlertConfig(), BANDS)
    assert first["projected_health_90d"].isna().all()  # a first run has no trend


def test_with_an_expansion_score_expansion_play_goes_to_healthy_ready_accounts(sequence):
    history, today = sequence
    # riser rose into Healthy (today's rule would alert) but is not ready to expand; steady
    # and new are ready, only steady is Healthy; decliner is ready but At risk
    ready = {"decliner": 90.0, "riser": 10.0, "steady": 65.0, "payer": 20.0, "new": 80.0}
    scored = today.assign(expansion_score=today["account_id"].map(ready),
                          expansion_1_reason=["", "", "Seats in use up 30 %", "", ""])
    trend = trends_and_alerts(scored, history.read(), D3, AlertConfig(),
                              BANDS).set_index("account_id")
    playing = trend.index[trend["alerts"].str.contains("expansion_play")].tolist()
    assert playing == ["steady"]
    assert "expansion_play: expansion readiness 65.0 at health 89.0: Seats in use up 30 %" in (
        trend.loc["steady", "alert_reasons"])
    # the threshold comes from the config
    strict = trends_and_alerts(scored, history.read(), D3, AlertConfig(expansion_score=70),
                               BANDS)
    assert not strict["alerts"].str.contains("expansion_play").any()


def test_without_an_expansion_score_expansion_play_keeps_the_health_rule(sequence):
    history, today = sequence
    for scored in (today, today.assign(expansion_score=np.nan)):  # old model: no score
        trend = trends_and_alerts(scored, history.read(), D3, AlertConfig(expansion_score=0),
                                  BANDS).set_index("account_id")
        assert trend.index[trend["alerts"].str.contains("expansion_play")].tolist() == ["riser"]


@pytest.mark.parametrize("cadence, gap", [(1, 0), (7, 0), (30, 0), (1, 150)])
def test_trends_read_from_the_window_equal_trends_read_from_all_history(
        tmp_path, cadence: int, gap: int) -> None:
    """Scoring reads the history from :func:`history_since` on, not all of it: the trends
    and alerts are the same as from every row (daily, weekly and monthly cadences, and a
    last run long before today)."""
    history = DuckDBHistory(tmp_path / "history.duckdb")
    rng = np.random.default_rng(3)
    as_of = dt.date(2025, 12, 1)
    ids = ["a", "b", "c", "d"]
    last = as_of - dt.timedelta(days=gap + 1)
    for k in range(0, 400, cadence):
        when = last - dt.timedelta(days=k)
        health = dict(zip(ids, rng.uniform(0, 100, len(ids)).round(1), strict=True))
        history.replace(when, {PRIMARY: day(health, {a: {"events_30d": float(rng.normal())}
                                                     for a in ids})})
    today = day({"a": 20.0, "b": 55.0, "c": 96.0, "e": 40.0}, {"a": {"events_30d": -9.0}})
    config = AlertConfig()
    since = history_since(history.dates(), as_of, config)
    window = history.read(since=since, until=as_of - dt.timedelta(days=1))
    every = history.read(until=as_of - dt.timedelta(days=1))
    assert len(window) < len(every)  # the point: fewer rows read
    expected = trends_and_alerts(today, every, as_of, config, BANDS)
    pd.testing.assert_frame_equal(trends_and_alerts(today, window, as_of, config, BANDS),
                                  expected)
    assert expected["previous_health"].notna().any()


def test_history_since_is_none_without_an_earlier_date() -> None:
    assert history_since([], D1, AlertConfig()) is None
    assert history_since([D2, D3], D1, AlertConfig()) is None
    assert history_since([D1], D3, AlertConfig()) == D3 - dt.timedelta(days=112)
    far = D3 + dt.timedelta(days=400)
    assert history_since([D1, D3], far, AlertConfig()) == D3  # the previous run, however old


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_expansion_play_fires_when_an_account_enters_the_qualifying_state(kind, tmp_path):
    """Healthy with an expansion score of at least 15 qualifies; the alert fires on the run
    where an account starts to qualify, not again while it stays, and again after it has left
    (by band or by score) and come back. Re-running a date gives the same alerts."""
    from healthscore.serving.history import SQLHistory

    history = (DuckDBHistory(tmp_path / "history.duckdb") if kind == "duckdb"
               else SQLHistory(f"sqlite:///{tmp_path / 'history.db'}"))
    # per date: account -> (health, expansion score); "steady" qualifies throughout, "hopper"
    # leaves by its score on the third date and "dipper" by its band on the fourth
    runs = [
        {"steady": (90, 40.0), "hopper": (85, 20.0), "dipper": (80, 30.0), "late": (60, 50.0)},
        {"steady": (91, 41.0), "hopper": (86, 22.0), "dipper": (81, 31.0), "late": (88, 50.0)},
        {"steady": (92, 39.0), "hopper": (87, 9.0), "dipper": (82, 32.0), "late": (89, 51.0)},
        {"steady": (93, 38.0), "hopper": (88, 18.0), "dipper": (70, 33.0), "late": (90, 52.0)},
        {"steady": (94, 37.0), "hopper": (89, 19.0), "dipper": (84, 34.0), "late": (91, 53.0)},
    ]
    dates = [dt.date(2025, month, 1) for month in range(1, 6)]

    def score(when: dt.date, accounts: dict) -> list[str]:
        scored = day({a: float(h) for a, (h, _) in accounts.items()}).assign(
            expansion_score=[s for _, s in accounts.values()])
        past = history.read(until=when - dt.timedelta(days=1))
        trend = trends_and_alerts(scored, past, when, AlertConfig(), BANDS)
        history.replace(when, {PRIMARY: scored.assign(alerts=trend["alerts"].to_numpy())})
        return sorted(trend.loc[trend["alerts"].str.contains("expansion_play"), "account_id"])

    fired = [score(when, accounts) for when, accounts in zip(dates, runs, strict=True)]
    assert fired == [
        ["dipper", "hopper", "steady"],  # the first run: every qualifying account enters
        ["late"],  # late entered the Healthy band; the others still qualify: no repeat
        [],  # hopper left (score 9 < 15)
        ["hopper"],  # hopper is back above 15; dipper left by its band (Moderate)
        ["dipper"],  # dipper is back in Healthy
    ]
    # re-running a date reads the same previous run, so it alerts the same accounts
    assert score(dates[3], runs[3]) == ["hopper"]
    assert score(dates[4], runs[4]) == ["dipper"]
    assert history.read(since=dates[4])["expansion_score"].tolist() == [34.0, 19.0, 53.0, 37.0]
