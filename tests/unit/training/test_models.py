"""The three churn models, calibration and the training entry points.

Models are fitted on the synthetic world's time split; assertions are properties (ranges,
identities, monotonicity, orderings), not metric values, because the world is being re-tuned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from healthscore.errors import ConfigError, ModelError, ParameterError
from healthscore.model.artifact import FeatureMeta, HealthModel
from healthscore.pipeline.config import config_from_mapping
from healthscore.training.backtest import backtest
from healthscore.training.calibration import Calibrator
from healthscore.training.models import (
    ChurnModel,
    FeatureInfo,
    LightGBMModel,
    LogisticModel,
    ScorecardModel,
    lgbm,
    make_model,
)
from healthscore.training.settings import (
    BacktestConfig,
    LightGBMConfig,
    LogisticConfig,
    ScorecardConfig,
    SearchConfig,
    TrainingConfig,
)
from healthscore.training.train import fit_health_model, train_and_evaluate

MODELS = ("scorecard", "logistic", "lightgbm")
SIGNS = {"higher_is_healthier": 1, "lower_is_healthier": -1}
# one C and a faster learning rate keep the module quick; the models' behaviour is the same
# signs free: the contribution tests move features whose coefficient must not sit at 0
FAST_LOGISTIC = LogisticConfig(c_grid=[0.1], signs="free")
FAST_LIGHTGBM = LightGBMConfig(learning_rate=0.1, num_threads=1, search=SearchConfig(trials=1))


def infos_of(metas: list[FeatureMeta]) -> list[FeatureInfo]:
    """Model inputs from the artifact metadata (direction as +1 / -1 / 0; every declared
    direction constrained)."""
    return [FeatureInfo(m.name, m.dimension, SIGNS.get(m.direction, 0), m.categorical,
                        SIGNS.get(m.direction, 0)) for m in metas]


def build(name: str, infos: list[FeatureInfo], seed: int = 0) -> ChurnModel:
    """An unfitted model of each kind with test-friendly settings."""
    if name == "scorecard":
        return ScorecardModel(infos, ScorecardConfig(), seed)
    if name == "logistic":
        return LogisticModel(infos, FAST_LOGISTIC, seed)
    return LightGBMModel(infos, FAST_LIGHTGBM, seed)


def fit(model: ChurnModel, parts) -> ChurnModel:
    """Fit on the split's training rows, tune on its validation rows."""
    return model.fit(parts.train, parts.y(parts.train), parts.validation,
                     parts.y(parts.validation))


def with_values(rows: pd.DataFrame, feature: str, grid: np.ndarray) -> pd.DataFrame:
    """Each row repeated once per grid value, ``feature`` set to that value (others fixed)."""
    out = rows.loc[rows.index.repeat(len(grid))].reset_index(drop=True)
    out[feature] = np.tile(grid, len(rows))
    return out


def value_grid(values: pd.Series, extra: float) -> np.ndarray:
    """Training quantiles of a feature plus one value beyond its range."""
    grid = np.quantile(values.dropna().to_numpy(float), np.linspace(0, 1, 12))
    return np.unique(np.append(grid, grid[-1] + extra))


@pytest.fixture(scope="module")
def infos(world) -> list[FeatureInfo]:
    """Every model input of the world's feature matrix."""
    return infos_of(world.metas)


@pytest.fixture(scope="module")
def fitted(parts, infos) -> dict[str, ChurnModel]:
    """One fitted model of each kind (seed 0)."""
    return {name: fit(build(name, infos), parts) for name in MODELS}


@pytest.fixture(scope="module")
def sample(parts) -> pd.DataFrame:
    """40 test rows."""
    return parts.test.sample(40, random_state=0).reset_index(drop=True)


# -------------------------------------------------------------------- common model interface


@pytest.mark.parametrize("name", MODELS)
def test_probabilities_are_in_the_unit_interval(name: str, fitted, parts) -> None:
    p = fitted[name].predict_proba(parts.test)
    assert p.shape == (len(parts.test),)
    assert np.isfinite(p).all()
    assert ((p >= 0) & (p <= 1)).all()
    assert p.std() > 0


@pytest.mark.parametrize("name", MODELS)
def test_contributions_add_up_to_the_raw_score(name: str, fitted, parts) -> None:
    model = fitted[name]
    base, phi = model.contributions(parts.test)
    assert isinstance(base, float)
    assert phi.shape == (len(parts.test), len(model.feature_names))
    np.testing.assert_allclose(base + phi.sum(axis=1), model.raw_score(parts.test), atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_a_fit_validated_on_its_own_rows_equals_one_on_a_copy_of_them(name: str, infos,
                                                                    parts) -> None:
    # the refit passes its rows as both training and validation rows; the model prepares
    # (and the logistic model transforms) them once, which must not change the fitted model
    x, y = parts.train, parts.y(parts.train)
    once = build(name, infos).fit(x, y, x, y)
    twice = build(name, infos).fit(x, y, x.copy(), y)
    np.testing.assert_array_equal(once.raw_score(parts.test), twice.raw_score(parts.test))


def test_prepare_types_the_inputs_and_leaves_the_frame_alone(fitted, parts) -> None:
    model = fitted["lightgbm"]
    rows = parts.test.head(50).copy()
    before = rows.copy()
    x = model.prepare(rows)
    assert list(x.columns) == model.feature_names
    categorical = [f.name for f in model.features if f.categorical]
    assert categorical and all(isinstance(x[c].dtype, pd.CategoricalDtype) for c in categorical)
    assert all(x[f.name].dtype == np.float64 for f in model.features if not f.categorical)
    numeric = next(f.name for f in model.features if not f.categorical)
    x.loc[x.index[0], numeric] = -12345.0  # the prepared frame shares columns, not writes
    pd.testing.assert_frame_equal(rows, before)


@pytest.mark.parametrize("replay", [True, False], ids=["replay", "pred_contrib"])
def test_lightgbm_contributions_are_pred_contrib_bit_for_bit(replay: bool, fitted, parts,
                                                             monkeypatch) -> None:
    # the TreeSHAP replay (or, for a booster it cannot reproduce, pred_contrib itself)
    from healthscore.training.models import treeshap

    model = fitted["lightgbm"]
    monkeypatch.setattr(lgbm, "REPLAY_MIN_ROWS", 0)  # these few rows too
    if not replay:
        monkeypatch.setattr(treeshap, "MAX_NODES", 0)  # every tree "too large"
    used = treeshap.forest_of(model.booster_, model.best_iteration_) is not None
    assert used == replay
    rows = parts.test.copy()
    name = next(f.name for f in model.features if f.categorical)
    rows[name] = rows[name].astype(object)
    rows.loc[rows.index[:3], name] = None  # a missing category
    base, phi = model.contributions(rows)
    native = model.booster_.predict(model.prepare(rows), pred_contrib=True,
                                    num_iteration=model.best_iteration_)
    assert np.array_equal(phi.view(np.int64), native[:, :-1].view(np.int64))
    assert base == native[0, -1]


def test_contributions_of_fewer_rows_than_the_replay_needs_come_from_pred_contrib(
        fitted, parts, monkeypatch) -> None:
    from healthscore.training.models import treeshap

    def replay(*args, **kwargs):
        raise AssertionError("replayed")

    monkeypatch.setattr(treeshap, "contributions", replay)
    model, rows = fitted["lightgbm"], parts.test.head(50)
    monkeypatch.setattr(lgbm, "REPLAY_MIN_ROWS", 51)
    _, phi = model.contributions(rows)
    native = model.booster_.predict(model.prepare(rows), pred_contrib=True,
                                    num_iteration=model.best_iteration_)
    assert np.array_equal(phi, native[:, :-1])
    monkeypatch.setattr(lgbm, "REPLAY_MIN_ROWS", 50)
    with pytest.raises(AssertionError, match="replayed"):
        model.contributions(rows)


def test_a_category_unseen_in_training_is_missing_without_a_deprecation(fitted, parts
                                                                         ) -> None:
    import warnings

    model = fitted["lightgbm"]
    name = next(f.name for f in model.features if f.categorical)
    rows = parts.test.head(20).copy()
    rows[name] = rows[name].astype(object)
    rows.loc[rows.index[:3], name] = "a level never seen in training"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas 3 warns (Pandas4Warning): pandas 4 will raise
        x = model.prepare(rows)
    assert x[name].isna()[:3].all()
    kept = rows[name].iloc[3:].astype("string").astype(object)
    assert (x[name].iloc[3:].astype(object).fillna("<NA>") == kept.fillna("<NA>")).all()


def test_scorecard_uses_only_directional_numeric_features(fitted, world) -> None:
    expected = [m.name for m in world.metas
                if m.direction in SIGNS and not m.categorical]
    assert fitted["scorecard"].feature_names == expected
    assert len(fitted["logistic"].feature_names) == len(world.metas)


@pytest.mark.parametrize("name", ["scorecard", "logistic"])
def test_linear_contributions_average_to_zero_on_training_rows(name: str, fitted,
                                                               parts) -> None:
    _, phi = fitted[name].contributions(parts.train)
    np.testing.assert_allclose(phi.mean(axis=0), 0.0, atol=1e-8)


@pytest.mark.parametrize("method", ["raw_score", "predict_proba", "contributions"])
@pytest.mark.parametrize("name", MODELS)
def test_using_a_model_before_fit_is_a_model_error(name: str, method: str, infos,
                                                   sample) -> None:
    model = build(name, infos)
    with pytest.raises(ModelError, match=rf"the {name} model is used before fit\(\)"):
        getattr(model, method)(sample)


@pytest.mark.parametrize("name", MODELS)
def test_a_missing_input_column_is_named(name: str, fitted, sample) -> None:
    frame = sample.drop(columns=["weeks_active_12w"])
    with pytest.raises(ModelError, match=r"lacks 1 model input\(s\): \['weeks_active_12w'\]"):
        fitted[name].predict_proba(frame)


@pytest.mark.parametrize("name", ["logistic", "lightgbm"])
def test_fitting_without_a_numeric_input_column_names_it(name: str, infos, parts) -> None:
    train = parts.train.drop(columns=["weeks_active_12w"])
    with pytest.raises(ModelError, match="weeks_active_12w"):
        build(name, infos).fit(train, parts.y(train), parts.validation,
                               parts.y(parts.validation))


@pytest.mark.parametrize("name", ["logistic", "lightgbm"])
def test_fitting_without_a_categorical_input_column_names_it(name: str, infos, parts) -> None:
    train = parts.train.drop(columns=["plan"])
    with pytest.raises(ModelError, match="plan"):
        build(name, infos).fit(train, parts.y(train), parts.validation,
                               parts.y(parts.validation))


def test_make_model_rejects_an_unknown_name(infos) -> None:
    with pytest.raises(ModelError, match="unknown model 'xgboost'; known: scorecard, logistic"):
        make_model("xgboost", infos, TrainingConfig(), 0)


@pytest.mark.parametrize("name", MODELS)
def test_make_model_builds_each_configured_kind(name: str, infos) -> None:
    assert make_model(name, infos, TrainingConfig(), 0).name == name


# ------------------------------------------------------------------------------- LightGBM


def test_lightgbm_is_deterministic_given_the_seed(fitted, infos, parts) -> None:
    again = fit(build("lightgbm", infos, seed=0), parts)
    assert np.array_equal(again.predict_proba(parts.test),
                          fitted["lightgbm"].predict_proba(parts.test))


@pytest.mark.parametrize(("feature", "direction"), [
    ("active_users_30d", "higher_is_healthier"),
    ("weeks_active_12w", "higher_is_healthier"),
    ("days_past_due", "lower_is_healthier"),
])
def test_lightgbm_respects_monotone_constraints(feature: str, direction: str, fitted, parts,
                                                sample, world) -> None:
    assert {m.name: m.direction for m in world.metas}[feature] == direction
    grid = value_grid(parts.train[feature], extra=10.0)
    raw = fitted["lightgbm"].raw_score(with_values(sample, feature, grid))
    steps = np.diff(raw.reshape(len(sample), len(grid)), axis=1) * SIGNS[direction]
    # healthier (or less risky) value -> churn log-odds never go up
    assert (steps <= 1e-12).all(), f"{feature}: churn score rose by up to {steps.max():.4f}"


def test_lightgbm_ranks_better_than_the_scorecard(fitted, parts) -> None:
    y = parts.y(parts.test)
    auc = {name: roc_auc_score(y, fitted[name].predict_proba(parts.test))
           for name in ("scorecard", "lightgbm")}
    assert auc["lightgbm"] > auc["scorecard"], auc


# ------------------------------------------------------------------------------ scorecard


@pytest.mark.parametrize("weights", ["learned", "equal", {"usage": 1.0, "billing": 3.0}])
def test_scorecard_weights_sum_to_one(weights, infos, parts) -> None:
    model = fit(ScorecardModel(infos, ScorecardConfig(weights=weights)), parts)
    assert model.weights_.sum() == pytest.approx(1.0)
    assert (model.weights_ >= 0).all()
    if isinstance(weights, dict):
        got = dict(zip(model.dimensions_, model.weights_, strict=True))
        assert got["usage"] == pytest.approx(0.25)
        assert got["billing"] == pytest.approx(0.75)


def test_configured_weights_put_everything_on_usage(infos, parts, sample) -> None:
    model = fit(ScorecardModel(infos, ScorecardConfig(weights={"usage": 1.0})), parts)
    assert model.params()["weight_usage"] == 1.0
    assert all(v == 0.0 for k, v in model.params().items() if k != "weight_usage")
    # only usage features move the score
    _, phi = model.contributions(sample)
    usage = np.array([f.dimension == "usage" for f in model.features])
    assert np.abs(phi[:, ~usage]).max() == 0.0
    assert np.abs(phi[:, usage]).max() > 0.0


def test_scorecard_health_never_falls_when_a_feature_gets_healthier(fitted, parts,
                                                                    sample) -> None:
    model = fitted["scorecard"]
    moved = 0
    for info in model.features:
        grid = value_grid(parts.train[info.name], extra=1.0)
        raw = model.raw_score(with_values(sample, info.name, grid))
        steps = np.diff(raw.reshape(len(sample), len(grid)), axis=1) * info.direction
        assert (steps >= -1e-9).all(), f"{info.name}: health fell by {-steps.min():.4f}"
        moved += bool((steps > 0).any())
    assert moved > 0


def test_scorecard_uses_configured_bounds(infos, parts, sample) -> None:
    config = ScorecardConfig(bounds={"active_users_30d": (1000.0, 3000.0)},
                             weights={"usage": 1.0})
    model = fit(ScorecardModel(infos, config), parts)
    values = np.array([0.0, 500.0, 1000.0, 2000.0, 3000.0, 5000.0])
    raw = model.raw_score(with_values(sample.head(1), "active_users_30d", values))
    # below low: subscore 0; linear between the bounds; above high: subscore 1
    assert raw[0] == pytest.approx(raw[1]) == pytest.approx(raw[2])
    assert raw[3] - raw[2] == pytest.approx(raw[4] - raw[3])
    assert raw[4] > raw[2]
    assert raw[5] == pytest.approx(raw[4])


# ------------------------------------------------------------------------------- logistic


@pytest.mark.parametrize(("feature", "change"), [("events_30d", 250.0), ("plan", None)])
def test_logistic_change_in_one_feature_moves_only_its_contribution(
        feature: str, change, fitted, sample) -> None:
    model = fitted["logistic"]
    rows = sample.head(5)
    changed = rows.copy()
    if change is None:  # categorical: switch every row to another training level
        levels = model.levels_[feature]
        changed[feature] = [next(v for v in levels if v != str(old)) for old in rows[feature]]
    else:
        changed[feature] = rows[feature].fillna(0) + change
    _, before = model.contributions(rows)
    _, after = model.contributions(changed)
    column = model.feature_names.index(feature)
    delta = after - before
    assert np.abs(np.delete(delta, column, axis=1)).max() < 1e-12
    assert (np.abs(delta[:, column]) > 0).all()
    np.testing.assert_allclose(delta[:, column],
                               model.raw_score(changed) - model.raw_score(rows), atol=1e-9)


def test_logistic_credits_one_hot_columns_to_their_categorical_feature() -> None:
    rng = np.random.default_rng(0)
    n = 400
    x = pd.DataFrame({"tier": rng.choice(["score_high", "basic"], n),
                      "tier_score": rng.normal(size=n)})
    y = (rng.random(n) < 0.3 + 0.3 * (x["tier"] == "basic")).astype(int).to_numpy()
    infos = [FeatureInfo("tier", "commercial", 0, True),
             FeatureInfo("tier_score", "usage", 1, False)]
    model = LogisticModel(infos, LogisticConfig(c_grid=[1.0])).fit(x, y, x, y)
    rows = x.head(4)
    flipped = rows.assign(tier=rows["tier"].map({"basic": "score_high", "score_high": "basic"}))
    _, before = model.contributions(rows)
    _, after = model.contributions(flipped)
    np.testing.assert_allclose(after[:, 1], before[:, 1], atol=1e-12)  # tier_score unchanged


# ---------------------------------------------------------------------------- calibration


@pytest.fixture(scope="module")
def balanced(infos, parts) -> LogisticModel:
    """A class-weighted logistic model: good ranks, probabilities far too high."""
    config = LogisticConfig(class_weight="balanced", c_grid=[0.1])
    return fit(LogisticModel(infos, config), parts)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_on_validation_lowers_test_brier(method: str, balanced, parts) -> None:
    y_test = parts.y(parts.test)
    p_test = balanced.predict_proba(parts.test)
    assert p_test.mean() > 2 * y_test.mean()  # badly calibrated to start with
    calibrator = Calibrator(method).fit(balanced.predict_proba(parts.validation),
                                        parts.y(parts.validation))
    calibrated = calibrator.transform(p_test)
    assert ((calibrated >= 0) & (calibrated <= 1)).all()
    assert brier_score_loss(y_test, calibrated) < brier_score_loss(y_test, p_test)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "none"])
def test_calibrator_used_before_fit_is_a_model_error(method: str) -> None:
    with pytest.raises(ModelError, match=r"calibrator is used before fit\(\)"):
        Calibrator(method).transform(np.array([0.2, 0.4]))


def test_calibrator_rejects_an_unknown_method() -> None:
    with pytest.raises(ModelError, match="unknown calibration 'magic'; use isotonic/sigmoid/none"):
        Calibrator("magic").fit(np.array([0.1, 0.9]), np.array([0, 1]))


def test_no_calibration_is_the_identity_inside_the_bounds() -> None:
    p = np.array([0.2, 0.5, 0.8])
    calibrator = Calibrator("none").fit(p, np.array([0, 0, 1]))
    assert np.array_equal(calibrator.transform(p), p)
    # 3 rows support no rate beyond 1/(2*3) of 0 or 1
    assert np.allclose(calibrator.transform(np.array([0.0, 1.0])), [1 / 6, 5 / 6])


# ---------------------------------------------------------------------- training entry points


@pytest.fixture(scope="module")
def run(world):
    """scorecard + LightGBM on the default time split, no bootstrap."""
    config = TrainingConfig(models=["scorecard", "lightgbm"], bootstrap=0,
                            lightgbm=FAST_LIGHTGBM)
    return train_and_evaluate(world.frame, world.metas, config, 90, seed=0)


def test_train_and_evaluate_fits_every_configured_model(run) -> None:
    assert set(run.results) == {"scorecard", "lightgbm"}
    for name, result in run.results.items():
        assert isinstance(result.health_model, HealthModel)
        assert result.health_model.kind == name
        for metric in ("roc_auc", "pr_auc", "brier"):
            assert 0 <= result.test.overall[metric] <= 1, (name, metric)
        assert 0 <= result.validation_pr_auc <= 1
    assert run.split_kind == "time"
    # notes: the split, and that the registered models were refit
    assert run.notes[0].startswith("Split by time: ") and len(run.notes) == 2
    assert "refit on all" in run.notes[1]
    for result in run.results.values():
        assert result.refit and result.evaluated_model is not result.health_model
        assert set(result.health_model.feature_names) <= set(result.directions["feature"])


def test_best_model_is_chosen_by_validation_pr_auc(run) -> None:
    by_validation = max(run.results.values(), key=lambda r: r.validation_pr_auc)
    assert run.best is by_validation


def test_test_rows_hold_only_test_period_snapshots(run) -> None:
    split = run.split
    for result in run.results.values():
        rows = result.test_rows
        assert {"account_id", "snapshot_date", "y", "p"} <= set(rows.columns)
        assert len(rows) == run.sizes["test"]
        dates = pd.to_datetime(rows["snapshot_date"]).dt.date
        assert ((dates > split.test_start) & (dates <= split.test_end)).all()
        assert set(rows["y"].unique()) == {0, 1}
        assert rows["p"].between(0, 1).all()
    assert run.sizes["train"] > run.sizes["validation"] > 0


def test_health_model_artifact_matches_its_model(run, parts) -> None:
    for result in run.results.values():
        artifact = result.health_model
        assert artifact.feature_names == artifact.model.feature_names
        p = artifact.predict_proba(parts.test)
        health = artifact.health(parts.test)
        assert np.array_equal(health, np.round(100 * (1 - p), 1))
        assert ((health >= 0) & (health <= 100)).all()
    scorecard = run.results["scorecard"].health_model
    assert all(f.direction != "neutral" and not f.categorical for f in scorecard.features)


def test_backtest_reports_each_fold_and_model(world) -> None:
    config = TrainingConfig(models=["scorecard"], bootstrap=0,
                            backtest=BacktestConfig(folds=2, fold_days=91))
    folds, plan = backtest(world.frame, world.metas, config, 90, seed=0)
    assert plan.summary() == "2 of 2 backtest folds fit"
    assert folds["fold"].tolist() == [1, 2]
    assert (folds["model"] == "scorecard").all()
    assert folds["test_start"].is_monotonic_increasing
    assert (folds["test_rows"] > 0).all()
    assert folds["roc_auc"].between(0, 1).all()


def test_training_rows_of_one_class_are_a_parameter_error(world, parts) -> None:
    retained = parts.train[~parts.train["label_churn"].astype(bool)]
    with pytest.raises(ParameterError, match=r"'training rows'.*both classes.*0 positive"):
        fit_health_model("scorecard", retained, parts.validation, world.metas,
                         TrainingConfig(), 90, seed=0)


def test_a_frame_without_the_label_column_is_a_parameter_error(world) -> None:
    frame = world.frame.drop(columns=["label_churn"])
    with pytest.raises(ParameterError, match=r"'label column'.*'label_churn'"):
        train_and_evaluate(frame, world.metas, TrainingConfig(), 90, seed=0)


# ---------------------------------------------------------------------------- configuration

GAPPED_BANDS = [{"name": "Low", "low": 0, "high": 40}, {"name": "High", "low": 50, "high": 100}]
BAD_TRAINING = {
    "training.models[0]": ({"models": ["xgboost"]}, "'xgboost'"),
    "training.calibration": ({"calibration": "magic"}, "'magic'"),
    "training.lightgbm.num_leaves": ({"lightgbm": {"num_leaves": 1}}, "got 1"),
}


def config_problems(training: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"training": training}, "t.yaml")
    assert str(info.value).startswith("t.yaml: ")
    return info.value.problems


@pytest.mark.parametrize("key_path", list(BAD_TRAINING))
def test_a_bad_training_key_is_named_by_its_path(key_path: str) -> None:
    training, shown = BAD_TRAINING[key_path]
    problems = config_problems(training)
    assert len(problems) == 1
    assert problems[0].startswith(f"{key_path}: ")
    assert shown in problems[0]


def test_gapped_bands_are_rejected() -> None:
    problems = config_problems({"bands": GAPPED_BANDS})
    assert len(problems) == 1
    assert "bands must tile 0-100 without gaps or overlaps" in problems[0]
    assert "(0.0, 40.0), (50.0, 100.0)" in problems[0]


def test_gapped_bands_are_named_by_their_key_path() -> None:
    assert config_problems({"bands": GAPPED_BANDS})[0].startswith("training.bands: ")


def test_every_bad_training_key_is_listed_at_once() -> None:
    everything = {"bands": GAPPED_BANDS}
    for training, _ in BAD_TRAINING.values():
        everything |= training
    problems = config_problems(everything)
    for key_path in BAD_TRAINING:
        assert sum(p.startswith(f"{key_path}: ") for p in problems) == 1, problems


def test_bands_error_is_listed_alongside_other_errors() -> None:
    problems = config_problems({"bands": GAPPED_BANDS, "calibration": "magic"})
    assert any("bands must tile" in p for p in problems), problems
