"""The whole held-out evaluation of one model: overall, per segment, per band, with intervals,
and its metrics under MLflow-valid names."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.model.bands import DEFAULT_BANDS, Band
from healthscore.training.metrics.bootstrap import bootstrap_intervals
from healthscore.training.metrics.checks import check_arr, check_inputs
from healthscore.training.metrics.point import (
    Metric,
    band_table,
    pr_auc,
    recall_at_threshold,
    roc_auc,
    scalar_metrics,
)

MLFLOW_NAME = re.compile(r"^[\w\-\. /]+$")


def metric_slug(name: object) -> str:
    """Lower-case name with every run of other characters than letters/digits as ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_") or "blank"


def unique_slugs(names: Sequence[object]) -> list[str]:
    """:func:`metric_slug` of each name; a repeated slug gets ``_2``, ``_3``, ... in order."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        slug = metric_slug(name)
        seen[slug] = seen.get(slug, 0) + 1
        out.append(slug if seen[slug] == 1 else f"{slug}_{seen[slug]}")
    return out


@dataclass
class Evaluation:
    """Held-out evaluation of one model: overall, per segment, per band, with intervals."""

    overall: dict[str, float]
    by_segment: pd.DataFrame
    bands: pd.DataFrame
    intervals: pd.DataFrame

    def flat_metrics(self, prefix: str) -> dict[str, float]:
        """Every finite metric under an MLflow-valid name starting with ``prefix``.

        Names: ``{prefix}_{metric}``; ``{prefix}_seg_{segment}_{metric}``;
        ``{prefix}_{metric}_ci_low`` / ``_ci_high``; ``{prefix}_band_{band}_churn_rate``.
        Segment and band names are slugged (lower case, other characters as ``_``; two segments
        with the same slug get ``_2``, ... in sorted order); NaNs are dropped.
        """
        if not MLFLOW_NAME.match(prefix):
            raise ParameterError("prefix", "letters, digits, '_', '-', '.', ' ' or '/'", prefix)
        out: dict[str, float] = {f"{prefix}_{k}": v for k, v in self.overall.items()}
        metric_columns = [c for c in self.by_segment.columns if c != "segment"]
        segments = self.by_segment.to_dict("records")
        slugs = unique_slugs([row["segment"] for row in segments])
        for slug, row in zip(slugs, segments, strict=True):
            out |= {f"{prefix}_seg_{slug}_{c}": row[c] for c in metric_columns}
        for row in self.intervals.to_dict("records"):
            out[f"{prefix}_{row['metric']}_ci_low"] = row["low"]
            out[f"{prefix}_{row['metric']}_ci_high"] = row["high"]
        for row in self.bands.to_dict("records"):
            out[f"{prefix}_band_{metric_slug(row['band'])}_churn_rate"] = row["churn_rate"]
        return {k: float(v) for k, v in out.items() if v is not None and not math.isnan(v)}


def segment_table(y: np.ndarray, p: np.ndarray, segment: np.ndarray | None,
                  arr: np.ndarray | None = None, health_threshold: float = 50.0,
                  ) -> pd.DataFrame:
    """:func:`scalar_metrics` per segment, one row each, segments in sorted order."""
    if segment is None:
        return pd.DataFrame(columns=["segment"])
    labels = np.asarray(segment).astype(str)
    if labels.ndim != 1 or len(labels) != len(y):
        raise ParameterError("segment", f"a 1-D array with one label per row ({len(y)} rows)",
                             f"shape {labels.shape}")
    records = []
    for name in sorted(set(labels.tolist())):
        rows = labels == name
        records.append({"segment": name, **scalar_metrics(
            y[rows], p[rows], None if arr is None else arr[rows], health_threshold)})
    return pd.DataFrame(records)


def evaluate(y: np.ndarray, p: np.ndarray, *, arr: np.ndarray | None = None,
             segment: np.ndarray | None = None, health_threshold: float = 50.0,
             bands: Sequence[Band] = DEFAULT_BANDS, n_boot: int = 200,
             seed: int = 0, segment_bands: Mapping[str, Sequence[Band]] | None = None
             ) -> Evaluation:
    """Evaluate churn probabilities against outcomes: overall, by segment, by band (a listed
    segment's rows by ``segment_bands``), intervals.

    Intervals are percentile bootstraps (``n_boot`` resamples, ``seed``) of roc_auc, pr_auc and
    recall at ``health_threshold``; ``n_boot=0`` leaves their low/high NaN.
    """
    y_arr, p_arr = check_inputs(y, p)
    arr_values = None if arr is None else check_arr(arr, len(y_arr))
    interval_metrics: dict[str, Metric] = {
        "roc_auc": roc_auc, "pr_auc": pr_auc, "recall": recall_at_threshold(health_threshold),
    }
    return Evaluation(
        overall=scalar_metrics(y_arr, p_arr, arr_values, health_threshold),
        by_segment=segment_table(y_arr, p_arr, segment, arr_values, health_threshold),
        bands=band_table(y_arr, p_arr, arr_values, bands, segment, segment_bands),
        intervals=bootstrap_intervals(y_arr, p_arr, interval_metrics, n_boot, seed),
    )
