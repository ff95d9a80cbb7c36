"""Exploring a built feature matrix: churn rates per snapshot and segment, and how each feature
is distributed for accounts that churned vs stayed.

Pure pandas on :attr:`FeatureMatrix.frame <healthscore.features.engine.FeatureMatrix.frame>`
(one row per account and snapshot, with ``label_churn`` and ``label_observed``); plot-ready
tables, no plotting. Only rows whose label horizon is fully observed count as churned or
retained.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.features.engine import rank_auc
from healthscore.features.registry import FeatureSpec, Kind

RETAINED, CHURNED, MISSING = "retained", "churned", "missing"


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError("frame", f"a feature matrix with columns {list(columns)}",
                             f"missing {missing}")


def labelled_rows(frame: pd.DataFrame, label: str = "label_churn") -> pd.DataFrame:
    """Rows whose label horizon is fully observed (all rows when there is no
    ``label_observed`` column)."""
    _require(frame, [label])
    if "label_observed" not in frame.columns:
        return frame
    return frame[frame["label_observed"].astype(bool)]


def churn_rates(frame: pd.DataFrame, by: str | None = None, label: str = "label_churn",
                per_snapshot: bool = True) -> pd.DataFrame:
    """Accounts, labelled accounts, churners and churn rate per snapshot (and per ``by``).

    Parameters
    ----------
    frame
        A feature matrix: ``snapshot_date``, ``label``, ``label_observed`` and ``by``.
    by
        A context column to split by, e.g. ``"segment"`` or ``"lifecycle_stage"``.
    per_snapshot
        False pools every snapshot: one row per ``by`` value (one row overall without ``by``).

    Returns
    -------
    Columns ``snapshot_date`` (when ``per_snapshot``), ``by`` (when given), ``accounts`` (every
    row), ``labelled`` (rows with an observed label), ``churners`` and ``churn_rate``
    (churners / labelled; NaN where nothing is labelled yet, e.g. the latest snapshots).
    """
    keys = (["snapshot_date"] if per_snapshot else []) + ([by] if by else [])
    _require(frame, [*keys, label])
    observed = (frame["label_observed"].astype(bool) if "label_observed" in frame.columns
                else pd.Series(True, index=frame.index))
    parts = pd.DataFrame({"observed": observed.astype(int),
                          "churned": (frame[label].astype(float).fillna(0) * observed)})
    for key in keys:
        parts[key] = frame[key].astype(object) if key == by else frame[key]
    if keys:
        grouped = parts.groupby(keys, sort=True, dropna=False)
        table = grouped.agg(accounts=("observed", "size"), labelled=("observed", "sum"),
                            churners=("churned", "sum")).reset_index()
    else:
        table = pd.DataFrame({"accounts": [len(parts)], "labelled": [parts["observed"].sum()],
                              "churners": [parts["churned"].sum()]})
    table["churners"] = table["churners"].astype(int)
    labelled = table["labelled"].astype(float)
    table["churn_rate"] = (table["churners"] / labelled).where(labelled > 0)
    return table


def _numeric_bins(values: pd.Series, bins: int) -> tuple[np.ndarray, list[str]]:
    """Equal-width edges between the 1st and 99th percentile (outliers land in the end bins)."""
    low, high = np.nanpercentile(values.to_numpy(float), [1, 99])
    if not high > low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    labels = [f"{a:.3g} – {b:.3g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return edges, labels


def outcome_histogram(frame: pd.DataFrame, feature: str, label: str = "label_churn",
                      bins: int = 20) -> pd.DataFrame:
    """Share of churned and of retained accounts in each bin of ``feature`` (labelled rows).

    Numeric features get ``bins`` equal-width bins between their 1st and 99th percentile
    (values beyond go to the end bins); text features one bin per value. Missing values get
    a ``missing`` bin. Each column sums to 1, so the two outcomes compare despite churners
    being few. Returns a frame indexed by bin label with columns ``retained`` and ``churned``
    (plot it with ``.plot.bar()``).
    """
    if not isinstance(bins, int) or bins < 1:
        raise ParameterError("bins", "an int >= 1", bins)
    rows = labelled_rows(frame, label)
    _require(rows, [feature])
    values = rows[feature]
    outcome = np.where(rows[label].astype(bool), CHURNED, RETAINED)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numeric = values.astype(float)
        if numeric.notna().any():
            edges, labels = _numeric_bins(numeric.dropna(), bins)
            index = np.clip(np.searchsorted(edges, numeric.to_numpy(), side="right") - 1,
                            0, bins - 1)
            binned = pd.Series(np.asarray(labels, dtype=object)[index], index=rows.index)
        else:
            labels, binned = [], pd.Series(np.nan, index=rows.index, dtype=object)
        binned = binned.where(numeric.notna(), MISSING)
    else:
        binned = values.astype(object).where(values.notna(), MISSING).astype(str)
        labels = sorted(set(binned) - {MISSING})
    order = labels + ([MISSING] if (binned == MISSING).any() else [])
    counts = pd.crosstab(binned, outcome).reindex(index=order, columns=[RETAINED, CHURNED],
                                                  fill_value=0)
    shares = counts / counts.sum().replace(0, np.nan)
    shares.index.name, shares.columns.name = feature, None
    return shares.fillna(0.0)


def outcome_summary(frame: pd.DataFrame, specs: Sequence[FeatureSpec],
                    label: str = "label_churn") -> pd.DataFrame:
    """One row per numeric feature: dimension, direction, median and mean for retained and
    churned accounts, missing share, and the single-feature ROC-AUC (direction-free, as in the
    leakage audit: the max of AUC and 1 - AUC, missing values at the column median), strongest
    separation first."""
    rows = labelled_rows(frame, label)
    numeric = [s for s in specs if s.kind is Kind.NUMERIC and s.name in rows.columns]
    names = [s.name for s in numeric]
    churned = rows[label].astype(bool).to_numpy()
    values = rows[names].astype(float)
    filled = values.fillna(values.median()).fillna(0.0).to_numpy()
    auc = rank_auc(filled, churned.astype(int)) if len(rows) else np.full(len(names), np.nan)
    table = pd.DataFrame({
        "feature": names,
        "dimension": [s.dimension.value for s in numeric],
        "direction": [s.direction.value for s in numeric],
        "retained_median": values[~churned].median().to_numpy(),
        "churned_median": values[churned].median().to_numpy(),
        "retained_mean": values[~churned].mean().to_numpy(),
        "churned_mean": values[churned].mean().to_numpy(),
        "missing_share": values.isna().mean().to_numpy(),
        "auc": np.fmax(auc, 1 - auc),
    })
    return table.sort_values("auc", ascending=False, ignore_index=True)
