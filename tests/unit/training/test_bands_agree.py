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


def test_per_segment_auto_bands_band_each_segment_by_its_own_population(world):
    """``band_segments``: each segment's edges are the auto edges of its own training rows; the
    pyfunc, the scorer and the validation report band every account by its segment's edges."""
    from healthscore.model.bands import band_thresholds_by_share
    from healthscore.training.splits import TRAIN
    from healthscore.training.train import MIN_SEGMENT_BAND_ROWS

    config = TrainingConfig.model_validate({
        "models": ["logistic"], "bootstrap": 0, "refit": False, "bands": "auto",
        "band_rule": "share", "band_shares": [0.1, 0.2, 0.4], "band_segments": True})
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0)
    result = run.results["logistic"]
    model = result.health_model
    labelled = world.labelled
    assignment, _, _, _ = split_rows(labelled, config, 90, 0)
    train = labelled[(assignment == TRAIN).to_numpy()]
    segments = train["segment"].astype(str)
    sizes = segments.value_counts()
    assert set(model.segment_bands) == set(sizes[sizes >= MIN_SEGMENT_BAND_ROWS].index)
    assert len(model.segment_bands) >= 2
    p = model.predict_proba(train)
    for segment, bands in model.segment_bands.items():
        own = band_thresholds_by_share(p[(segments == segment).to_numpy()], (0.1, 0.2, 0.4))
        assert [b.low for b in bands[1:]] == own
        # each segment's own riskiest tenth is Critical, whatever its base rate
        health = np.round(100 * (1 - p[(segments == segment).to_numpy()]), 1)
        rows = np.full(len(health), segment)
        assert np.mean(model.band(health, rows) == "Critical") == pytest.approx(0.1, abs=0.03)
    edges = [[b.low for b in bands] for bands in model.segment_bands.values()]
    assert any(e != edges[0] for e in edges)  # the segments differ: a shared edge would fail

    # the pyfunc, the scorer and the report band one frame alike, by segment
    test = labelled[(assignment == TEST).to_numpy()].reset_index(drop=True)
    by_pyfunc = HealthScorePyfunc(model).predict(None, test)
    policy_free = ScoringConfig(hard_stops=[], band_overrides=[])
    by_scorer = score_accounts(model, test, policy_free, dt.date(2026, 1, 1))
    np.testing.assert_array_equal(by_pyfunc["band"], by_scorer["band"])
    report = result.test.bands.set_index("band")["accounts"]
    counted = by_pyfunc["band"].value_counts().reindex(report.index, fill_value=0)
    pd.testing.assert_series_equal(counted, report, check_names=False, check_dtype=False)
    assert (result.test.bands["health_range"] == "per segment").all()
    whole = model.band(by_pyfunc["health"].to_numpy())  # without segments: the overall edges
    assert (whole != by_pyfunc["band"].to_numpy()).any()


def test_per_segment_bands_need_auto_bands():
    with pytest.raises(ConfigError, match="training.band_segments"):
        config_from_mapping({"training": {"band_segments": True}})


def test_segment_band_index_uses_a_segments_own_edges_and_the_overall_ones_otherwise():
    from healthscore.errors import ParameterError
    from healthscore.model.bands import segment_band_index

    overall = (Band("Low", 0, 50), Band("High", 50, 100.0001))
    own = {"smb": (Band("Low", 0, 80), Band("High", 80, 100.0001))}
    health = np.array([60.0, 60.0, 90.0, 60.0])
    segments = np.array(["smb", "enterprise", "smb", None], dtype=object)
    assert segment_band_index(health, overall, segments, own).tolist() == [0, 1, 1, 1]
    assert segment_band_index(health, overall).tolist() == [1, 1, 1, 1]
    renamed = {"smb": (Band("Bad", 0, 80), Band("Good", 80, 100.0001))}
    with pytest.raises(ParameterError, match="segment 'smb'"):
        segment_band_index(health, overall, segments, renamed)


def test_the_report_lists_each_segments_band_edges(tmp_path):
    from healthscore.training.record import segment_band_edges
    from healthscore.training.report import segment_bands_note

    assert segment_bands_note(tmp_path) == ""  # a run without per-segment bands
    own = {"smb": (Band("Low", 0, 80.04), Band("High", 80.04, 100.0001)),
           "enterprise": (Band("Low", 0, 93.3), Band("High", 93.3, 100.0001))}
    segment_band_edges(own).to_csv(tmp_path / "segment_bands.csv", index=False)
    note = segment_bands_note(tmp_path)
    assert "training.band_segments" in note
    for text in ("smb", "enterprise", "80", "93.3"):
        assert f">{text}<" in note
