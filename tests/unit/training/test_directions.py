"""Learned and declared directions, earned constraints, the scorecard on learned directions,
robust logistic transforms, the penalty-at-edge flag, bounded probabilities, the budgeted
LightGBM search and the refit: all on small frames built here, with a known truth."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import pytest

from healthscore.model.artifact import FeatureMeta, health_from_probability
from healthscore.training.calibration import MIN_PROBABILITY, Calibrator
from healthscore.training.directions import find_directions, rank_association
from healthscore.training.models import (
    FeatureInfo,
    LightGBMModel,
    LogisticModel,
    ScorecardError,
    ScorecardModel,
    fit_bounded_logistic,
)
from healthscore.training.search import GRID, Trial, candidate_settings, choose
from healthscore.training.settings import (
    LightGBMConfig,
    LogisticConfig,
    ScorecardConfig,
    SearchConfig,
    SplitConfig,
    TrainingConfig,
)
from healthscore.training.train import account_folds, train_and_evaluate
from healthscore.training.transforms import RobustColumns

TINY_SEARCH = LightGBMConfig(num_threads=1, n_estimators=60, learning_rate=0.2,
                             min_child_samples=20,
                             search=SearchConfig(trials=3, sample_rows=1000))


def own_table(n_accounts: int = 600, months: int = 8, seed: int = 0) -> pd.DataFrame:
    """A bring-your-own table: a harmful count (errors), a helpful count (reports) and pure
    noise, monthly snapshots; churn follows errors up and reports down."""
    rng = np.random.default_rng(seed)
    rows = []
    for month in range(months):
        n = n_accounts
        helpful = rng.negative_binomial(2, 0.2, n).astype(float)  # skewed counts
        harmful = rng.negative_binomial(1, 0.5, n).astype(float)
        noise = rng.normal(0, 1, n)
        logit = -2.5 + 0.6 * harmful - 0.25 * np.sqrt(helpful)
        churned = rng.random(n) < 1 / (1 + np.exp(-logit))
        rows.append(pd.DataFrame({
            "account_id": [f"a{i}" for i in range(n)],
            "snapshot_date": pd.Timestamp("2024-01-01") + pd.DateOffset(months=month),
            "errors_shown": harmful, "reports_run": helpful, "noise": noise,
            "label_churn": churned, "label_observed": True,
        }))
    frame = pd.concat(rows, ignore_index=True)
    frame["snapshot_date"] = frame["snapshot_date"].dt.date
    return frame


def learned_metas(names: list[str], direction: str = "learned", source: str = "learned"
                  ) -> list[FeatureMeta]:
    """Usage features with the given direction."""
    return [FeatureMeta(n, "usage", direction, "", n, n + " {value}", False,
                        direction_source=source) for n in names]


NAMES = ["errors_shown", "reports_run", "noise"]


def cfg(**settings) -> TrainingConfig:
    """A training config with a monthly split that fits the 8-month table."""
    split = SplitConfig(test_days=31, validation_days=31, gap_days=0)
    return TrainingConfig(**({"split": split} | settings))


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return own_table()


def y_of(frame: pd.DataFrame) -> np.ndarray:
    return frame["label_churn"].astype(int).to_numpy()


# ----------------------------------------------------------------------------- directions


def test_rank_association_finds_the_sign_and_gives_noise_no_strength(table) -> None:
    strength, z = rank_association(table[NAMES].to_numpy(float), y_of(table))
    harmful, helpful, noise = strength
    assert harmful < -0.1 and z[0] < -5  # more errors: churn
    assert helpful > 0.05 and z[1] > 3  # more reports: stay
    assert abs(noise) < 0.05 and abs(z[2]) < 3


def test_rank_association_skips_missing_values() -> None:
    x = np.array([[1.0], [2.0], [np.nan], [3.0], [4.0]])
    y = np.array([1, 1, 0, 0, 0])
    strength, _ = rank_association(x, y)
    assert strength[0] == pytest.approx(1.0)  # every stayer above every churner


def test_a_contradicted_declared_direction_is_warned_and_not_constrained(table, caplog
                                                                         ) -> None:
    metas = learned_metas(NAMES)
    metas[0] = FeatureMeta("errors_shown", "usage", "higher_is_healthier", "", "e", "{value}",
                           False, direction_source="config")
    with caplog.at_level(logging.WARNING):
        findings = {f.feature: f for f in find_directions(metas, table, y_of(table))}
    errors = findings["errors_shown"]
    assert errors.contradicted and errors.monotone == 0 and errors.sign == -1
    assert "'errors_shown'" in caplog.text
    assert "higher is healthier (+)" in caplog.text and "lower is healthier (-)" in caplog.text
    # the LightGBM model built from it gets no constraint on that feature
    from healthscore.training.train import feature_infos

    model = LightGBMModel(feature_infos(metas, list(findings.values())), LightGBMConfig())
    assert model._params({})["monotone_constraints"] == [0, 0, 0]


def test_an_uncontradicted_declared_direction_earns_its_constraint(table) -> None:
    metas = learned_metas(NAMES)
    metas[1] = FeatureMeta("reports_run", "usage", "higher_is_healthier", "", "r", "{value}",
                           False)
    findings = {f.feature: f for f in find_directions(metas, table, y_of(table))}
    assert findings["reports_run"].monotone == 1 and not findings["reports_run"].contradicted
    assert findings["reports_run"].source == "registry"
    # learned directions are never constraints
    assert findings["errors_shown"].monotone == 0 and findings["errors_shown"].sign == -1
    assert findings["noise"].sign == 0
    off = {f.feature: f for f in find_directions(metas, table, y_of(table), monotone=False)}
    assert off["reports_run"].monotone == 0


# ----------------------------------------------------------------------------- scorecard


def test_the_scorecard_works_on_learned_directions_only(table) -> None:
    run = train_and_evaluate(table, learned_metas(NAMES),
                             cfg(models=["scorecard"], bootstrap=0, refit=False),
                             30, seed=0)
    model = run.results["scorecard"].health_model.model
    assert model.feature_names == ["errors_shown", "reports_run"]  # noise has no direction
    assert list(model.sign_) == [-1, 1]
    assert run.results["scorecard"].test.overall["roc_auc"] > 0.6


def test_a_scorecard_without_any_direction_is_a_clear_error() -> None:
    infos = [FeatureInfo("noise", "usage", 0, False), FeatureInfo("plan", "commercial", 0, True)]
    with pytest.raises(ScorecardError) as caught:
        ScorecardModel(infos, ScorecardConfig())
    assert caught.value.exit_code == 2
    assert "none of the 2 model inputs" in str(caught.value)
    assert "features.directions" in str(caught.value)


# ----------------------------------------------------------------------------- logistic


def test_robust_columns_log_skewed_counts_and_clip_extremes() -> None:
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(1, 0.05, 2000).astype(float)
    symmetric = rng.normal(0, 1, 2000)
    x = np.column_stack([counts, symmetric])
    robust = RobustColumns(clip_quantiles=(0.01, 0.99)).fit(x)
    assert list(robust.log1p_) == [True, False]
    out = robust.transform(np.array([[1e9, -100.0], [np.nan, 0.0]]))
    assert out[0, 0] == pytest.approx(robust.high_[0])  # clipped to the training range
    assert out[0, 1] == pytest.approx(robust.low_[1])
    assert np.isnan(out[1, 0])  # missing stays missing for the imputer


def test_the_imputers_column_median_is_sklearns_median() -> None:
    from sklearn.impute import SimpleImputer

    from healthscore.training.transforms import column_median

    rng = np.random.default_rng(4)
    x = rng.lognormal(0, 2, (1001, 6))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 2] = np.nan  # no observed value: 0, as keep_empty_features gives
    x[:500, 3] = np.nan  # an even count of observed values: the mean of the middle two
    settings = {"add_indicator": True, "keep_empty_features": True}
    sklearn_median = SimpleImputer(strategy="median", **settings).fit(x)
    ours = SimpleImputer(strategy=column_median, **settings).fit(x)
    np.testing.assert_array_equal(ours.statistics_, sklearn_median.statistics_)
    np.testing.assert_array_equal(ours.transform(x), sklearn_median.transform(x))


def test_with_labels_a_skewed_column_is_logged_only_where_churn_reads_it_on_the_log_scale(
) -> None:
    rng = np.random.default_rng(3)
    on_log = rng.negative_binomial(1, 0.05, 4000).astype(float)  # churn follows log(count)
    on_raw = rng.exponential(60, 4000)  # skewed too, but churn rises linearly with the days
    logit = -1.2 * (np.log1p(on_log) - 2.5) + 0.03 * (on_raw - 60)
    y = (rng.random(4000) < 1 / (1 + np.exp(-logit))).astype(int)
    x = np.column_stack([on_log, on_raw])
    assert list(RobustColumns().fit(x).log1p_) == [True, True]  # by skewness alone
    assert list(RobustColumns().fit(x, y).log1p_) == [True, False]


def test_a_penalty_on_the_edge_of_its_grid_is_flagged(table) -> None:
    infos = [FeatureInfo(n, "usage", 0, False) for n in NAMES]
    y = y_of(table)
    tiny = LogisticModel(infos, LogisticConfig(c_grid=[1e-6, 1e-5])).fit(table, y, table, y)
    assert tiny.penalty_at_edge_ and tiny.params()["penalty_at_edge"]
    single = LogisticModel(infos, LogisticConfig(c_grid=[0.1])).fit(table, y, table, y)
    assert not single.penalty_at_edge_
    # the two skewed counts are candidates (the noise is not); the labels keep the log scale
    # where churn reads it better
    chosen = RobustColumns().fit(table[NAMES].to_numpy(float), y).log1p_
    assert not chosen[2] and single.params()["log1p_columns"] == int(chosen.sum()) >= 1


def test_directed_logistic_coefficients_follow_each_features_direction(table) -> None:
    # a collinear copy of the helpful count that, given the count, looks harmful
    frame = table.assign(reports_twice=table["reports_run"] * 2
                         + np.random.default_rng(1).normal(0, 3, len(table)))
    y = y_of(frame)
    infos = [FeatureInfo("errors_shown", "usage", -1, False),
             FeatureInfo("reports_run", "usage", 1, False),
             FeatureInfo("reports_twice", "usage", 1, False)]
    directed = LogisticModel(infos, LogisticConfig(c_grid=[10.0])).fit(frame, y, frame, y)
    beta = directed.pipeline_.named_steps["model"].coef_[0][:3]  # churn log-odds per column
    assert beta[0] >= 0 and beta[1] <= 0 and beta[2] <= 0
    _, phi = directed.contributions(frame)
    for j, sign in enumerate([-1, 1, 1]):  # points never run against the direction
        values = frame[infos[j].name].to_numpy(float)
        assert np.all(np.sign(np.corrcoef(values, -phi[:, j])[0, 1]) in (sign, 0)) \
            or np.ptp(phi[:, j]) == 0


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs a second core for BLAS")
def test_the_logistic_fit_runs_on_one_blas_thread_whatever_the_caller_allows(monkeypatch
                                                                              ) -> None:
    """Its result must not depend on the machine's core count or load (see
    fit_bounded_logistic): the optimiser sees one BLAS thread even when two are allowed."""
    import scipy.optimize
    from threadpoolctl import threadpool_info, threadpool_limits

    seen: list[int] = []
    real = scipy.optimize.minimize

    def spy(*args, **kwargs):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.optimize, "minimize", spy)
    rng = np.random.default_rng(0)
    design = rng.standard_normal((2000, 8))
    y = (rng.random(2000) < 1 / (1 + np.exp(3 - design[:, 0]))).astype(int)
    free = np.full(8, np.inf)
    with threadpool_limits(limits=2, user_api="blas"):
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {2}
        w = fit_bounded_logistic(design, y, 1.0, -free, free)
    assert seen and set(seen) == {1}
    assert w[0] > 0  # and it still fits: the first column raises churn


# ----------------------------------------------------------------------------- probabilities


def test_calibrated_probabilities_are_never_exactly_0_or_1() -> None:
    p_raw = np.r_[np.zeros(200), np.ones(200)]
    y = np.r_[np.zeros(200, int), np.ones(200, int)]  # perfectly separated
    for method in ("isotonic", "sigmoid", "none"):
        p = Calibrator(method).fit(p_raw, y).transform(np.array([0.0, 1e-9, 1.0]))
        assert (p > 0).all() and (p < 1).all(), method
        assert (p >= MIN_PROBABILITY).all() and (p <= 1 - MIN_PROBABILITY).all()
        health = health_from_probability(p)
        assert (health > 0).all() and (health < 100).all(), method


def test_trained_models_never_give_probability_0_or_1(table) -> None:
    separable = table.copy()
    separable["label_churn"] = separable["errors_shown"] > 2  # a perfect rule
    config = cfg(bootstrap=0, lightgbm=TINY_SEARCH, refit_folds=2,
                            logistic=LogisticConfig(c_grid=[1.0]))
    run = train_and_evaluate(separable, learned_metas(NAMES), config, 30, seed=0)
    for name, result in run.results.items():
        p = result.health_model.predict_proba(separable)
        assert (p > 0).all() and (p < 1).all(), name
        assert (result.test_rows["p"] > 0).all() and (result.test_rows["p"] < 1).all()


# ----------------------------------------------------------------------------- search


def test_search_candidates_start_with_the_configured_settings_and_follow_the_seed() -> None:
    configured = {"num_leaves": 15, "max_depth": 4, "min_child_samples": 50,
                  "learning_rate": 0.1, "colsample_bytree": 0.8}
    first = candidate_settings(configured, 5, seed=3)
    assert first[0] == configured and len(first) == 5
    assert len({tuple(sorted(c.items())) for c in first}) == 5
    assert all(c[k] in GRID[k] for c in first[1:] for k in GRID)
    assert candidate_settings(configured, 5, seed=3) == first
    assert candidate_settings(configured, 5, seed=4) != first


def test_the_cost_cap_rules_out_expensive_settings() -> None:
    cheap = Trial(1, {"num_leaves": 7}, 50, 0.30, 0.05, True)
    better_but_costly = Trial(2, {"num_leaves": 63}, 400, 0.20, 9.0, False)
    assert choose([cheap, better_but_costly]) is cheap
    assert choose([better_but_costly]) is better_but_costly  # nothing within: the cheapest


def test_same_seed_same_search_model_and_scores(table) -> None:
    config = cfg(models=["lightgbm", "logistic"], bootstrap=0, lightgbm=TINY_SEARCH,
                            refit_folds=2)

    def once(seed: int):
        run = train_and_evaluate(table, learned_metas(NAMES), config, 30, seed=seed)
        lgbm = run.results["lightgbm"]
        return (lgbm.search, lgbm.health_model.model.booster_.model_to_string(),
                {n: r.health_model.predict_proba(table) for n, r in run.results.items()})

    search_a, model_a, scores_a = once(0)
    search_b, model_b, scores_b = once(0)
    assert len(search_a) == 3 and search_a["chosen"].sum() == 1
    pd.testing.assert_frame_equal(search_a, search_b)
    assert model_a == model_b
    for name in scores_a:
        assert np.array_equal(scores_a[name], scores_b[name]), name
    search_c, _, _ = once(1)
    assert not search_c.drop(columns=["chosen"]).equals(search_a.drop(columns=["chosen"]))


# ----------------------------------------------------------------------------- own table, refit


def test_own_table_fits_all_three_models_with_the_right_learned_directions(table) -> None:
    config = cfg(bootstrap=0, lightgbm=TINY_SEARCH, refit_folds=2)
    run = train_and_evaluate(table, learned_metas(NAMES), config, 30, seed=0)
    assert set(run.results) == {"scorecard", "logistic", "lightgbm"}
    directions = run.results["lightgbm"].directions.set_index("feature")
    assert directions.loc["errors_shown", "direction"] == "lower_is_healthier"
    assert directions.loc["reports_run", "direction"] == "higher_is_healthier"
    # noise: within noise of 0 (|z| < 2 on these 2 400 training rows: |D| < ~0.08)
    assert directions.loc["noise", "direction"] == "none"
    assert abs(directions.loc["noise", "z"]) < 2
    assert abs(directions.loc["noise", "strength"]) < abs(
        directions.loc["errors_shown", "strength"]) / 3
    assert set(directions["source"]) == {"learned"}
    # monotone: directed (the default): learned directions beyond noise are constraints too
    assert directions.loc["errors_shown", "monotone"] == -1
    assert directions.loc["reports_run", "monotone"] == 1
    assert directions.loc["noise", "monotone"] == 0
    for name, result in run.results.items():
        assert result.test.overall["roc_auc"] > 0.6, name
        assert result.refit and result.health_model.info["refit_rows"] == len(table)
        assert "shap_ms_per_row" in run.results["lightgbm"].params


def test_account_folds_keep_every_account_in_one_fold(table) -> None:
    fold = account_folds(table, 3, seed=0)
    per_account = pd.Series(fold).groupby(table["account_id"].to_numpy()).nunique()
    assert (per_account == 1).all()
    assert set(fold) == {0, 1, 2}
    assert np.array_equal(fold, account_folds(table, 3, seed=0))


def test_no_refit_registers_the_evaluation_fit(table) -> None:
    config = cfg(models=["logistic"], bootstrap=0, refit=False)
    run = train_and_evaluate(table, learned_metas(NAMES), config, 30, seed=0)
    result = run.results["logistic"]
    assert not result.refit and result.health_model is result.evaluated_model
    assert not any("refit" in note for note in run.notes)
