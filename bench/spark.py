"""Benchmark the feature build on DuckDB and on Spark local[2], same world, same matrix.

Usage: python bench/spark.py [--accounts 10000 100000] [--months 24] [--master local[2]]
Each engine runs in its own process (the world is generated once under bench/out/); prints
wall seconds and peak memory (DuckDB: the process's peak RSS; Spark: the Python driver's
and the JVM's peak RSS). Spark in local mode is expected to be slower: the figure says how
much. Needs `pip install healthscore[spark]` and Java 17+.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ensure_world, peak_rss_mb


def jvm_peak_mb() -> float:
    """Peak RSS of this process's Spark JVM (VmHWM), in MB; 0 when there is none."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None or context._gateway is None:
        return 0.0
    pid = context._gateway.proc.pid
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_one(world: Path, engine: str, master: str) -> dict[str, float]:
    """Validate the world and build its feature matrix on ``engine`` (in this process)."""
    from healthscore.data.dataset import open_dataset
    from healthscore.data.settings import DataConfig
    from healthscore.features.engine import build_feature_matrix
    from healthscore.features.settings import FeatureConfig

    end = dt.date.fromisoformat(json.loads((world / "world.json").read_text())["end_date"])
    dataset = open_dataset(DataConfig(dir=world, end_date=end))
    config = FeatureConfig(engine=engine, spark={
        "master": master, "conf": {"spark.sql.shuffle.partitions": "8",
                                   "spark.driver.memory": "4g"}})
    started = time.perf_counter()
    matrix = build_feature_matrix(dataset, config)
    seconds = time.perf_counter() - started
    out = {"seconds": seconds, "rows": len(matrix.frame), "features": len(matrix.features),
           "peak_rss_mb": peak_rss_mb()}
    if engine == "spark":
        out["jvm_peak_mb"] = jvm_peak_mb()
    return out


def main(argv: list[str] | None = None) -> None:
    """Run both engines on every size and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--one", nargs=2, metavar=("WORLD", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.one:  # a child process: one engine on one world, its figures as JSON
        print(json.dumps(run_one(Path(args.one[0]), args.one[1], args.master)))
        return
    print(f"cores={os.cpu_count()} master={args.master} months={args.months}")
    print(f"{'accounts':>9} {'engine':>6} {'seconds':>8} {'rows':>9} {'peak_mb':>8} "
          f"{'jvm_mb':>7}")
    for accounts in args.accounts:
        world = ensure_world(accounts, args.months)
        figures = {}
        for engine in ("duckdb", "spark"):
            done = subprocess.run(
                [sys.executable, __file__, "--master", args.master, "--one", str(world), engine],
                check=True, capture_output=True, text=True)
            figures[engine] = json.loads(done.stdout.strip().splitlines()[-1])
            f = figures[engine]
            print(f"{accounts:>9,} {engine:>6} {f['seconds']:8.1f} {f['rows']:>9,} "
                  f"{f['peak_rss_mb']:8.0f} {f.get('jvm_peak_mb', 0):7.0f}", flush=True)
        print(f"{'':>9} spark/duckdb wall time: "
              f"{figures['spark']['seconds'] / figures['duckdb']['seconds']:.1f}x")


if __name__ == "__main__":
    main()
