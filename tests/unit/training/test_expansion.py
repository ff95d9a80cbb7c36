"""The expansion readiness model (training.expansion): trained in the same run on
``label_expansion``, carried inside the churn model, scored as ``expansion_score`` 0-100 with
its own drivers by the serving scorer and the MLflow pyfunc; models pickled before it existed
load and score as before."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pytest

from healthscore.model.pyfunc import HealthScorePyfunc
from healthscore.serving.scorer import score_accounts
from healthscore.serving.settings import ScoringConfig
from healthscore.tracking import RunRecord
from healthscore.training.record import expansion_metrics
from healthscore.training.report import expansion_section
from healthscore.training.settings import TrainingConfig
from healthscore.training.splits import TEST
from healthscore.training.train import split_rows, train_and_evaluate

AS_OF = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def trained(world):
    """A logistic churn model with a logistic expansion model (no refit), and its test rows."""
    config = TrainingConfig.model_validate({
        "models": ["logistic"], "bootstrap": 50, "refit": False,
        "expansion": {"enabled": True, "model": "logistic"}})
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0)
    labelled = world.labelled
    assignment, _, _, _ = split_rows(labelled, config, 90, 0)
    return run, labelled[(assignment == TEST).to_numpy()].reset_index(drop=True)


def test_the_expansion_model_learns_label_expansion_and_rides_in_the_churn_model(trained):
    run, _ = trained
    expansion = run.expansion
    assert expansion is not None
    assert expansion.health_model.label == "label_expansion"
    assert run.results["logistic"].health_model.expansion is expansion.health_model
    assert run.results["logistic"].health_model.label == "label_churn"
    # its test evaluation has ROC-AUC with a bootstrap interval around it
    ci = expansion.test.intervals.set_index("metric").loc["roc_auc"]
    assert ci.low <= expansion.test.overall["roc_auc"] <= ci.high and ci.low < ci.high
    # its labels are the expansion label, not churn
    assert not np.array_equal(expansion.test_rows["y"], run.results["logistic"].test_rows["y"])
    # directions are learned for it: churn's declared directions say nothing about expansion
    assert {m.direction_source for m in expansion.health_model.features} <= {"learned",
                                                                            "categorical"}
    churn_sources = {m.direction_source for m in run.results["logistic"].health_model.features}
    assert "registry" in churn_sources  # the churn model keeps its declared ones


def test_scores_carry_an_expansion_score_in_0_100_with_its_drivers(trained):
    run, test = trained
    model = run.results["logistic"].health_model
    scores = score_accounts(model, test, ScoringConfig(), AS_OF)
    score = scores["expansion_score"].to_numpy(float)
    assert np.all((score >= 0) & (score <= 100)) and score.std() > 0
    np.testing.assert_allclose(score, np.round(100 * model.expansion.predict_proba(test), 1),
                               atol=0.051)
    # drivers: the features adding most expansion points, largest first, with sentences
    first, second = (scores[f"expansion_{k}_points"].to_numpy(float) for k in (1, 2))
    named = scores["expansion_1_feature"] != ""
    assert named.mean() > 0.5
    assert np.all(first[named] >= 0) and np.all(first >= second) and first.max() > 0
    assert set(scores.loc[named, "expansion_1_feature"]) <= set(model.expansion.feature_names)
    assert (scores.loc[named, "expansion_1_reason"] != "").all()
    # health is the churn model's alone
    np.testing.assert_allclose(scores["churn_probability"], model.predict_proba(test),
                               atol=1e-9)


def test_the_pyfunc_returns_the_expansion_score(trained):
    run, test = trained
    model = run.results["logistic"].health_model
    logged = pickle.loads(pickle.dumps(HealthScorePyfunc(model)))
    out = logged.predict(None, test.head(50))
    scored = score_accounts(model, test.head(50), ScoringConfig(hard_stops=[]), AS_OF)
    np.testing.assert_array_equal(out["expansion_score"], scored["expansion_score"])
    assert out["expansion_1_feature"].tolist() == scored["expansion_1_feature"].tolist()


def test_a_model_pickled_before_the_expansion_model_loads_and_scores_without_it(trained):
    run, test = trained
    model = run.results["logistic"].health_model
    old = model.__class__(model.model, model.calibrator, model.features, bands=model.bands)
    del old.__dict__["expansion"]  # as unpickled from a model saved before the field existed
    loaded = pickle.loads(pickle.dumps(HealthScorePyfunc(old)))
    assert loaded.health_model.expansion is None
    out = loaded.predict(None, test.head(20))
    assert "expansion_score" not in out and len(out) == 20
    scores = score_accounts(loaded.health_model, test.head(20), ScoringConfig(), AS_OF)
    assert "expansion_score" not in scores
    np.testing.assert_array_equal(out["health"], HealthScorePyfunc(model).predict(
        None, test.head(20))["health"])


def test_expansion_off_trains_no_expansion_model(world):
    config = TrainingConfig.model_validate({
        "models": ["scorecard"], "bootstrap": 0, "refit": False,
        "expansion": {"enabled": False}})
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0)
    assert run.expansion is None
    assert run.results["scorecard"].health_model.expansion is None


def test_mlflow_and_the_validation_report_show_its_roc_auc_with_the_interval(trained, tmp_path):
    run, _ = trained
    metrics = expansion_metrics(run.expansion)
    auc = run.expansion.test.overall["roc_auc"]
    ci = run.expansion.test.intervals.set_index("metric").loc["roc_auc"]
    assert metrics["expansion_test_roc_auc"] == auc
    assert (metrics["expansion_test_roc_auc_ci_low"], metrics["expansion_test_roc_auc_ci_high"]
            ) == (ci.low, ci.high)
    assert not any(k.startswith("test_") for k in metrics)  # never the churn model's names
    record = RunRecord("r1", "logistic", {"expansion_model": "logistic"}, metrics, {}, tmp_path)
    text = expansion_section(record)
    assert f"{auc:.3f} ({ci.low:.3f}–{ci.high:.3f})" in text
    assert ("above a coin flip beyond its interval" if ci.low > 0.5 else "reaches 0.5") in text
    assert expansion_section(RunRecord("r2", "logistic", {}, {}, {}, tmp_path)) == ""
    assert expansion_metrics(None) == {}
