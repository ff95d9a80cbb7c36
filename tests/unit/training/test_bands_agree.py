"""Bands are configured once (``training.bands``) and frozen into the model: the MLflow pyfunc,
the serving scorer (`healthscore score`) and the validation report's band table band one frame
alike. Non-default bands, so a path that fell back to the defaults would fail."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ConfigError
from healthscore.model.bands import DEFAULT_BANDS, Band
from healthscore.model.pyfunc import HealthScorePyfunc
from healthscore.pipeline.config import config_from_mapping
from healthscore.serving.scorer import score_accounts
from healthscore.serving.settings import ScoringConfig
from healthscore.training.settings import TrainingConfig
from healthscore.training.splits import TEST
from healthscore.training.train import split_rows, train_and_evaluate

BANDS = [{"name": "Low", "low": 0, "high": 85}, {"name": "Middle", "low": 85, "high": 96},
         {"name": "High", "low": 96, "high": 100}]


@pytest.fixture(scope="module")
def trained(world):
    """A logistic model trained with three non-default bands (no refit: the registered model is
    the one the validation report evaluated), and its test rows."""
    config = TrainingConfig.model_validate({"models": ["logistic"], "bootstrap": 0,
                                            "refit": False, "bands": BANDS})
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0)
    labelled = world.labelled
    assignment, _, _, _ = split_rows(labelled, config, 90, 0)
    return run.results["logistic"], labelled[(assignment == TEST).to_numpy()].reset_index(
        drop=True)


def test_the_model_carries_the_configured_bands(trained):
    result, _ = trained
    expected = (Band("Low", 0, 85), Band("Middle", 85, 96), Band("High", 96, 100))
    assert result.health_model.bands == expected
    assert result.health_model.health_bands == expected


def test_pyfunc_scorer_and_validation_report_band_one_frame_alike(trained):
    result, test = trained
    model = result.health_model
    # pickled and loaded as MLflow stores a python_model: the bands travel inside it
    logged = pickle.loads(pickle.dumps(HealthScorePyfunc(model)))
    by_pyfunc = logged.predict(None, test)
    # the scoring policies (hard stops, band overrides) apply on top of the model's bands
    policy_free = ScoringConfig(hard_stops=[], band_overrides=[])
    by_scorer = score_accounts(model, test, policy_free, dt.date(2026, 1, 1))
    np.testing.assert_array_equal(by_pyfunc["account_id"], by_scorer["account_id"])
    np.testing.assert_array_equal(by_pyfunc["health"], by_scorer["health"])
    np.testing.assert_array_equal(by_pyfunc["band"], by_scorer["band"])
    # the validation report's band table counts the same rows in the same bands
    report = result.test.bands.set_index("band")["accounts"]
    counted = by_pyfunc["band"].value_counts().reindex(report.index, fill_value=0)
    assert report.index.tolist() == ["Low", "Middle", "High"]
    pd.testing.assert_series_equal(counted, report, check_names=False, check_dtype=False)
    assert (report > 0).sum() >= 2  # the bands split the rows: the check can tell them apart
    assert set(by_pyfunc["band"]) <= {"Low", "Middle", "High"}


def test_a_model_pickled_before_bands_were_frozen_in_uses_the_defaults(trained):
    result, test = trained
    old = result.health_model.__class__(result.health_model.model,
                                        result.health_model.calibrator,
                                        result.health_model.features)
    del old.__dict__["bands"]  # as unpickled from a model saved before the field existed
    assert old.health_bands == DEFAULT_BANDS
    out = HealthScorePyfunc(old).predict(None, test.head(20))
    assert set(out["band"]) <= {b.name for b in DEFAULT_BANDS}


def test_the_former_scoring_bands_key_says_where_it_moved():
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"scoring": {"bands": BANDS, "top_risks": 0}}, "run.yaml")
    message = str(info.value)
    assert "scoring.bands: moved to training.bands" in message
    assert "scoring.top_risks" in message  # listed with every other problem
    assert config_from_mapping({"training": {"bands": BANDS}}).training.bands[0].high == 85


def test_auto_bands_spread_by_lift_over_the_training_population(world):
    """``bands: auto`` sets the edges where churn is 3x, 1.5x and 1x the training population's
    mean probability, frozen into the model; the validation report's band table uses them."""
    from healthscore.model.bands import band_thresholds_by_lift
    from healthscore.training.splits import TRAIN

    config = TrainingConfig.model_validate({"models": ["logistic"], "bootstrap": 0,
                                            "refit": False, "bands": "auto"})
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0)
    model = run.results["logistic"].health_model
    labelled = world.labelled
    assignment, _, _, _ = split_rows(labelled, config, 90, 0)
    train = labelled[(assignment == TRAIN).to_numpy()]
    edges = band_thresholds_by_lift(model.predict_proba(train), (3.0, 1.5, 1.0))
    assert [b.name for b in model.bands] == [b.name for b in DEFAULT_BANDS]
    assert [b.low for b in model.bands[1:]] == edges != [25, 50, 75]
    table = run.results["logistic"].test.bands
    assert table["band"].tolist() == [b.name for b in DEFAULT_BANDS]
    assert table["health_range"].iloc[-1].startswith(f"{edges[-1]:g}")
    # spread on a low base rate: every band holds test accounts, churn falls band by band
    assert (table["accounts"] > 0).all()
    assert table["churn_rate"].iloc[0] > table["churn_rate"].iloc[-1]


@pytest.mark.parametrize("lifts", [[1.0, 1.5, 3.0], [3.0, 3.0, 1.0], [3.0, 1.5]])
def test_band_lifts_must_be_three_and_descending(lifts):
    with pytest.raises(ConfigError, match="training.band_lifts"):
        config_from_mapping({"training": {"bands": "auto", "band_lifts": lifts}})


def test_auto_bands_by_share_put_those_shares_of_the_population_in_each_band(world):
    from healthscore.training.splits import TRAIN

    config = TrainingConfig.model_validate({
        "models": ["logistic"], "bootstrap": 0, "refit": False, "bands": "auto",
        "band_rule": "share", "band_shares": [0.1, 0.2, 0.4]})
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0)
    model = run.results["logistic"].health_model
    labelled = world.labelled
    assignment, _, _, _ = split_rows(labelled, config, 90, 0)
    train = labelled[(assignment == TRAIN).to_numpy()]
    health = np.round(100 * (1 - model.predict_proba(train)), 1)
    shares = pd.Series(model.band(health)).value_counts(normalize=True)
    expected = {"Critical": 0.1, "At risk": 0.1, "Moderate": 0.2, "Healthy": 0.6}
    for band, share in expected.items():
        assert shares[band] == pytest.approx(share, abs=0.03), (band, shares.to_dict())


def test_share_edges_are_quantiles_of_health_kept_apart():
    from healthscore.model.bands import band_thresholds_by_share

    p = np.linspace(0.0, 1.0, 1001)  # health 100 .. 0 evenly
    assert band_thresholds_by_share(p, [0.1, 0.5, 0.9]) == [10.0, 50.0, 90.0]
    assert band_thresholds_by_share(np.full(50, 0.02), [0.1, 0.5, 0.9]) == [98.0, 98.5, 99.0]


@pytest.mark.parametrize("shares", [[0.3, 0.2, 0.1], [0.0, 0.2, 0.5], [0.1, 0.2]])
def test_band_shares_must_be_three_ascending_inside_0_1(shares):
    with pytest.raises(ConfigError, match="training.band_shares"):
        config_from_mapping({"training": {"bands": "auto", "band_shares": shares}})
