"""Checks of the metric inputs: labels, probabilities, revenue, fractions and bootstrap
settings, each failing with one :class:`~healthscore.errors.ParameterError` that says what was
expected and what was found."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError


def check_inputs(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and probabilities; return them as ``int`` and ``float`` 1-D arrays.

    Raises :class:`ParameterError` when the arrays differ in length, are empty or not 1-D,
    when ``p`` holds NaN or values outside [0, 1], or when ``y`` holds values other than 0/1.
    """
    y_arr, p_arr = np.asarray(y), np.asarray(p)
    if y_arr.ndim != 1:
        raise ParameterError("y", "a 1-D array of labels", f"an array of shape {y_arr.shape}")
    if p_arr.ndim != 1:
        raise ParameterError("p", "a 1-D array of probabilities",
                             f"an array of shape {p_arr.shape}")
    if len(y_arr) != len(p_arr):
        raise ParameterError("p", f"an array of the same length as y ({len(y_arr)} rows)",
                             f"{len(p_arr)} rows")
    if len(y_arr) == 0:
        raise ParameterError("y", "a non-empty array of labels", "an empty array")
    try:
        p_float = p_arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise ParameterError("p", "numeric probabilities", f"dtype {p_arr.dtype}") from exc
    n_nan = int(np.isnan(p_float).sum())
    if n_nan:
        raise ParameterError("p", "free of NaN", f"{n_nan} NaN value(s)")
    if p_float.min() < 0 or p_float.max() > 1:
        outside = int(((p_float < 0) | (p_float > 1)).sum())
        raise ParameterError("p", "probabilities in [0, 1]",
                             f"{outside} value(s) outside, from {p_float.min():g} "
                             f"to {p_float.max():g}")
    y_int = _binary_labels(y_arr)
    if y_int is None:
        shown = [str(v) for v in pd.unique(pd.Series(y_arr.ravel(), dtype=object))[:5]]
        raise ParameterError("y", "binary labels (0 = retained, 1 = churned)",
                             f"values {shown}")
    return y_int, p_float


def _binary_labels(y: np.ndarray) -> np.ndarray | None:
    """``y`` as 0/1 ints, or None when it holds anything else (NaN, 2, "yes", ...)."""
    if y.dtype.kind not in "biufO":
        return None
    try:
        values = y.astype(float)
    except (TypeError, ValueError):
        return None
    if not np.isin(values, (0.0, 1.0)).all():
        return None
    return values.astype(int)


def check_arr(arr: np.ndarray, n: int) -> np.ndarray:
    """``arr`` as floats: one finite, non-negative annual revenue per row of ``n``."""
    values = np.asarray(arr, dtype=float)
    if values.ndim != 1 or len(values) != n:
        raise ParameterError("arr", f"a 1-D array with one value per row ({n} rows)",
                             f"shape {values.shape}")
    bad = int((~np.isfinite(values) | (values < 0)).sum())
    if bad:
        raise ParameterError("arr", "finite, non-negative annual revenue per row",
                             f"{bad} NaN, infinite or negative value(s)")
    return values


def check_fraction(name: str, value: float, low_open: bool = True) -> None:
    """:class:`ParameterError` unless ``value`` is in (0, 1] (``low_open``) or [0, 1]."""
    ok = (0 < value <= 1) if low_open else (0 <= value <= 1)
    if not ok:
        raise ParameterError(name, "a number in (0, 1]" if low_open else "a number in [0, 1]",
                             value)


def check_n_boot(n_boot: int, alpha: float) -> None:
    """:class:`ParameterError` unless ``n_boot`` is an int >= 0 and ``alpha`` in (0, 1)."""
    if not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ParameterError("n_boot", "an int >= 0", n_boot)
    if not 0 < alpha < 1:
        raise ParameterError("alpha", "a number in (0, 1)", alpha)


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, with 0/0 (and x/0) defined as 0.0."""
    return float(numerator / denominator) if denominator else 0.0
