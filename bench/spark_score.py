"""Benchmark `score` on Spark against the in-process scorer: same model, same rows.

Usage: python bench/spark_score.py [--accounts 2000] [--months 24] [--master local[2]]
Builds the world's feature matrix (DuckDB, cached under bench/out/), trains one LightGBM
(default settings, no search), then scores (a) the accounts of the newest snapshot and (b)
every row of the matrix, in-process (``score_partition``) and on Spark (``score_on_spark``:
staging, ``mapInPandas`` per partition, the executors' Parquet, read back). Prints the Spark
session start on its own, the in-process seconds, Spark's first call (Python workers start,
the model is broadcast) and second call, and the ratio Spark / in-process of the second.
Needs `pip install healthscore[spark]` and Java 17+.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from common import world_features


def main(argv: list[str] | None = None) -> None:
    """Train one model and time both scorers on both row sets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    from healthscore.features.settings import SparkSettings
    from healthscore.features.spark import spark_session
    from healthscore.serving.settings import ScoringConfig
    from healthscore.serving.spark import score_on_spark, score_partition
    from healthscore.training.settings import TrainingConfig
    from healthscore.training.train import train_and_evaluate

    _, frame, metas = world_features(args.accounts, args.months)
    training = TrainingConfig.model_validate({"models": ["lightgbm"], "bootstrap": 0,
                                              "refit": False,
                                              "lightgbm": {"search": {"trials": 0}}})
    model = train_and_evaluate(frame, metas, training, 90, seed=0).results["lightgbm"]
    model = model.health_model
    config = ScoringConfig()
    newest = frame["snapshot_date"].max()
    sets = {"newest snapshot": frame[frame["snapshot_date"] == newest].reset_index(drop=True),
            "every snapshot": frame.reset_index(drop=True)}
    started = time.perf_counter()
    spark = spark_session(SparkSettings(master=args.master, conf={
        "spark.sql.shuffle.partitions": "8", "spark.driver.memory": "4g"}))
    print(f"cores={os.cpu_count()} master={args.master} accounts={args.accounts} "
          f"months={args.months} model={model.kind} "
          f"({len(model.feature_names)} inputs)")
    print(f"spark session start: {time.perf_counter() - started:.1f} s")
    print(f"{'rows':>18} {'n':>7} {'in-process':>10} {'spark 1st':>9} {'spark 2nd':>9} "
          f"{'ratio':>6}")
    as_of = newest.date() if hasattr(newest, "date") else newest
    for name, rows in sets.items():
        started = time.perf_counter()
        score_partition(model, rows, config, as_of)
        local = time.perf_counter() - started
        runs = []
        with tempfile.TemporaryDirectory(prefix="bench-spark-score-") as tmp:
            for k in range(2):
                started = time.perf_counter()
                score_on_spark(model, rows, config, as_of, Path(tmp) / f"scores{k}",
                               spark=spark)
                runs.append(time.perf_counter() - started)
        print(f"{name:>18} {len(rows):>7,} {local:10.2f} {runs[0]:9.2f} {runs[1]:9.2f} "
              f"{runs[1] / local:5.1f}x", flush=True)


if __name__ == "__main__":
    main()
