"""Scoring on Spark is proven by equality: the same model, the same rows, the same scores.

One small LightGBM model (TreeSHAP drivers) scores the same feature rows in-process and on a
local Spark session (``local[2]``, the rows split in four partitions, each scored by
``mapInPandas``): probabilities and health equal to 1e-9 relative, bands, hard stops, texts
equal, and every feature's unrounded driver points equal to 1e-9, on the hand-checked tiny
world and on a 2,000-account synthetic world. Slow tier; skipped without pyspark or Java.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from spark_support import require_spark

sys.path.insert(0, str(Path(__file__).parents[1] / "features"))
from tiny_world import END, tiny_frames  # noqa: E402

from healthscore.data.dataset import dataset_from_frames  # noqa: E402
from healthscore.data.settings import SynthConfig  # noqa: E402
from healthscore.features.engine import build_feature_matrix  # noqa: E402
from healthscore.features.settings import FeatureConfig, SparkSettings  # noqa: E402
from healthscore.serving.scorer import score_accounts  # noqa: E402
from healthscore.serving.settings import ScoringConfig  # noqa: E402
from healthscore.synth import generate_world  # noqa: E402
from healthscore.training.settings import TrainingConfig  # noqa: E402
from healthscore.training.train import feature_meta, train_and_evaluate  # noqa: E402

require_spark()

from healthscore.serving.spark import POINTS, score_on_spark, score_partition  # noqa: E402

pytestmark = pytest.mark.slow
SPARK = SparkSettings(master="local[2]", conf={"spark.sql.shuffle.partitions": "4",
                                               "spark.default.parallelism": "2",
                                               "spark.driver.memory": "2g"})
RTOL = 1e-9
PARTITIONS = 4
CONFIG = ScoringConfig()  # the default hard stops and the renewal-window band override


@pytest.fixture(scope="module")
def spark():
    from healthscore.features.spark import spark_session

    return spark_session(SPARK)


@pytest.fixture(scope="module")
def world():
    """The 2,000-account world's DuckDB matrix (the Spark build equals it: see
    tests/unit/features/test_spark_engine.py) and a LightGBM model trained on it."""
    synthetic = generate_world(SynthConfig(accounts=2000, months=24, seed=5))
    matrix = build_feature_matrix(dataset_from_frames(synthetic.tables, synthetic.end_date),
                                  FeatureConfig())
    config = TrainingConfig.model_validate({
        "models": ["lightgbm"], "bootstrap": 0, "refit": False,
        "lightgbm": {"n_estimators": 60, "search": {"trials": 0}}})
    run = train_and_evaluate(matrix.frame, feature_meta(matrix.features), config, 90, seed=0)
    return matrix, run.results["lightgbm"].health_model


def assert_same_scores(local: pd.DataFrame, remote: pd.DataFrame) -> None:
    """Same columns and rows; floats to 1e-9 relative (points near zero to 1e-9 absolute),
    everything else exactly."""
    assert list(local.columns) == list(remote.columns)
    assert len(local) == len(remote) and len(local) > 0
    different = {}
    for column in local.columns:
        x, y = local[column], remote[column]
        if pd.api.types.is_float_dtype(x):
            atol = RTOL if column.startswith(POINTS) else 0.0
            same = np.isclose(x.to_numpy(float), y.to_numpy(float), rtol=RTOL, atol=atol,
                              equal_nan=True)
        else:
            same = (x.isna().to_numpy() & y.isna().to_numpy()) | (
                x.astype(object).to_numpy() == y.astype(object).to_numpy())
        if not same.all():
            first = int(np.flatnonzero(~same)[0])
            different[column] = (int((~same).sum()), x.iloc[first], y.iloc[first])
    assert different == {}, f"(rows differing, in-process, Spark): {different}"


def both(model, rows: pd.DataFrame, as_of: dt.date, target: Path, spark,
         overrides: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    local = score_partition(model, rows, CONFIG, as_of, overrides, points=True)
    remote = score_on_spark(model, rows, CONFIG, as_of, target, overrides, spark=spark,
                            partitions=PARTITIONS, points=True)
    assert len(list(target.glob("part-*.parquet"))) > 1  # written by several partitions
    return local, remote


def test_spark_scores_equal_in_process_on_a_2000_account_world(world, spark, tmp_path):
    matrix, model = world
    as_of = max(matrix.dates)
    rows = matrix.frame[matrix.frame["snapshot_date"] == as_of].reset_index(drop=True)
    overrides = pd.DataFrame({"account_id": [rows["account_id"].iloc[7]], "value": [12.0],
                              "cap": [np.nan], "reason": ["escalation"], "author": ["cs"],
                              "expires_at": [as_of + dt.timedelta(days=30)]})
    local, remote = both(model, rows, as_of, tmp_path / "scores", spark, overrides)
    assert model.kind == "lightgbm" and len(local) > 1000
    assert (local["hard_stops"] != "").any() and (local["override"] != "").any()
    assert local["band"].nunique() >= 3
    assert_same_scores(local, remote)
    # the in-process scorer `healthscore score` runs: its columns, unchanged
    scored = score_accounts(model, rows, CONFIG, as_of, overrides)
    assert_same_scores(scored, remote[scored.columns])


def test_spark_scores_equal_in_process_on_the_golden_world(world, spark, tmp_path):
    _, model = world
    tiny = build_feature_matrix(dataset_from_frames(tiny_frames(), END),
                                FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)}))
    rows = tiny.frame.copy()
    for name in model.feature_names:  # inputs the tiny world has no table for
        if name not in rows:
            rows[name] = np.nan
    local, remote = both(model, rows, END, tmp_path / "scores", spark)
    assert len(local) == len(tiny.frame) and (local["hard_stops"] != "").any()
    assert_same_scores(local, remote)


def test_the_comparison_reports_a_different_driver_point(world, spark, tmp_path):
    """The equality check can fail: one feature's points moved by 1e-6 in one row."""
    matrix, model = world
    as_of = max(matrix.dates)
    rows = matrix.frame[matrix.frame["snapshot_date"] == as_of].head(50).reset_index(drop=True)
    local, remote = both(model, rows, as_of, tmp_path / "scores", spark)
    column = next(c for c in remote.columns
                  if c.startswith(POINTS) and (remote[c].abs() > 0.1).any())
    moved = remote.copy()
    moved.loc[int(np.flatnonzero(remote[column].abs() > 0.1)[0]), column] += 1e-6
    with pytest.raises(AssertionError, match=column):
        assert_same_scores(local, moved)
    flipped = remote.copy()
    flipped.loc[0, "band"] = "nonsense"
    with pytest.raises(AssertionError, match="band"):
        assert_same_scores(local, flipped)
