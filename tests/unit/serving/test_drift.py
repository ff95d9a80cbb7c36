"""PSI against hand-computed examples; bins for deciles, few values, constant, all-missing and
categorical features; the drift report, its warning and its page on a hand-built model."""

from __future__ import annotations

import datetime as dt
import logging
import re

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ConfigError, ModelError, ParameterError
from healthscore.model.artifact import FeatureMeta, HealthModel
from healthscore.model.reference import MISSING, UNSEEN, build_reference, feature_reference
from healthscore.pipeline.config import config_from_mapping
from healthscore.serving.drift import (
    ACT,
    HEALTH,
    REPORT_COLUMNS,
    STABLE,
    WATCH,
    acting_features,
    check_drift,
    drift_bins,
    drift_report,
    psi,
    render_drift,
)
from healthscore.serving.settings import DriftConfig


def test_psi_matches_a_hand_computed_example():
    # (0.1-0.25)ln(0.4) + (0.2-0.25)ln(0.8) + (0.3-0.25)ln(1.2) + (0.4-0.25)ln(1.6)
    #  = 0.137444 + 0.011157 + 0.009116 + 0.070501 = 0.228218
    assert psi([0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.228218,
                                                                                abs=1e-6)
    assert psi([0.3, 0.7], [0.3, 0.7]) == 0.0
    assert psi([0.3, 0.7], [0.7, 0.3]) == pytest.approx(psi([0.7, 0.3], [0.3, 0.7]))


def test_binned_psi_with_an_empty_bin_matches_a_hand_computed_example():
    # training: three distinct values -> bins <= 0, (0, 1], (1, 2], > 2, missing
    ref = feature_reference("x", pd.Series([0, 0, 1, 1, 1, 1, 2, 2, 2, 2.0]), False)
    assert ref.labels == ["≤ 0", "(0, 1]", "(1, 2]", "> 2", MISSING]
    np.testing.assert_allclose(ref.shares, [0.2, 0.4, 0.4, 0.0, 0.0])
    current = pd.Series([0, 0, 0, 0, 0, 1, 1, 2, 2, 3.0])
    np.testing.assert_allclose(ref.shares_of(current), [0.5, 0.2, 0.2, 0.1, 0.0])
    # 0.3 ln 2.5 + 2 x 0.2 ln 2 + (0.1 - 1e-4) ln(0.1 / 1e-4): the empty "> 2" bin counts as
    # 1e-4; the missing bin, empty on both sides, adds nothing
    expected = 0.3 * np.log(2.5) + 0.4 * np.log(2) + 0.0999 * np.log(1000)
    assert expected == pytest.approx(1.242231, abs=1e-6)
    assert psi(ref.shares, ref.shares_of(current)) == pytest.approx(expected)


def test_a_continuous_feature_gets_deciles_right_closed():
    ref = feature_reference("x", pd.Series(np.arange(1, 1001, dtype=float)), False)
    assert len(ref.edges) == 9 and len(ref.labels) == 11  # 10 deciles + missing
    np.testing.assert_allclose(ref.shares, [0.1] * 10 + [0.0])
    edge = ref.edges[0]
    assert ref.bin_index(pd.Series([edge, np.nextafter(edge, np.inf)])).tolist() == [0, 1]
    assert ref.bin_index(pd.Series([-1e9, 1e9, np.inf, np.nan])).tolist() == [0, 9, 9, 10]


def test_a_constant_feature_has_a_bin_below_and_above():
    ref = feature_reference("flag", pd.Series([5.0] * 20), False)
    assert ref.labels == ["≤ 5", "> 5", MISSING]
    assert ref.shares == (1.0, 0.0, 0.0)
    assert psi(ref.shares, ref.shares_of(pd.Series([5.0] * 7))) == 0.0
    assert psi(ref.shares, ref.shares_of(pd.Series([5.0, 6.0]))) > 0.25


def test_an_all_missing_feature_has_one_value_bin_and_the_missing_bin():
    ref = feature_reference("nps", pd.Series([np.nan] * 10), False)
    assert ref.labels == ["any value", MISSING] and ref.shares == (0.0, 1.0)
    assert psi(ref.shares, ref.shares_of(pd.Series([None, None], dtype=float))) == 0.0
    assert psi(ref.shares, ref.shares_of(pd.Series([7.0, np.nan]))) > 0.25


def test_missing_values_are_their_own_bin():
    ref = feature_reference("x", pd.Series([1.0, 2.0, 3.0, np.nan]), False)
    assert ref.labels[-1] == MISSING and ref.shares[-1] == 0.25
    half_missing = ref.shares_of(pd.Series([1.0, np.nan, np.nan, np.nan]))
    assert half_missing[-1] == 0.75


def test_categorical_levels_unseen_in_training_get_their_own_bin():
    ref = feature_reference("plan", pd.Series(["pro", "basic", "pro", None]), True)
    assert ref.labels == ["basic", "pro", UNSEEN, MISSING]
    np.testing.assert_allclose(ref.shares, [0.25, 0.5, 0.0, 0.25])
    current = pd.Series(["pro", "enterprise", "enterprise", np.nan], dtype="string")
    np.testing.assert_allclose(ref.shares_of(current), [0.0, 0.25, 0.5, 0.25])
    nothing = feature_reference("plan", pd.Series([None, None], dtype=object), True)
    assert nothing.labels == [UNSEEN, MISSING] and nothing.shares == (0.0, 1.0)
    np.testing.assert_allclose(nothing.shares_of(pd.Series(["pro", None])), [0.5, 0.5])


# ---------------------------------------------------------------------------------------------
# the report on a hand-built model


class LinearModel:
    """Churn log-odds = -2 - 0.02 events_30d + 0.05 days_past_due (plan is ignored)."""

    name = "linear"
    feature_names = ["events_30d", "days_past_due", "plan"]

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        return (-2 - 0.02 * x["events_30d"].fillna(0) + 0.05 * x["days_past_due"].fillna(0)
                ).to_numpy(float)

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))

    def contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]:
        raise NotImplementedError


class Identity:
    def transform(self, p: np.ndarray) -> np.ndarray:
        return p


def rows(n: int = 2000, seed: int = 0, events_scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "account_id": np.arange(n),
        "events_30d": rng.gamma(2.0, 30.0, n) * events_scale,
        "days_past_due": np.where(rng.random(n) < 0.8, 0.0, rng.integers(1, 60, n)),
        "plan": rng.choice(["basic", "pro", "enterprise"], n, p=[0.5, 0.3, 0.2]),
    })


@pytest.fixture(scope="module")
def model() -> HealthModel:
    metas = [FeatureMeta("events_30d", "usage", "higher_is_healthier", "events", "Events.",
                         "{value} events", False),
             FeatureMeta("days_past_due", "billing", "higher_is_riskier", "days", "Past due.",
                         "{value} days", False),
             FeatureMeta("plan", "commercial", "neutral", "", "Plan.", "Plan {value}", True)]
    health_model = HealthModel(LinearModel(), Identity(), metas)
    health_model.reference = build_reference(health_model, rows())
    return health_model


def test_the_reference_covers_every_input_and_health(model):
    reference = model.reference
    assert [r.name for r in reference.columns] == [*model.feature_names, HEALTH]
    assert reference.rows == 2000
    for ref in reference.columns:
        assert sum(ref.shares) == pytest.approx(1.0)
        assert len(ref.shares) == len(ref.labels)


def test_the_reference_sample_is_capped_and_deterministic(model):
    first = build_reference(model, rows(), max_rows=300, seed=3)
    assert first.rows == 300
    assert build_reference(model, rows(), max_rows=300, seed=3) == first


def test_a_fresh_sample_from_the_same_population_is_stable(model):
    report = drift_report(model, rows(seed=1), DriftConfig())
    assert list(report.columns) == list(REPORT_COLUMNS)
    assert set(report["feature"]) == {*model.feature_names, HEALTH}
    assert (report["status"] == STABLE).all(), report
    assert report["psi"].is_monotonic_decreasing
    assert acting_features(report) == []


def test_scaled_usage_is_flagged_act_and_logged(model, caplog):
    frame = rows(seed=1, events_scale=3.0)
    with caplog.at_level(logging.WARNING, logger="healthscore.serving.drift"):
        report = check_drift(model, frame, DriftConfig())
    by_name = report.set_index("feature")
    assert by_name.loc["events_30d", "status"] == ACT
    assert by_name.loc["days_past_due", "status"] == STABLE
    assert by_name.loc["plan", "status"] == STABLE
    assert "events_30d" in acting_features(report)
    assert by_name.loc["events_30d", "top_bin"] == f"> {model.reference.features[0].edges[-1]:.4g}"
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "events_30d" in warning and "days_past_due" not in warning


def test_status_follows_the_configured_thresholds(model):
    frame = rows(seed=1, events_scale=1.3)
    psi_events = drift_report(model, frame, DriftConfig()).set_index("feature").loc[
        "events_30d", "psi"]
    assert 0.0 < psi_events
    config = DriftConfig(watch=psi_events / 2, act=psi_events * 2)
    assert drift_report(model, frame, config).set_index("feature").loc[
        "events_30d", "status"] == WATCH
    config = DriftConfig(watch=psi_events / 4, act=psi_events)  # at the threshold: act
    assert drift_report(model, frame, config).set_index("feature").loc[
        "events_30d", "status"] == ACT


def test_given_health_is_used_instead_of_scoring(model):
    frame = rows(seed=1)
    bins = drift_bins(model, frame, health=np.full(len(frame), 100.0))
    health = bins[bins["feature"] == HEALTH]
    assert health["current"].iloc[-2] == 1.0  # every row above the top training edge
    with pytest.raises(ParameterError, match="one value per frame row"):
        drift_bins(model, frame, health=np.ones(3))


def test_drift_needs_a_reference_the_inputs_and_rows(model, caplog):
    bare = HealthModel(model.model, model.calibrator, model.features)
    with pytest.raises(ModelError, match="no drift reference.*retrain"):
        drift_report(bare, rows(), DriftConfig())
    with caplog.at_level(logging.INFO, logger="healthscore.serving.drift"):
        assert check_drift(bare, rows(), DriftConfig()) is None
    assert "no drift reference" in caplog.text
    with pytest.raises(ModelError, match=r"lacks 1 model input\(s\): \['plan'\]"):
        drift_report(model, rows().drop(columns="plan"), DriftConfig())
    with pytest.raises(ParameterError, match="at least one row"):
        drift_report(model, rows().head(0), DriftConfig())


def test_an_old_pickle_without_the_field_reads_as_no_reference(model):
    bare = HealthModel(model.model, model.calibrator, model.features)
    del bare.__dict__["reference"]  # as unpickled from a model saved before the field existed
    assert bare.reference is None


def test_thresholds_are_validated_with_their_key_path():
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"scoring": {"drift": {"watch": 0.3, "act": 0.2}}}, "t.yaml")
    assert "scoring.drift: watch must be below act; got watch 0.3, act 0.2" in str(info.value)
    with pytest.raises(ConfigError, match=r"scoring\.drift\.act"):
        config_from_mapping({"scoring": {"drift": {"act": -1}}}, "t.yaml")


def test_the_page_is_self_contained_with_table_and_plots(model):
    frame = rows(seed=1, events_scale=3.0)
    config = DriftConfig(histograms=2)
    bins = drift_bins(model, frame)
    report = drift_report(model, frame, config)
    page = render_drift(report, bins, dt.date(2026, 1, 1), {"name": "healthscore",
                        "version": "3", "run_id": "abc<1>"}, config, model.reference.rows)
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 2
    assert "<script" not in page and "http" not in page
    assert "abc&lt;1&gt;" in page and "abc<1>" not in page
    assert page.count("<tr>") == len(report) + 1
    assert "2,000 training rows vs 2,000 scored rows" in page


def test_an_input_named_health_stays_apart_from_the_health_score(model):
    own = FeatureMeta("health", "engagement", "higher_is_healthier", "", "CSM health.",
                      "{value}", False)
    named = HealthModel(model.model, model.calibrator, [*model.features, own])
    training = rows().assign(health=7.0)
    named.reference = build_reference(named, training)
    report = drift_report(named, rows(seed=1).assign(health=8.0), DriftConfig())
    assert sorted(report.loc[report["feature"] == HEALTH, "dimension"]) == ["engagement",
                                                                          "score"]
    by_dimension = report.set_index("dimension")
    assert by_dimension.loc["engagement", "status"] == ACT  # every value above training's 7
    assert by_dimension.loc["score", "status"] == STABLE
