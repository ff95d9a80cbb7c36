"""The TreeSHAP replay equals LightGBM's pred_contrib bit for bit, or steps aside.

Boosters are trained on small frames built here: NaN, zero, tiny and negative values, a
pandas categorical (with NaN and a level the booster never saw), the three missing-value
modes, trees of more than 16 internal nodes (patterns numbered by sorting), single-leaf trees,
and trees too large for a 64-bit pattern (the caller falls back to pred_contrib).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from healthscore.training.models import treeshap

ROWS = 3_000


def _frame(seed: int, rows: int = ROWS) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=rows)
    a[rng.random(rows) < 0.15] = np.nan
    b = rng.exponential(size=rows)
    b[rng.random(rows) < 0.2] = 0.0
    b[rng.random(rows) < 0.02] = 1e-40  # a zero to LightGBM
    c = rng.integers(-3, 4, size=rows).astype(float)
    plan = pd.Categorical(rng.choice(["basic", "pro", "team", "enterprise", "trial"], rows),
                          categories=["basic", "enterprise", "pro", "team", "trial"])
    plan[rng.random(rows) < 0.1] = np.nan
    d = rng.normal(size=rows)
    logit = (np.nan_to_num(a) - 0.8 * b + 0.3 * c + (plan == "trial") * 1.5
             - (plan == "enterprise") * 1.0 + 0.5 * d * np.nan_to_num(a))
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"a": a, "b": b, "c": c, "plan": plan, "d": d}), y


def _booster(**params) -> lgb.Booster:
    x, y = _frame(1)
    settings = {"objective": "binary", "verbosity": -1, "seed": 3, "deterministic": True,
                "num_threads": 1, "min_data_per_group": 5, "cat_smooth": 1.0,
                "num_leaves": 15, "max_depth": 4, **params}  # the project's default shape
    rounds = settings.pop("rounds", 40)
    return lgb.train(settings, lgb.Dataset(x, y), num_boost_round=rounds)


def _scored_rows() -> pd.DataFrame:
    """Rows to explain: fresh draws plus the edges (all NaN, a level unseen in training)."""
    x, _ = _frame(2, 1_000)
    edges = pd.DataFrame({"a": [np.nan, 0.0, -1e-36], "b": [np.nan, 1e-36, -0.0],
                          "c": [np.nan, 0.0, -3.0], "d": [np.nan, 0.0, 5.0]})
    edges["plan"] = pd.Categorical([np.nan, "trial", np.nan], categories=x["plan"].cat.categories)
    rows = pd.concat([x, edges[x.columns]], ignore_index=True)
    rows["plan"] = rows["plan"].cat.add_categories(["legacy"])  # a code the trees never saw
    rows.loc[5, "plan"] = "legacy"
    return rows


def _assert_bit_identical(booster: lgb.Booster, rows: pd.DataFrame, iterations: int = 0,
                          threads: int = 1) -> None:
    forest = treeshap.forest_of(booster, iterations)
    assert forest is not None
    x = treeshap.dense_rows(rows, booster.pandas_categorical)
    got = treeshap.contributions(forest, x, threads)
    want = booster.predict(rows, pred_contrib=True, num_iteration=iterations or None)
    assert got.shape == want.shape
    assert np.array_equal(got.view(np.int64), want.view(np.int64)), (
        f"{(got != want).sum()} values differ; largest gap {np.abs(got - want).max():g}")


@pytest.mark.parametrize("params", [
    {},  # NaN as missing (the default), categorical splits
    {"zero_as_missing": True},  # zero (and NaN) as missing
    {"use_missing": False},  # no missing values: NaN is zero
    {"num_leaves": 40, "max_depth": -1, "min_child_samples": 5},  # > 16 nodes: sorted
    {"num_leaves": 63, "max_depth": -1, "min_child_samples": 3, "rounds": 10},  # the limit
    {"monotone_constraints": [1, -1, 0, 0, 0], "monotone_constraints_method": "advanced"},
    {"linear_tree": False, "max_cat_to_onehot": 8},  # categorical one-vs-rest splits
], ids=["nan-missing", "zero-missing", "no-missing", "deep", "63-leaves", "monotone",
        "one-hot-categorical"])
def test_replay_equals_pred_contrib_bit_for_bit(params) -> None:
    booster = _booster(**params)
    _assert_bit_identical(booster, _scored_rows())


def test_replay_equals_pred_contrib_for_the_first_iterations_and_on_two_threads() -> None:
    booster = _booster()
    _assert_bit_identical(booster, _scored_rows(), iterations=17, threads=2)


def test_replay_equals_pred_contrib_across_chunks(monkeypatch) -> None:
    monkeypatch.setattr(treeshap, "CELLS_PER_CHUNK", 40 * 97)  # 97 rows per chunk
    _assert_bit_identical(_booster(), _scored_rows())


def test_single_leaf_trees_add_their_value() -> None:
    booster = _booster(min_child_samples=ROWS, rounds=3)  # no split is allowed
    forest = treeshap.forest_of(booster, 0)
    assert forest is not None and len(forest.feature) == 0
    _assert_bit_identical(booster, _scored_rows())


def test_a_tree_too_large_for_a_pattern_is_left_to_pred_contrib() -> None:
    booster = _booster(num_leaves=80, max_depth=-1, min_child_samples=2, rounds=3)
    assert max(t["num_leaves"] for t in booster.dump_model()["tree_info"]) > 64
    assert treeshap.forest_of(booster, 0) is None


def test_several_trees_per_iteration_are_left_to_pred_contrib() -> None:
    x, y = _frame(1)
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbosity": -1},
                        lgb.Dataset(x, y + (x["c"] > 1).to_numpy()), num_boost_round=3)
    assert treeshap.forest_of(booster, 0) is None
