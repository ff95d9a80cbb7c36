"""The batch explanation picks drivers and reads their values without sorting every row or
converting the whole feature frame: the results must be those of the sort and the full
conversion they replace, ties, signed zeros, NaN and extension dtypes included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.model.explain import Drivers, picked_values, ranked_ends


def _matrices(seed: int):
    rng = np.random.default_rng(seed)
    for trial in range(200):
        n, m = int(rng.integers(1, 40)), int(rng.integers(1, 12))
        kind = trial % 4
        if kind == 0:
            yield rng.normal(size=(n, m))
        elif kind == 1:  # many exact ties
            yield rng.integers(-2, 3, size=(n, m)).astype(float)
        elif kind == 2:  # rounded values and signed zeros
            a = np.round(rng.normal(size=(n, m)), 1)
            a[rng.random((n, m)) < 0.2] = -0.0
            yield a
        else:  # not finite: the sort itself decides
            a = rng.integers(-1, 2, size=(n, m)).astype(float)
            a[rng.random((n, m)) < 0.1] = np.nan
            a[rng.random((n, m)) < 0.1] = np.inf
            a[rng.random((n, m)) < 0.1] = -np.inf
            yield a


@pytest.mark.parametrize("seed", [0, 1])
def test_ranked_ends_equal_the_stable_sort(seed: int) -> None:
    for points in _matrices(seed):
        order = np.argsort(points, axis=1, kind="stable")
        m = points.shape[1]
        for low, high in [(3, 2), (0, 0), (1, m), (m + 2, 1)]:
            smallest, largest = ranked_ends(points, low, high)
            np.testing.assert_array_equal(smallest, order[:, :low])
            np.testing.assert_array_equal(largest, order[:, ::-1][:, :high])


def test_ranked_ends_break_ties_like_the_sort() -> None:
    points = np.array([[0.0, -1.0, -1.0, 2.0, 2.0, -0.0]])
    smallest, largest = ranked_ends(points, 3, 3)
    assert smallest.tolist() == [[1, 2, 0]]  # equal minima: lower column first
    assert largest.tolist() == [[4, 3, 5]]  # equal maxima: higher column first, then 0 vs -0


def _mixed_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    gaps = rng.random(n) < 0.3
    return pd.DataFrame({
        "f": np.where(gaps, np.nan, rng.normal(size=n)),
        "i": rng.integers(0, 9, size=n),
        "nullable": pd.array(np.where(gaps, None, rng.integers(0, 5, size=n)), dtype="Int64"),
        "s": pd.array(np.where(gaps, None, rng.choice(["a", "b"], size=n)),
                      dtype="string[pyarrow]"),
        "o": np.where(gaps, None, rng.choice(["x", "y"], size=n)).astype(object),
        "c": pd.Categorical(rng.choice(["p", "q"], size=n)),
        "b": rng.random(n) < 0.5,
        "d": pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 30, n), "D"),
    })


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == object
    assert [(type(x), repr(x)) for x in a] == [(type(x), repr(x)) for x in b]


def test_picked_values_equal_the_whole_frame_conversion() -> None:
    frame = _mixed_frame()
    names = list(frame.columns)
    whole = frame[names].to_numpy(dtype=object)
    rng = np.random.default_rng(4)
    for _ in range(20):
        idx = rng.integers(0, len(names), size=len(frame))
        _same(picked_values(frame, names, idx), whole[np.arange(len(frame)), idx])


def test_drivers_values_and_an_added_feature() -> None:
    frame = _mixed_frame()
    model_names = ["f", "i", "nullable", "s", "c"]
    drivers = Drivers(model_names, {}, np.zeros((len(frame), len(model_names))), frame)
    whole = frame[model_names].to_numpy(dtype=object)
    for j in range(len(model_names)):
        _same(drivers.values[:, j], whole[:, j])
    drivers.add_points("o", None, np.ones(len(frame)))  # a hard stop's feature
    _same(drivers.values[:, -1], frame["o"].to_numpy(object))
    assert drivers.points[:, -1].tolist() == [1.0] * len(frame)
