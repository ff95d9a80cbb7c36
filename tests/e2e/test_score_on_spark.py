"""`healthscore score` with ``scoring.engine: spark``: the same files and history rows as
in-process scoring, plus the executors' Parquet directory (slow tier; skipped without pyspark
or Java)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from spark_support import require_spark

from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features.engine import build_feature_matrix
from healthscore.pipeline import compose
from healthscore.pipeline.config import Config
from healthscore.serving.history import open_history
from healthscore.synth import generate_world, write_world

require_spark()

pytestmark = pytest.mark.slow
DAY = dt.date(2025, 11, 1)
SPARK = {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "4",
                                        "spark.default.parallelism": "3",
                                        "spark.driver.memory": "2g"}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A registered LightGBM champion and the raw config of its world."""
    root = tmp_path_factory.mktemp("spark-score")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        world = generate_world(SynthConfig(accounts=800, months=24, seed=5))
        write_world(world, root / "data")
        raw = {"workdir": str(root / "local"), "seed": 5, "data": {"dir": str(root / "data")},
               "training": {"bootstrap": 0, "models": ["lightgbm"], "refit_folds": 2,
                            "lightgbm": {"search": {"trials": 2}}}}
        config = Config.model_validate(raw)
        dataset = dataset_from_frames(world.tables, world.end_date)
        frame, metas = compose.matrix_inputs(build_feature_matrix(dataset, config.features))
        compose.train(config, frame, metas, dataset.fingerprint)
        yield raw, root


def test_score_on_spark_writes_what_in_process_scoring_writes(trained):
    raw, root = trained
    results = {}
    for engine in ("local", "spark"):
        config = Config.model_validate(raw | {
            "workdir": str(root / engine), "scoring": {"engine": engine},
            "features": {"spark": SPARK}})
        results[engine] = compose.score(config, compose.open_data(config), DAY)
    local, spark = results["local"], results["spark"]
    assert "spark_scores" not in local.paths
    parts = list(spark.paths["spark_scores"].glob("part-*.parquet"))
    assert len(parts) > 1  # written by the executors, one file per partition
    assert not list(spark.paths["spark_scores"].parent.glob(".*tmp-pid*"))  # staging removed
    a = pd.read_parquet(local.paths["scores"]).drop(columns="scored_at")
    b = pd.read_parquet(spark.paths["scores"]).drop(columns="scored_at")
    assert len(a) > 300 and a["risk_1_feature"].ne("").any()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    written = pd.read_parquet(spark.paths["spark_scores"]).sort_values("account_id")
    assert written["health"].tolist() == a.sort_values("account_id")["health"].tolist()
    history = {engine: open_history(None, root / engine).read(until=DAY)
               .drop(columns="scored_at").sort_values("account_id", ignore_index=True)
               for engine in results}
    assert len(history["spark"]) == len(a)
    pd.testing.assert_frame_equal(history["local"], history["spark"], check_exact=False,
                                  rtol=1e-9)
