"""The discrete-time survival model: person-period rows, censoring, monotone horizons, fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.errors import ParameterError
from healthscore.model.artifact import HealthModel
from healthscore.model.explain import health_points
from healthscore.training.metrics import roc_auc
from healthscore.training.settings import TrainingConfig
from healthscore.training.survival import (
    CHURN_DAYS,
    OBSERVED_DAYS,
    NoCalibration,
    SurvivalModel,
    band_thresholds_by_lift,
    censor_at,
    churn_within,
    concordance_index,
    fit_survival,
    horizon_outcomes,
    interval_edges,
    person_period,
    survival_split,
)
from healthscore.training.train import feature_infos, resolve_directions

EDGES = interval_edges([30, 90, 180, 365])
durations = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(0, 500)), st.integers(0, 500)),
    min_size=1, max_size=40)


def _arrays(pairs):
    churn = np.array([np.nan if c is None else c for c, _ in pairs], dtype=float)
    observed = np.array([d for _, d in pairs], dtype=float)
    return churn, observed


@pytest.mark.property
@settings(max_examples=200, deadline=None, derandomize=True)
@given(pairs=durations)
def test_censoring_no_label_beyond_the_observed_days(pairs):
    churn, observed = _arrays(pairs)
    pp = person_period(churn, observed, EDGES)
    end = EDGES[pp.interval + 1]
    start = EDGES[pp.interval]
    d = observed[pp.row]
    # every interval, churned or retained, ends within what was seen
    assert (end <= d).all()
    c = churn[pp.row]
    assert ((c[pp.event == 1] < d[pp.event == 1])
            & (c[pp.event == 1] >= start[pp.event == 1])
            & (c[pp.event == 1] < end[pp.event == 1])).all()
    # whatever happened on or after day d changes nothing
    rng = np.random.default_rng(len(pairs))
    later = observed + rng.integers(0, 400, len(observed))
    unseen = np.where(churn < observed, churn, np.where(rng.random(len(churn)) < 0.5,
                                                        later, np.nan))
    again = person_period(unseen, observed, EDGES)
    for a, b in ((pp.row, again.row), (pp.interval, again.interval), (pp.event, again.event)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.property
@settings(max_examples=200, deadline=None, derandomize=True)
@given(hazards=st.lists(st.lists(st.floats(0, 1), min_size=4, max_size=4), min_size=1,
                        max_size=20),
       horizons=st.lists(st.floats(0, 800), min_size=2, max_size=8))
def test_churn_within_is_non_decreasing_in_the_horizon(hazards, horizons):
    h = np.array(hazards)
    grid = sorted(horizons)
    p = np.column_stack([churn_within(h, EDGES, x) for x in grid])
    assert ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p, axis=1) >= -1e-12).all()


def test_churn_within_matches_the_product_of_hazards_at_the_edges():
    hazards = np.array([[0.1, 0.2, 0.3, 0.4]])
    expected = [0.1, 1 - 0.9 * 0.8, 1 - 0.9 * 0.8 * 0.7, 1 - 0.9 * 0.8 * 0.7 * 0.6]
    got = [churn_within(hazards, EDGES, h)[0] for h in (30, 90, 180, 365)]
    np.testing.assert_allclose(got, expected)
    assert churn_within(hazards, EDGES, 0)[0] == 0.0
    # halfway through [30, 90): the second factor to the power one half
    np.testing.assert_allclose(churn_within(hazards, EDGES, 60)[0], 1 - 0.9 * 0.8 ** 0.5)


def test_person_period_expands_by_hand():
    churn = np.array([np.nan, 45.0, 45.0, np.nan])
    observed = np.array([400.0, 400.0, 40.0, 100.0])
    pp = person_period(churn, observed, EDGES)
    rows = list(zip(pp.row.tolist(), pp.interval.tolist(), pp.event.tolist(), strict=True))
    assert sorted(rows) == sorted([
        (0, 0, 0), (0, 1, 0), (0, 2, 0), (0, 3, 0),  # retained, seen for 400 days
        (1, 0, 0), (1, 1, 1),  # churned on day 45
        (2, 0, 0),  # churn on day 45 not seen by day 40: retained for [0, 30) only
        (3, 0, 0), (3, 1, 0),  # seen for 100 days: [90, 180) is partly seen, left out
    ])


def test_interval_edges_refuse_non_positive_horizons():
    with pytest.raises(ParameterError, match="positive"):
        interval_edges([0, 90])


def _frame(dates, churn, observed, accounts=None):
    return pd.DataFrame({"account_id": accounts or [f"a{i}" for i in range(len(dates))],
                         "snapshot_date": pd.to_datetime(dates), CHURN_DAYS: churn,
                         OBSERVED_DAYS: observed})


def test_censor_at_forgets_what_happened_after_the_day():
    frame = _frame(["2024-01-01", "2024-01-01", "2024-03-01"], [100.0, 10.0, np.nan],
                   [300.0, 300.0, 200.0])
    out = censor_at(frame, pd.Timestamp("2024-03-01"))
    assert out[OBSERVED_DAYS].tolist() == [60.0, 60.0, 0.0]
    assert np.isnan(out[CHURN_DAYS].iloc[0])  # the churn on day 100 lies after the cut
    assert out[CHURN_DAYS].iloc[1] == 10.0


def test_concordance_index_matches_pairs_counted_by_hand():
    rng = np.random.default_rng(1)
    n = 60
    risk = rng.random(n).round(1)
    churn = np.where(rng.random(n) < 0.4, rng.integers(0, 300, n), np.nan).astype(float)
    observed = rng.integers(100, 400, n).astype(float)
    churn = np.where(churn < observed, churn, np.nan)
    time = np.where(np.isnan(churn), observed, churn)
    num = den = 0.0
    for i in range(n):
        if np.isnan(churn[i]):
            continue
        for j in range(n):
            if time[j] > time[i]:
                den += 1
                num += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    assert concordance_index(risk, churn, observed, chunk=7) == pytest.approx(num / den)
    assert concordance_index(-time, churn, observed) == 1.0


def test_band_thresholds_by_lift_are_ascending_health_points():
    p = np.full(100, 0.1)
    assert band_thresholds_by_lift(p) == [70.0, 85.0, 90.0]
    high = band_thresholds_by_lift(np.full(10, 0.6))  # 3x and 1.5x beyond certainty
    assert high == sorted(high) and len(set(high)) == 3


def test_survival_split_censors_earlier_rows_and_says_when_history_is_short():
    dates = pd.date_range("2022-01-01", periods=36, freq="MS")
    end = pd.Timestamp("2024-12-31")
    rows = [(f"a{i}", d) for d in dates for i in range(10)]
    frame = pd.DataFrame(rows, columns=["account_id", "snapshot_date"])
    frame[OBSERVED_DAYS] = (end - frame["snapshot_date"]).dt.days + 1
    frame[CHURN_DAYS] = np.where(np.arange(len(frame)) % 7 == 0, 20.0, np.nan)
    split = survival_split(frame, [30, 90, 180, 365], test_days=60)
    assert split.horizon_days == 365 and not split.notes
    assert (split.test[OBSERVED_DAYS] >= 365).all()
    for part in (split.train, split.valid):
        seen_until = part["snapshot_date"] + pd.to_timedelta(part[OBSERVED_DAYS], unit="D")
        assert (seen_until <= split.test_start).all()
    assert not set(split.train["account_id"]) & set(split.valid["account_id"])
    short = survival_split(frame[frame["snapshot_date"] >= "2023-06-01"], [30, 90, 180, 365],
                           test_days=60)
    assert short.horizon_days < 365
    assert "too short" in short.notes[0]


@pytest.fixture(scope="module")
def fitted(world):
    """The survival model (LightGBM score) fitted on the small world's split."""
    frame = world.frame[world.frame[OBSERVED_DAYS].notna()]
    split = survival_split(frame, [30, 90, 180, 365], seed=3)
    config = TrainingConfig.model_validate({"lightgbm": {"search": {"trials": 1}}})
    train90 = split.train.assign(label_churn=horizon_outcomes(split.train, 90)[1])
    findings = resolve_directions(world.metas, train90, config, 3)
    infos = feature_infos(world.metas, findings)
    model = fit_survival("lightgbm", infos, split.train, split.valid, config, 3,
                         [30, 90, 180, 365], split.horizon_days)
    return split, model


def test_fitted_probabilities_rise_with_the_horizon_for_every_account(fitted):
    split, model = fitted
    z = model.raw_score(split.test)
    grid = [0, 15, 30, 60, 90, 120, 180, 270, 365, 500]
    p = np.column_stack([model.proba_within(z, h) for h in grid])
    assert (np.diff(p, axis=1) >= 0).all()
    assert (p[:, 0] == 0).all()
    months = model.restricted_mean_months(z)
    assert ((months > 0) & (months <= 24)).all()
    assert np.corrcoef(months, p[:, -2])[0, 1] < 0  # riskier accounts stay fewer months


def test_fitted_model_ranks_and_calibrates_on_the_test_period(fitted):
    split, model = fitted
    z = model.raw_score(split.test)
    for h in sorted({90, split.horizon_days}):
        observed, churned = horizon_outcomes(split.test, h)
        p = model.proba_within(z, h)[observed]
        y = churned[observed].astype(int)
        assert roc_auc(y, p) > 0.6
        assert abs(p.mean() - y.mean()) < 0.5 * y.mean() + 0.01


def test_drivers_of_the_survival_health_add_up(fitted, world):
    split, model = fitted
    used = set(model.feature_names)
    health_model = HealthModel(model, NoCalibration(),
                               [m for m in world.metas if m.name in used], "label_churn",
                               model.horizon_days)
    rows = split.test.head(200)
    base, points, health = health_points(health_model, rows)
    np.testing.assert_allclose(points.sum(axis=1), health - base, atol=1e-6)
    np.testing.assert_allclose(health, 100 * (1 - model.proba_within(
        model.raw_score(rows), model.horizon_days)))


def test_survival_contributions_are_its_score_boosters_pred_contrib_bit_for_bit(
        fitted, monkeypatch):
    from healthscore.training.models import lgbm

    monkeypatch.setattr(lgbm, "REPLAY_MIN_ROWS", 0)  # replayed, as a large scoring date is
    split, model = fitted
    inner = model.inner
    base, phi = model.contributions(split.test)
    native = inner.booster_.predict(inner.prepare(split.test), pred_contrib=True,
                                    num_iteration=inner.best_iteration_)
    assert np.array_equal(phi.view(np.int64), native[:, :-1].view(np.int64))
    assert base == native[0, -1]


def test_survival_model_refuses_a_kind_it_cannot_fit(world):
    with pytest.raises(ParameterError, match="lightgbm or logistic"):
        fit_survival("scorecard", [], world.frame, world.frame, TrainingConfig(), 0, [90], 90)


def test_survival_model_is_not_fitted_through_fit(fitted):
    _, model = fitted
    assert isinstance(model, SurvivalModel)
    assert model.horizons == [30, 90, 180, 365]


def test_training_fits_the_survival_model_beside_the_classifiers(world, tmp_path):
    from healthscore.model.explain import explain
    from healthscore.training.train import train_and_evaluate

    config = TrainingConfig.model_validate({
        "models": ["scorecard"], "bootstrap": 0, "refit_folds": 2,
        "lightgbm": {"search": {"trials": 1}},
        "survival": {"enabled": True, "health_horizon_days": 365}})
    run = train_and_evaluate(world.frame, world.metas, config, 90, 3)
    result = run.results["survival"]
    assert result.test.overall["roc_auc"] > 0.6
    registered = result.health_model
    assert registered.kind == "survival" and registered.evaluation is result.evaluated_model
    # the 30-month world teaches every interval, but its test period checks 90 days at most
    assert registered.horizon_days == 365 and result.params["health_horizon_days"] == 365
    assert any("checks horizons up to" in n for n in run.notes)
    assert "test_roc_auc_90d" in result.params and 0.5 < result.params["test_concordance"] < 1
    rows = world.labelled.tail(50)
    out = explain(registered, rows)
    within = out[[f"churn_within_{h}d" for h in (30, 90, 180, 365)]].to_numpy()
    assert (pd.DataFrame(within).diff(axis=1).fillna(0).to_numpy() >= 0).all()
    np.testing.assert_allclose(out["churn_within_365d"], out["churn_probability"], atol=1e-3)
    assert out["expected_months_24"].between(0, 24).all()
    _every_horizon_is_in_the_report(result, rows, tmp_path)


def _every_horizon_is_in_the_report(result, rows, tmp_path) -> None:
    """The survival run's horizon tables are logged and the validation page shows them."""
    from healthscore.tracking import RunRecord
    from healthscore.training import horizons as hz
    from healthscore.training.record import model_artifacts
    from healthscore.training.report import horizons_section

    per_horizon = result.horizon_tables[hz.HORIZON_METRICS]
    assert per_horizon["horizon_days"].tolist() == [30, 90, 180, 365]
    judged = per_horizon.dropna(subset=["td_roc_auc"])
    assert set(judged["horizon_days"]) == {30, 90}  # the test period checks 90 days at most
    assert (judged["td_roc_auc"] > 0.55).all()
    bands = result.horizon_tables[hz.BAND_CHURN]
    in_bands = bands.groupby("horizon_days")["accounts"].sum()
    assert in_bands.loc[30] == judged["observed_rows"].iloc[0]
    files = model_artifacts(result, rows)
    for name, body in files.items():
        if name.startswith("tables/") and name.endswith(".csv"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(body)
    html = horizons_section(RunRecord("r", "survival", {k: str(v) for k, v in
                                                      result.params.items()}, {}, {}, tmp_path))
    (tmp_path / "section.html").write_text(html)
    assert "Every horizon" in html and "churned within 90 days" in html
    assert "churned within 365 days" not in html and "too short to observe 180, 365 days" in html
    concordance = result.params["test_concordance"]
    assert f"Concordance index over the whole follow-up: {concordance}" in html


def test_training_says_why_the_survival_model_is_not_fitted(world):
    from healthscore.training.train import train_and_evaluate

    config = TrainingConfig.model_validate({"models": ["scorecard"], "bootstrap": 0,
                                            "refit": False, "survival": {"enabled": True}})
    frame = world.frame.drop(columns=[CHURN_DAYS, OBSERVED_DAYS])
    run = train_and_evaluate(frame, world.metas, config, 90, 3)
    assert "survival" not in run.results
    assert any("no survival labels" in n for n in run.notes)


def test_survival_config_refuses_bad_horizons():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"distinct horizons in \[1, 1095\]"):
        TrainingConfig.model_validate({"survival": {"horizons": [0, 90]}})
    assert TrainingConfig.model_validate(
        {"survival": {"horizons": [365, 30]}}).survival.horizons == [30, 365]
