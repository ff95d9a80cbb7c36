"""Validation metrics of a churn model: ranking, calibration, thresholds, bands and intervals.

Every function takes plain arrays: ``y`` (1 = churned within the horizon, 0 = retained) and
``p`` (calibrated churn probability in [0, 1]); optionally ``arr`` (annual revenue per row) and
``segment`` (a label per row). Health is computed exactly as serving computes it
(:func:`healthscore.model.artifact.health_from_probability`: ``100 (1 - p)`` rounded to one
decimal), so the at-risk flag and the health bands count the accounts a user would see in each
band. Nothing here plots or talks to MLflow; :mod:`healthscore.training.plots` and
:mod:`healthscore.tracking` do.

Five parts: :mod:`.checks` (the inputs), :mod:`.point` (metrics of one set of rows),
:mod:`.calibration` (bins, ECE, curves), :mod:`.bootstrap` (intervals and paired differences)
and :mod:`.evaluation` (the whole held-out evaluation). Import from here.
"""

from healthscore.training.metrics.bootstrap import (
    bootstrap_index_blocks,
    bootstrap_intervals,
    paired_bootstrap_difference,
)
from healthscore.training.metrics.calibration import (
    CALIBRATION_BINS,
    calibration_bin_index,
    curves,
    expected_calibration_error,
)
from healthscore.training.metrics.checks import check_inputs
from healthscore.training.metrics.evaluation import (
    MLFLOW_NAME,
    Evaluation,
    evaluate,
    metric_slug,
    segment_table,
    unique_slugs,
)
from healthscore.training.metrics.point import (
    LOG_LOSS_EPS,
    Metric,
    arr_at_risk_capture,
    at_risk_flags,
    band_table,
    brier_score,
    classification_at_threshold,
    has_both_classes,
    log_loss,
    pr_auc,
    rank_descending,
    recall_at_threshold,
    roc_auc,
    scalar_metrics,
    top_k_recall_lift,
)

__all__ = [
    "CALIBRATION_BINS", "LOG_LOSS_EPS", "MLFLOW_NAME", "Evaluation", "Metric",
    "arr_at_risk_capture", "at_risk_flags", "band_table", "bootstrap_index_blocks",
    "bootstrap_intervals", "brier_score", "calibration_bin_index", "check_inputs",
    "classification_at_threshold", "curves", "evaluate", "expected_calibration_error",
    "has_both_classes", "log_loss", "metric_slug", "paired_bootstrap_difference", "pr_auc",
    "rank_descending", "recall_at_threshold", "roc_auc", "scalar_metrics", "segment_table",
    "top_k_recall_lift", "unique_slugs",
]
