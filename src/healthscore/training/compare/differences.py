"""Every contender scored on the same holdout rows: metrics side by side, each run minus the
reference on the same paired-bootstrap resamples with a verdict per metric, the accounts on
which the runs disagree most (with each run's drivers), and what the comparison run logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from healthscore import tracking
from healthscore.errors import ModelError
from healthscore.model.artifact import health_from_probability
from healthscore.model.bands import Band
from healthscore.model.explain import explain
from healthscore.progress import Progress
from healthscore.training.compare.compatibility import (
    Contender,
    check_compatible,
    honest_contender,
    newest,
)
from healthscore.training.metrics import (
    Evaluation,
    Metric,
    evaluate,
    metric_slug,
    paired_bootstrap_difference,
    pr_auc,
    recall_at_threshold,
    roc_auc,
    unique_slugs,
)
from healthscore.training.record import ROW_KEYS

KIND_COMPARISON = "comparison"
TAG_COMPARED = "healthscore.compared_runs"
TAG_REFERENCE = "healthscore.reference_run"
TAG_HOLDOUT = "healthscore.holdout_run"
TOP_DISAGREEMENTS = 10
DRIVERS_SHOWN = 3
# (metric key, label, format, lower is better); ``{t}`` is the at-risk health threshold
SIDE_BY_SIDE = (
    ("roc_auc", "ROC-AUC", "{:.3f}", False),
    ("pr_auc", "PR-AUC", "{:.3f}", False),
    ("brier", "Brier score", "{:.4f}", True),
    ("ece", "Calibration error (ECE)", "{:.4f}", True),
    ("precision", "Precision at health < {t:g}", "{:.1%}", False),
    ("recall", "Recall at health < {t:g}", "{:.1%}", False),
    ("lift_top_10pct", "Lift in the riskiest 10 %", "{:.2f}x", False),
)
LABELS = {key: label for key, label, _, _ in SIDE_BY_SIDE}


@dataclass
class Comparison:
    """Every contender scored on the same holdout rows; the first one is the reference."""

    contenders: list[Contender]
    holdout: Contender
    rows: pd.DataFrame  # the holdout feature rows
    y: np.ndarray
    probabilities: dict[str, np.ndarray]
    evaluations: dict[str, Evaluation]
    differences: pd.DataFrame  # run, metric, reference_value, value, estimate, low, high, verdict
    disagreements: pd.DataFrame
    health_threshold: float
    n_boot: int

    @property
    def names(self) -> list[str]:
        """Contender names in order; the first is the reference."""
        return [c.name for c in self.contenders]

    @property
    def reference(self) -> str:
        """Name of the run every other run is compared with."""
        return self.contenders[0].name

    def difference(self, name: str, metric: str) -> dict[str, Any]:
        """The difference row of run ``name`` vs the reference on ``metric``."""
        rows = self.differences[(self.differences["run"] == name)
                                & (self.differences["metric"] == metric)]
        if rows.empty:
            raise KeyError(f"no difference of {name!r} on {metric!r}")
        return rows.iloc[0].to_dict()


def difference_metrics(health_threshold: float) -> dict[str, Metric]:
    """The metrics that get paired-bootstrap intervals: ROC-AUC, PR-AUC, recall at threshold."""
    return {"roc_auc": roc_auc, "pr_auc": pr_auc,
            "recall": recall_at_threshold(health_threshold)}


def paired_differences(y: np.ndarray, probabilities: Mapping[str, np.ndarray], reference: str,
                       health_threshold: float, n_boot: int, seed: int,
                       progress: Progress | None = None) -> pd.DataFrame:
    """Each run minus the reference on the same bootstrap resamples, with a verdict per metric.

    One row per (run, metric) for every run but the reference: reference_value, value,
    estimate (value - reference_value), the percentile interval low/high and the verdict
    ("better" / "worse" / "no significant difference") of the run against the reference.
    """
    metrics = difference_metrics(health_threshold)
    others = [name for name in probabilities if name != reference]
    total, records = len(others) * len(metrics), []
    base = probabilities[reference]
    for name in others:
        for key, metric in metrics.items():
            result = paired_bootstrap_difference(y, base, probabilities[name], metric,
                                                 n_boot=n_boot, seed=seed)
            records.append({"run": name, "metric": key, "reference_value": metric(y, base),
                            "value": metric(y, probabilities[name]), **result})
            if progress:
                progress("compare: bootstrap", len(records), total)
    columns = ["run", "metric", "reference_value", "value", "estimate", "low", "high", "verdict"]
    return pd.DataFrame(records, columns=columns)


def compare_runs(contenders: Sequence[Contender], rows: pd.DataFrame, *,
                 health_threshold: float, bands: Sequence[Band], n_boot: int, seed: int,
                 progress: Progress | None = None,
                 segment_bands: Mapping[str, Sequence[Band]] | None = None) -> Comparison:
    """Score every contender on the holdout rows of the newest one and compare them.

    The first contender is the reference. Every run is banded alike, by ``bands`` and, for a
    row of a segment that ``segment_bands`` lists (by its ``segment`` column), by that
    segment's edges, as the model that owns them bands it. Raises
    :class:`IncompatibleRunsError` when the runs cannot be compared fairly (see
    :func:`compatibility_problems`).
    A contender whose registered model was refit on rows overlapping the holdout (the newest
    run always is, when refit) is scored by its evaluation fit (:func:`honest_contender`).
    """
    if len(contenders) < 2:
        raise ModelError("a comparison needs at least two runs")
    holdout = newest(contenders)
    check_compatible(contenders, holdout, rows)
    rows = rows.reset_index(drop=True)
    y = rows[holdout.model.label].astype(int).to_numpy()
    arr = rows["arr"].fillna(0).to_numpy(float) if "arr" in rows else None
    contenders = [honest_contender(c, rows) for c in contenders]
    holdout = newest(contenders)
    probabilities = {c.name: c.model.predict_proba(rows) for c in contenders}
    segments = (rows["segment"].astype(str).to_numpy()
                if segment_bands and "segment" in rows else None)
    evaluations = {name: evaluate(y, p, arr=arr, health_threshold=health_threshold,
                                  bands=bands, n_boot=0, seed=seed, segment=segments,
                                  segment_bands=segment_bands if segments is not None else None)
                   for name, p in probabilities.items()}
    differences = paired_differences(y, probabilities, contenders[0].name, health_threshold,
                                     n_boot, seed, progress)
    return Comparison(list(contenders), holdout, rows, y, probabilities, evaluations,
                      differences, disagreements(contenders, rows, probabilities, y),
                      health_threshold, n_boot)


def disagreements(contenders: Sequence[Contender], rows: pd.DataFrame,
                  probabilities: Mapping[str, np.ndarray], y: np.ndarray,
                  top: int = TOP_DISAGREEMENTS) -> pd.DataFrame:
    """The accounts whose health differs most between the runs, one row per account.

    ``spread`` is the largest minus the smallest health any run gives the row (points); each
    account appears once, at its snapshot of largest spread. Per run: its health and its top
    risk drivers (``-12.3 sentence; ...``). Rows on which every run agrees are left out.
    """
    health = np.column_stack([health_from_probability(probabilities[c.name])
                              for c in contenders])
    spread = health.max(axis=1) - health.min(axis=1)
    keys = [k for k in ROW_KEYS if k in rows.columns]
    picked = pd.DataFrame({"spread": spread}, index=rows.index)
    picked = picked[picked["spread"] > 0].join(rows[keys])
    picked = picked.sort_values("spread", ascending=False, kind="stable")
    if "account_id" in keys:
        picked = picked.drop_duplicates("account_id")
    picked = picked.head(top)
    out = picked[keys].copy()
    out["churned"] = np.where(y[rows.index.get_indexer(picked.index)] == 1, "yes", "no")
    out["spread"] = picked["spread"].round(1)
    features = rows.loc[picked.index]
    for c, column in zip(contenders, health.T, strict=True):
        out[f"{c.name}: health"] = column[rows.index.get_indexer(picked.index)]
        out[f"{c.name}: drivers"] = (_driver_text(explain(c.model, features))
                                     if len(features) else [])
    return out.reset_index(drop=True)


def _driver_text(explained: pd.DataFrame) -> list[str]:
    texts = []
    for _, row in explained.iterrows():
        parts = [f"{row[f'risk_{k}_points']:+.1f} {row[f'risk_{k}_reason']}"
                 for k in range(1, DRIVERS_SHOWN + 1)
                 if f"risk_{k}_feature" in row and row[f"risk_{k}_feature"]]
        texts.append("; ".join(parts) or "no risk drivers")
    return texts


def side_by_side(comparison: Comparison) -> pd.DataFrame:
    """Headline metrics and band churn rates, one row per metric and a column per run.

    Columns: key, metric (a readable label), template (its format) and one float column per
    run, named as the run.
    """
    t = comparison.health_threshold
    records = []
    for key, label, template, _ in SIDE_BY_SIDE:
        records.append({"key": key, "metric": label.format(t=t), "template": template}
                       | {name: ev.overall.get(key) for name, ev in
                          comparison.evaluations.items()})
    first = comparison.evaluations[comparison.reference].bands
    for i, band in first.iterrows():
        records.append({"key": f"band_{metric_slug(band['band'])}_churn_rate",
                        "metric": f"Churn rate, {band['band']} ({band['health_range']})",
                        "template": "{:.1%}"}
                       | {name: ev.bands.iloc[i]["churn_rate"] for name, ev in
                          comparison.evaluations.items()})
    return pd.DataFrame(records)



def comparison_tags(comparison: Comparison) -> dict[str, str]:
    """Tags of the comparison run: its kind and the run ids compared."""
    return {tracking.TAG_KIND: KIND_COMPARISON,
            TAG_COMPARED: ",".join(c.run_id for c in comparison.contenders),
            TAG_REFERENCE: comparison.contenders[0].run_id,
            TAG_HOLDOUT: comparison.holdout.run_id}


def comparison_params(comparison: Comparison) -> dict[str, object]:
    """Params of the comparison run."""
    params: dict[str, object] = {
        "runs": ",".join(comparison.names), "reference": comparison.reference,
        "holdout_run": comparison.holdout.run_id,
        "holdout_period": comparison.holdout.params.get("split_test", "random"),
        "holdout_rows": len(comparison.y), "bootstrap": comparison.n_boot,
        "at_risk_threshold": comparison.health_threshold,
    }
    for slug, c in zip(unique_slugs(comparison.names), comparison.contenders, strict=True):
        params[f"run_{slug}"] = c.run_id
    return params


def comparison_metrics(comparison: Comparison) -> dict[str, float]:
    """Every run's metrics as ``{run}_{metric}`` and each difference as ``diff_{run}_{metric}``
    (with ``_low`` / ``_high``); run names slugged."""
    slugs = dict(zip(comparison.names, unique_slugs(comparison.names), strict=True))
    table = side_by_side(comparison)
    out: dict[str, float] = {}
    for row in table.to_dict("records"):
        out |= {f"{slugs[name]}_{row['key']}": row[name] for name in comparison.names}
    for r in comparison.differences.itertuples():
        stem = f"diff_{slugs[r.run]}_{r.metric}"
        out |= {stem: r.estimate, f"{stem}_low": r.low, f"{stem}_high": r.high}
    return {k: float(v) for k, v in out.items() if v is not None and pd.notna(v)}
