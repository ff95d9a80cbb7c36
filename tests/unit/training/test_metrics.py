"""Validation metrics: hand-computed golden values, sklearn agreement, bootstrap behaviour."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
)
from sklearn.metrics import log_loss as sklearn_log_loss

from healthscore.errors import ParameterError
from healthscore.model.bands import DEFAULT_BANDS, Band, assign_band
from healthscore.training.metrics import (
    arr_at_risk_capture,
    band_table,
    bootstrap_intervals,
    check_inputs,
    classification_at_threshold,
    curves,
    evaluate,
    expected_calibration_error,
    paired_bootstrap_difference,
    pr_auc,
    roc_auc,
    top_k_recall_lift,
)

MLFLOW_NAME = re.compile(r"^[\w\-\. /]+$")

# Ten accounts, already sorted by p descending; health = 100 (1 - p).
#   p:      .95 .80 .70 .55 .45 .30 .20 .15 .05 .00
#   health:   5  20  30  45  55  70  80  85  95 100
#   y:        1   1   0   1   0   0   1   0   0   0
Y10 = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
P10 = np.array([0.95, 0.80, 0.70, 0.55, 0.45, 0.30, 0.20, 0.15, 0.05, 0.00])


@pytest.fixture
def random_scores() -> tuple[np.ndarray, np.ndarray]:
    """400 rows; p informative but noisy."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.25 * y + 0.75 * rng.random(400), 0, 1)
    return y, p


# ------------------------------------------------------------------------------- calibration


def test_ece_ten_bins_by_hand() -> None:
    # One row per bin except bin 0 (p .05 and .00). Per bin: (size/10) * |mean y - mean p|
    # bin9 .1*.05=.005  bin8 .1*.20=.02  bin7 .1*.70=.07  bin5 .1*.45=.045  bin4 .1*.45=.045
    # bin3 .1*.30=.03   bin2 .1*.80=.08  bin1 .1*.15=.015 bin0 .2*|0 - .025|=.005
    # total = .315
    assert expected_calibration_error(Y10, P10) == pytest.approx(0.315)


def test_ece_two_bins_by_hand() -> None:
    # [0, .5): p .45 .30 .20 .15 .05 .00 (sum 1.15), y sum 1 -> 6/10 * |1/6 - 1.15/6| = .015
    # [.5, 1]: p .95 .80 .70 .55 (sum 3.0), y sum 3 -> 4/10 * |.75 - .75| = 0
    assert expected_calibration_error(Y10, P10, n_bins=2) == pytest.approx(0.015)


def test_ece_puts_p_one_in_last_bin_and_zero_for_perfect_calibration() -> None:
    # p = 1 with y = 1 and p = 0 with y = 0: both bins exact
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


# ------------------------------------------------------------------------ threshold metrics


def test_classification_at_threshold_by_hand() -> None:
    # flagged (health < 50): rows 0-3 with y 1 1 0 1 -> tp 3, fp 1
    # not flagged: y 0 0 1 0 0 0 -> fn 1, tn 5
    result = classification_at_threshold(Y10, P10, health_threshold=50)
    assert result == pytest.approx({
        "precision": 3 / 4,            # tp / (tp + fp)
        "recall": 3 / 4,               # tp / (tp + fn)
        "true_negative_rate": 5 / 6,   # tn / (tn + fp)
        "accuracy": 8 / 10,            # (tp + tn) / n
        "f1": 6 / 8,                   # 2tp / (2tp + fp + fn)
        "flagged_share": 4 / 10,
    })


def test_classification_nothing_flagged_defines_zero_over_zero_as_zero() -> None:
    # threshold 0: no health is < 0 -> tp = fp = 0; precision 0/0 := 0
    result = classification_at_threshold(Y10, P10, health_threshold=0)
    assert result == pytest.approx({"precision": 0.0, "recall": 0.0, "true_negative_rate": 1.0,
                                    "accuracy": 0.6, "f1": 0.0, "flagged_share": 0.0})


def test_health_exactly_at_threshold_is_not_flagged() -> None:
    # p .5 -> health 50, not < 50; p .5004 -> health 49.96, served as 50.0 -> not flagged;
    # p .5006 -> 49.94 -> 49.9 -> flagged
    result = classification_at_threshold(np.array([1, 1, 1]), np.array([0.5, 0.5004, 0.5006]))
    assert result["recall"] == pytest.approx(1 / 3)


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(ParameterError, match="health_threshold"):
        classification_at_threshold(Y10, P10, health_threshold=120)


# ------------------------------------------------------------------------------------ top k


def test_top_k_recall_and_lift_by_hand() -> None:
    # 4 churners in 10 rows: overall rate .4
    # top ceil(.1*10)=1: y 1        -> recall 1/4, lift (1/1)/.4 = 2.5
    # top ceil(.15*10)=2: y 1 1     -> recall 2/4, lift (2/2)/.4 = 2.5
    # top ceil(.5*10)=5: y 1 1 0 1 0 -> recall 3/4, lift (3/5)/.4 = 1.5
    result = top_k_recall_lift(Y10, P10, fractions=(0.10, 0.15, 0.5))
    assert result == pytest.approx({
        "recall_top_10pct": 0.25, "lift_top_10pct": 2.5,
        "recall_top_15pct": 0.50, "lift_top_15pct": 2.5,
        "recall_top_50pct": 0.75, "lift_top_50pct": 1.5,
    })


def test_top_k_ties_keep_original_order() -> None:
    # all p equal: the top 25% (1 row) is the first row, which did not churn
    result = top_k_recall_lift(np.array([0, 1, 0, 0]), np.full(4, 0.5), fractions=(0.25,))
    assert result["recall_top_25pct"] == 0.0


def test_top_k_count_is_not_inflated_by_float_error() -> None:
    # 0.1 * 30 == 3.0000000000000004; the top is 3 rows, so the churner at rank 4 is missed
    y = np.zeros(30, dtype=int)
    y[3] = 1
    result = top_k_recall_lift(y, np.linspace(1, 0, 30), fractions=(0.1,))
    assert result["recall_top_10pct"] == 0.0


def test_top_k_default_keys() -> None:
    assert set(top_k_recall_lift(Y10, P10)) == {
        f"{kind}_top_{pct}pct" for kind in ("recall", "lift") for pct in (5, 10, 20)}


# -------------------------------------------------------------------------------------- ARR


def test_arr_at_risk_capture_by_hand() -> None:
    y = np.array([1, 1, 0, 1, 0, 1])
    p = np.array([0.9, 0.2, 0.5, 0.1, 0.6, 0.3])
    arr = np.array([10, 100, 50, 500, 10, 20])
    # p * arr = 9 20 25 50 6 6 -> ranking rows 3, 2, 1, 0, 4, 5
    # churned ARR total = 10 + 100 + 500 + 20 = 630; churners = 4
    # top 2 (rows 3, 2): churned ARR 500, churners 1
    # top 3 (rows 3, 2, 1): churned ARR 600, churners 2
    # top 10 > 6 rows: everything
    result = arr_at_risk_capture(y, p, arr, top_n=(2, 3, 10))
    assert result == pytest.approx({
        "arr_recall_top_2": 500 / 630, "recall_top_2_by_arr_at_risk": 1 / 4,
        "arr_recall_top_3": 600 / 630, "recall_top_3_by_arr_at_risk": 2 / 4,
        "arr_recall_top_10": 1.0, "recall_top_10_by_arr_at_risk": 1.0,
    })


def test_arr_must_be_finite_and_non_negative() -> None:
    with pytest.raises(ParameterError, match="'arr'.*non-negative"):
        arr_at_risk_capture(Y10, P10, np.r_[np.full(9, 1.0), -5.0])


# ------------------------------------------------------------------------------------ bands


def test_band_table_by_hand_with_edges_and_empty_band() -> None:
    p = np.array([0.75, 0.6, 0.5, 0.25, 0.1, 0.0])
    # health     25   40   50   75   90  100
    y = np.array([1, 1, 0, 1, 0, 0])
    arr = np.array([100, 200, 300, 400, 500, 600])
    # Critical [0, 25): nobody          -> 0 accounts, churn rate NaN
    # At risk [25, 50): health 25, 40   -> 2 accounts, 2 churners, rate 1, ARR 300
    # Moderate [50, 75): health 50      -> 1 account, 0 churners, rate 0, ARR 300
    # Healthy [75, 100]: 75, 90, 100    -> 3 accounts, 1 churner, rate 1/3, ARR 1500
    table = band_table(y, p, arr)
    expected = pd.DataFrame({
        "band": ["Critical", "At risk", "Moderate", "Healthy"],
        "health_range": ["0–24", "25–49", "50–74", "75–100"],
        "accounts": [0, 2, 1, 3],
        "churners": [0, 2, 0, 1],
        "churn_rate": [math.nan, 1.0, 0.0, 1 / 3],
        "arr": [0.0, 300.0, 300.0, 1500.0],
        "share_of_accounts": [0.0, 2 / 6, 1 / 6, 3 / 6],
    })
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_band_table_without_arr_has_no_arr_column() -> None:
    table = band_table(Y10, P10)
    assert "arr" not in table.columns
    # health 5 20 | 30 45 | 55 70 | 80 85 95 100
    assert table["accounts"].tolist() == [2, 2, 2, 4]
    assert table["churners"].tolist() == [2, 1, 0, 1]


def test_assign_band_edges_and_served_rounding() -> None:
    health = np.array([0, 24.9, 25, 49.99, 50, 75, 100])
    assert assign_band(health).tolist() == [
        "Critical", "Critical", "At risk", "At risk", "Moderate", "Healthy", "Healthy"]
    # p .7504 -> health 24.96, served (one decimal) as 25.0 -> "At risk"
    assert band_table(np.array([0]), np.array([0.7504]))["accounts"].tolist() == [0, 1, 0, 0]


def test_top_band_ending_at_exactly_100_includes_100() -> None:
    bands = [Band("Low", 0, 60), Band("High", 60, 100)]
    assert assign_band(np.array([59.9, 60, 100]), bands).tolist() == ["Low", "High", "High"]


def test_bands_with_a_gap_are_refused() -> None:
    with pytest.raises(ParameterError, match="'Low' ends at 50 but 'High' starts at 60"):
        assign_band(np.array([10.0]), [Band("Low", 0, 50), Band("High", 60, 100)])


def test_health_outside_the_bands_is_refused() -> None:
    with pytest.raises(ParameterError, match="1 value"):
        assign_band(np.array([10.0, 101.0]), DEFAULT_BANDS)


# ---------------------------------------------------------------------- ranking vs sklearn


def test_ranking_and_probability_metrics_agree_with_sklearn(random_scores) -> None:
    y, p = random_scores
    overall = evaluate(y, p, n_boot=0).overall
    assert overall["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert overall["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert overall["log_loss"] == pytest.approx(sklearn_log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))
    assert overall["brier"] == pytest.approx(brier_score_loss(y, p))
    assert overall["n_rows"] == 400 and overall["n_churners"] == y.sum()


def test_ranking_metrics_are_nan_with_one_class() -> None:
    assert math.isnan(roc_auc(np.zeros(5), np.linspace(0, 1, 5)))
    assert math.isnan(pr_auc(np.ones(5), np.linspace(0, 1, 5)))


# --------------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_deterministic_by_seed_and_contains_estimate(random_scores) -> None:
    y, p = random_scores
    metrics = {"roc_auc": roc_auc, "pr_auc": pr_auc}
    first = bootstrap_intervals(y, p, metrics, n_boot=100, seed=3)
    again = bootstrap_intervals(y, p, metrics, n_boot=100, seed=3)
    other = bootstrap_intervals(y, p, metrics, n_boot=100, seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["low"].equals(other["low"])
    assert first.columns.tolist() == ["metric", "estimate", "low", "high"]
    assert (first["low"] <= first["estimate"]).all()
    assert (first["estimate"] <= first["high"]).all()
    assert (first["low"] < first["high"]).all()


@pytest.mark.parametrize("decimals", [None, 3, 1], ids=["distinct", "ties", "many-ties"])
def test_resample_curves_give_sklearns_numbers_exactly(decimals: int | None) -> None:
    # the bootstrap computes ROC-AUC and PR-AUC of a resample from per-row counts over one
    # sort of the rows; each value must be the very float sklearn gives on the resample
    from healthscore.training.metrics.bootstrap import RankedRows

    rng = np.random.default_rng(decimals or 0)
    checked = 0
    for n in rng.integers(3, 2000, 40):
        y = (rng.random(n) < rng.uniform(0.02, 0.5)).astype(int)
        p = rng.random(n) if decimals is None else np.round(rng.random(n), decimals)
        rows = rng.integers(0, n, n)
        if y[rows].min() == y[rows].max():
            continue
        ranked = RankedRows(y, p)
        fps, tps = ranked.curve(np.bincount(rows, minlength=n))
        assert ranked.roc_auc(fps, tps) == roc_auc_score(y[rows], p[rows])
        assert ranked.average_precision(fps, tps) == average_precision_score(y[rows], p[rows])
        checked += 1
    assert checked > 30


def test_bootstrap_intervals_equal_those_of_sklearn_on_every_resample(random_scores) -> None:
    y, p = random_scores
    fast = bootstrap_intervals(y, p, {"roc_auc": roc_auc, "pr_auc": pr_auc}, n_boot=60, seed=5)
    plain = bootstrap_intervals(y, p, {"roc_auc": lambda a, b: roc_auc_score(a, b),
                                       "pr_auc": lambda a, b: average_precision_score(a, b)},
                                n_boot=60, seed=5)
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)


def test_bootstrap_skips_single_class_resamples() -> None:
    # one churner in 20 rows: ~36% of resamples miss it and must be skipped, not crash
    y = np.zeros(20, dtype=int)
    y[0] = 1
    table = bootstrap_intervals(y, np.linspace(1, 0, 20), {"roc_auc": roc_auc}, n_boot=50)
    assert table.loc[0, "low"] == table.loc[0, "high"] == 1.0


def test_bootstrap_with_no_resamples_leaves_interval_nan(random_scores) -> None:
    y, p = random_scores
    table = bootstrap_intervals(y, p, {"roc_auc": roc_auc}, n_boot=0)
    assert table.loc[0, "estimate"] == pytest.approx(roc_auc_score(y, p))
    assert table[["low", "high"]].isna().all().all()


def test_paired_bootstrap_model_against_itself(random_scores) -> None:
    y, p = random_scores
    result = paired_bootstrap_difference(y, p, p, roc_auc, n_boot=50)
    assert result == {"estimate": 0.0, "low": 0.0, "high": 0.0,
                      "verdict": "no significant difference"}


def test_paired_bootstrap_clearly_better_and_worse() -> None:
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 300)
    aligned = np.clip(0.8 * y + 0.2 * rng.random(300), 0, 1)
    random = rng.random(300)
    better = paired_bootstrap_difference(y, random, aligned, roc_auc, n_boot=100)
    assert better["verdict"] == "better" and better["low"] > 0
    worse = paired_bootstrap_difference(y, aligned, random, roc_auc, n_boot=100)
    assert worse["verdict"] == "worse" and worse["high"] < 0
    assert worse["estimate"] == pytest.approx(-better["estimate"])


# ---------------------------------------------------------------------------------- evaluate


@pytest.fixture
def evaluation(random_scores):
    y, p = random_scores
    segment = np.array(["SMB", "Mid-Market", "Enterprise & Gov"] * 133 + ["SMB"])
    arr = np.arange(400, dtype=float) * 100
    # one extra segment with a single class: its roc_auc is NaN
    y = np.r_[y, 0, 0]
    p = np.r_[p, 0.2, 0.4]
    segment = np.concatenate([segment, ["Partner", "Partner"]])
    arr = np.r_[arr, 10.0, 10.0]
    return evaluate(y, p, arr=arr, segment=segment, n_boot=30, seed=1)


def test_evaluate_overall_keys(evaluation) -> None:
    keys = set(evaluation.overall)
    assert {"roc_auc", "pr_auc", "log_loss", "brier", "ece", "n_rows", "n_churners",
            "churn_rate", "precision", "recall", "true_negative_rate", "accuracy", "f1",
            "flagged_share", "recall_top_10pct", "lift_top_10pct", "arr_recall_top_50",
            "recall_top_100_by_arr_at_risk"} <= keys


def test_evaluate_without_arr_has_no_arr_keys(random_scores) -> None:
    y, p = random_scores
    result = evaluate(y, p, n_boot=0)
    assert not any("arr" in key for key in result.overall)
    assert result.by_segment.empty


def test_evaluate_by_segment(evaluation) -> None:
    table = evaluation.by_segment.set_index("segment")
    assert table.index.tolist() == ["Enterprise & Gov", "Mid-Market", "Partner", "SMB"]
    assert table["n_rows"].tolist() == [133, 133, 2, 134]
    assert math.isnan(table.loc["Partner", "roc_auc"])
    assert math.isnan(table.loc["Partner", "pr_auc"])
    assert table.loc["Partner", "accuracy"] == 1.0  # health 80 and 60: neither flagged
    assert evaluation.intervals["metric"].tolist() == ["roc_auc", "pr_auc", "recall"]


def test_flat_metrics_are_valid_mlflow_names(evaluation) -> None:
    flat = evaluation.flat_metrics("test")
    assert all(MLFLOW_NAME.match(name) for name in flat)
    assert all(math.isfinite(value) for value in flat.values())
    for name in ("test_roc_auc", "test_seg_mid_market_roc_auc",
                 "test_seg_enterprise_gov_pr_auc", "test_seg_partner_brier",
                 "test_roc_auc_ci_low", "test_recall_ci_high",
                 "test_band_at_risk_churn_rate", "test_band_healthy_churn_rate"):
        assert name in flat, name
    assert "test_seg_partner_roc_auc" not in flat  # NaN dropped


def test_flat_metrics_refuses_an_invalid_prefix(evaluation) -> None:
    with pytest.raises(ParameterError, match="'prefix'"):
        evaluation.flat_metrics("test:v1")


# ------------------------------------------------------------------------------------ curves


def test_curves_data(random_scores) -> None:
    y, p = random_scores
    result = curves(y, p)
    roc = result["roc"]
    assert roc.columns.tolist() == ["fpr", "tpr"]
    assert (roc.iloc[0].tolist(), roc.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])
    assert result["pr"].columns.tolist() == ["recall", "precision"]
    calibration = result["calibration"]
    assert calibration.columns.tolist() == ["bin", "mean_predicted", "observed_rate", "count"]
    assert len(calibration) == 10 and calibration["count"].sum() == 400


# ------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], r"'p' parameter must be an array of the same length as y \(3"),
        ([], [], r"'y' parameter must be a non-empty array"),
        ([0, 1], [0.1, math.nan], r"'p' parameter must be free of NaN\. Got '1 NaN"),
        ([0, 1], [0.1, 1.2], r"'p' parameter must be probabilities in \[0, 1\]"),
        ([0, 2], [0.1, 0.2], r"'y' parameter must be binary labels .* \['0', '2'\]"),
        (["no", "yes"], [0.1, 0.2], r"'y' parameter must be binary labels"),
        ([0, math.nan], [0.1, 0.2], r"'y' parameter must be binary labels"),
    ],
    ids=["lengths", "empty", "nan-p", "p-range", "y-not-binary", "y-strings", "y-nan"],
)
def test_bad_inputs_raise_parameter_error(y, p, message) -> None:
    with pytest.raises(ParameterError, match=message):
        check_inputs(np.asarray(y), np.asarray(p))
    with pytest.raises(ParameterError, match=message):
        evaluate(np.asarray(y), np.asarray(p), n_boot=0)


def test_check_inputs_returns_int_labels_and_float_probabilities() -> None:
    y, p = check_inputs(np.array([True, False]), np.array([1, 0]))
    assert y.dtype.kind == "i" and p.dtype.kind == "f"


def test_evaluate_refuses_mismatched_segment() -> None:
    with pytest.raises(ParameterError, match="'segment'"):
        evaluate(Y10, P10, segment=np.array(["a"] * 3), n_boot=0)
