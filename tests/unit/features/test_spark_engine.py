"""The Spark engine is proven by equality: the same worlds, the same matrix, column for column.

On a local Spark session (``local[2]``), the feature matrix built with ``features.engine:
spark`` equals DuckDB's for every registered feature, context column and label, on the
hand-checked tiny worlds (with and without subscriptions) and on a 2,000-account synthetic
world; and the point-in-time property holds on Spark too, with fewer examples. Slow tier
(``make test-slow``); skipped without pyspark (``pip install healthscore[spark]``) or Java.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spark_support import require_spark
from test_point_in_time import CONFIGS, as_of, mutate_future, mutate_past, random_world
from test_point_in_time import build as build_on
from tiny_world import END, tiny_frames, tiny_shop_frames

from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features.engine import FeatureMatrix, build_feature_matrix
from healthscore.features.settings import FeatureConfig, SparkSettings
from healthscore.features.snapshots import LABEL_COLUMNS
from healthscore.synth import generate_world

require_spark()

pytestmark = pytest.mark.slow
# Small memory pages: the matrix query pipelines a dozen joins and aggregations in one task,
# each holding a page (by default sized from the 2 GB heap: tens of MB each).
SPARK = {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "8",
                                        "spark.buffer.pageSize": "2m",
                                        "spark.default.parallelism": "2",
                                        "spark.driver.memory": "2g"}}
EXAMPLES = int(os.environ.get("HEALTHSCORE_SPARK_PIT_EXAMPLES", "3"))  # DuckDB's: 60 / 240
RTOL = 1e-9


def on_spark(config: FeatureConfig) -> FeatureConfig:
    """``config`` with ``features.engine: spark`` on the local test session."""
    return config.model_copy(update={"engine": "spark", "spark": SparkSettings(**SPARK)})


def build_on_spark(frames: dict[str, pd.DataFrame], definition: str) -> FeatureMatrix:
    """The property test's build (its world, its config) on Spark."""
    if definition == "no_subscriptions":
        frames = {k: v for k, v in frames.items() if k != "subscriptions"}
    return build_on(frames, on_spark(CONFIGS[definition]))


def assert_same_matrix(duck: FeatureMatrix, spark: FeatureMatrix) -> None:
    """Same rows, columns and values: integers, dates, text and flags exactly, floats to
    1e-9 relative (NaN where NaN)."""
    a, b = duck.frame, spark.frame
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) and len(a) > 0
    assert a["account_id"].tolist() == b["account_id"].tolist()
    assert a["snapshot_date"].tolist() == b["snapshot_date"].tolist()
    different = {}
    for column in a.columns[2:]:
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            xs = x.to_numpy(dtype=float, na_value=np.nan)
            ys = pd.to_numeric(y).to_numpy(dtype=float, na_value=np.nan)
            exact = pd.api.types.is_integer_dtype(x)
            same = np.isclose(xs, ys, rtol=0 if exact else RTOL, atol=0, equal_nan=True)
        else:  # text, dates, flags (with NULLs)
            same = (x.isna().to_numpy() & y.isna().to_numpy()) | (
                x.astype(object).to_numpy() == y.astype(object).to_numpy())
        if not same.all():
            first = int(np.flatnonzero(~same)[0])
            different[column] = (int((~same).sum()), x.iloc[first], y.iloc[first])
    assert different == {}, f"(rows differing, DuckDB, Spark): {different}"


def both(frames: dict[str, pd.DataFrame], end: dt.date, config: FeatureConfig,
         ) -> tuple[FeatureMatrix, FeatureMatrix]:
    dataset = dataset_from_frames(frames, end)
    return (build_feature_matrix(dataset, config),
            build_feature_matrix(dataset, on_spark(config)))


GOLDEN = FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)})


@pytest.mark.parametrize("world", [tiny_frames, tiny_shop_frames])
def test_spark_matrix_equals_duckdb_on_the_golden_worlds(world):
    duck, spark = both(world(), END, GOLDEN)
    assert {"latest_nps", "metric_last__seats_used"} <= set(duck.feature_names) or (
        world is tiny_shop_frames)
    assert_same_matrix(duck, spark)
    assert spark.labels == duck.labels


def test_spark_matrix_equals_duckdb_on_a_2000_account_world():
    synthetic = generate_world(SynthConfig(accounts=2000, months=24, seed=5))
    duck, spark = both(synthetic.tables, synthetic.end_date, FeatureConfig())
    assert len(duck.feature_names) > 60
    assert duck.frame["label_churn"].any() and duck.frame["label_expansion"].any()
    assert_same_matrix(duck, spark)


def test_a_spark_matrix_differs_when_a_feature_differs(monkeypatch):
    """The equality check can fail: one feature spelled differently on Spark only."""
    from healthscore.features.sql.spark import SparkRenderer

    monkeypatch.setattr(SparkRenderer, "nth_latest",
                        lambda self, value, time, n: f"max({value})")
    duck, spark = both(tiny_frames(), END, GOLDEN)
    with pytest.raises(AssertionError, match="latest_nps"):
        assert_same_matrix(duck, spark)


@pytest.mark.parametrize("definition", list(CONFIGS))
@settings(max_examples=max(EXAMPLES // len(CONFIGS), 1), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), cut_index=st.integers(0, 30))
def test_future_rows_never_change_past_features_on_spark(definition, seed, cut_index):
    rng = np.random.default_rng(seed)
    frames = random_world(rng)
    original = build_on_spark(frames, definition)
    cut = original.dates[cut_index % len(original.dates)]
    mutated = build_on_spark(mutate_future(rng, frames, pd.Timestamp(cut)), definition)
    shared = [c for c in original.frame.columns
              if c in mutated.frame.columns and c not in LABEL_COLUMNS]
    pd.testing.assert_frame_equal(
        as_of(original, cut, shared).reset_index(drop=True),
        as_of(mutated, cut, shared).reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("definition", list(CONFIGS))
@settings(max_examples=max(EXAMPLES // len(CONFIGS), 1), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), cut_index=st.integers(0, 30))
def test_past_rows_never_change_labels_on_spark(definition, seed, cut_index):
    rng = np.random.default_rng(seed)
    frames = random_world(rng)
    original = build_on_spark(frames, definition)
    cut = original.dates[cut_index % len(original.dates)]
    mutated = build_on_spark(mutate_past(rng, frames, pd.Timestamp(cut)), definition)

    def labels(matrix: FeatureMatrix) -> pd.DataFrame:
        rows = matrix.frame[matrix.frame.snapshot_date == cut]
        return rows[["account_id", *LABEL_COLUMNS]].set_index("account_id").sort_index()

    before, after = labels(original), labels(mutated)
    common = before.index.intersection(after.index)
    pd.testing.assert_frame_equal(before.loc[common], after.loc[common], check_dtype=False)
