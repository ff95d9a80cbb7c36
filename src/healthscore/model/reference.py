"""The drift reference frozen into the artifact: the binned distribution of every model input
and of the health score on the training rows.

Training builds it (:func:`build_reference`) and stores it in ``HealthModel.reference``;
serving's drift check (:mod:`healthscore.serving.drift`) compares the rows being scored with
it, so a drift check needs only the registered model, never the training data.

Bins (right-closed: a value equal to an edge falls in the lower bin):

- numeric: cut at the deciles of the training values, duplicate edges dropped; a feature with
  at most ten distinct values gets one bin per value instead (so a 0/1 flag keeps two bins).
  Below the first edge and above the last, bins are open-ended, so values training never
  reached are counted rather than dropped. A constant feature has the bins ``≤ c`` and ``> c``.
- categorical: one bin per training level plus ``(unseen)`` for levels training never saw.
- missing values (NaN, None) always have a bin of their own, ``(missing)``, last. A feature
  that is all missing in training has the bins ``any value`` and ``(missing)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from healthscore.errors import ModelError, ParameterError

if TYPE_CHECKING:
    from healthscore.model.artifact import HealthModel

NUMERIC, CATEGORICAL = "numeric", "categorical"
HEALTH = "health"  # the row of the health score in a drift report
MISSING, UNSEEN, ANY_VALUE = "(missing)", "(unseen)", "any value"
DECILES = 10
REFERENCE_ROWS = 200_000  # training rows sampled (deterministically) for the reference


@dataclass(frozen=True)
class FeatureReference:
    """The bins of one column and the share of training rows in each (missing last)."""

    name: str
    kind: str  # NUMERIC or CATEGORICAL
    edges: tuple[float, ...] = ()  # numeric: right-closed bin edges, ascending
    levels: tuple[str, ...] = ()  # categorical: training levels, sorted
    shares: tuple[float, ...] = ()  # one per bin (see ``labels``); sums to 1

    @property
    def labels(self) -> list[str]:
        """A readable name per bin, in bin order."""
        if self.kind == CATEGORICAL:
            return [*self.levels, UNSEEN, MISSING]
        if not self.edges:
            return [ANY_VALUE, MISSING]
        e = [f"{v:.4g}" for v in self.edges]
        middle = [f"({a}, {b}]" for a, b in zip(e, e[1:], strict=False)]
        return [f"≤ {e[0]}", *middle, f"> {e[-1]}", MISSING]

    def bin_index(self, values: pd.Series) -> np.ndarray:
        """The bin of every value."""
        if self.kind == CATEGORICAL:
            text = as_text(values)
            codes = pd.Index(list(self.levels), dtype=object).get_indexer(text)
            return np.where(text.isna().to_numpy(), len(self.levels) + 1,
                            np.where(codes < 0, len(self.levels), codes))
        x = as_float(values)
        index = np.searchsorted(np.asarray(self.edges, dtype=float), x, side="left")
        return np.where(np.isnan(x), len(self.edges) + 1, index)

    def shares_of(self, values: pd.Series) -> np.ndarray:
        """The share of ``values`` in each bin."""
        counts = np.bincount(self.bin_index(values), minlength=len(self.labels))
        return counts / max(len(values), 1)


@dataclass(frozen=True)
class DriftReference:
    """What drift compares against: the binned training distribution of every model input
    and of the health score, and how many training rows it was computed on."""

    features: tuple[FeatureReference, ...]
    health: FeatureReference
    rows: int

    @property
    def columns(self) -> tuple[FeatureReference, ...]:
        """Every binned column: the model inputs, then health."""
        return (*self.features, self.health)


def feature_reference(name: str, values: pd.Series, categorical: bool,
                      bins: int = DECILES) -> FeatureReference:
    """Bin one training column (quantile bins or training levels, plus missing) and record
    the share of rows in each bin."""
    if categorical:
        levels = tuple(sorted(as_text(values).dropna().unique().tolist()))
        empty = FeatureReference(name, CATEGORICAL, levels=levels)
    else:
        x = as_float(values)
        finite = x[np.isfinite(x)]
        edges = np.unique(finite)
        if len(edges) > bins:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
        empty = FeatureReference(name, NUMERIC, edges=tuple(float(v) for v in edges))
    return replace(empty, shares=tuple(float(s) for s in empty.shares_of(values)))


def build_reference(model: HealthModel, rows: pd.DataFrame, *, bins: int = DECILES,
                    max_rows: int = REFERENCE_ROWS, seed: int = 0) -> DriftReference:
    """The reference distribution of a fitted model: its inputs and health on the training
    rows (at most ``max_rows`` of them, sampled with ``seed``)."""
    if len(rows) == 0:
        raise ParameterError("rows", "at least one training row", "0 rows")
    check_inputs(model, rows)
    if len(rows) > max_rows:
        rows = rows.sample(n=max_rows, random_state=seed)
    features = tuple(feature_reference(m.name, rows[m.name], m.categorical, bins)
                     for m in model.features)
    health = feature_reference(HEALTH, pd.Series(model.health(rows)), False, bins)
    return DriftReference(features, health, len(rows))


def check_inputs(model: HealthModel, frame: pd.DataFrame) -> None:
    """Raise :class:`ModelError` when ``frame`` lacks any of the model's input columns."""
    missing = [n for n in model.feature_names if n not in frame.columns]
    if missing:
        raise ModelError(f"the feature frame lacks {len(missing)} model input(s): {missing}")


def as_float(values: pd.Series) -> np.ndarray:
    """Values as floats, anything non-numeric as NaN."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float,
                                                                      na_value=np.nan)


def as_text(values: pd.Series) -> pd.Series:
    """Values as text (object dtype), missing values kept missing."""
    return pd.Series(values).astype("string").astype(object)
