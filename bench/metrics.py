"""Benchmark the metric trend features: what a history of account metrics adds to the build.

Usage: python bench/metrics.py --accounts 100000 --months 24 --metrics 20 [--every 7]
       [--wide] [--skip-baseline]

Writes (once, under bench/out/) a metrics history of every account: ``--metrics`` metrics
measured every ``--every`` days (dates jittered by 0-2 days, 2 % of measurements missing),
in long form or, with ``--wide``, as a wide export melted by the loader. Then builds the
feature matrix of the synthetic world without the metrics table (baseline) and with it, and
prints the added seconds, the metric family's own time and peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import time
from pathlib import Path

import duckdb
from common import BENCH_DIR, ensure_world, peak_rss_mb

from healthscore.data.dataset import open_dataset
from healthscore.data.settings import DataConfig, TableSource
from healthscore.features.engine import build_feature_matrix
from healthscore.features.settings import FeatureConfig


def write_history(path: Path, accounts: int, metrics: int, start: dt.date, end: dt.date,
                  every: int, wide: bool) -> None:
    """A deterministic metrics history (DuckDB's hash as the random source)."""
    steps = (end - start).days // every

    def value(m: str) -> str:
        return f"CAST(hash(a, {m}, w) % 1000 AS DOUBLE) / 10 + a % 50 - 0.1 * w + {m}"

    def kept(m: str) -> str:
        return f"hash(a, {m}, w, 11) % 50 <> 0"

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    if wide:  # one row per account and date, one column per metric (empty when missing)
        cols = ", ".join(f"CASE WHEN {kept(str(m))} THEN {value(str(m))} END AS metric_{m:02d}"
                         for m in range(metrics))
        body = (f"SELECT a AS account_id, DATE '{start}' + CAST(w * {every} AS INTEGER) AS "
                f"measured_at, {cols} FROM range({steps}) r3(w), range(1, {accounts + 1}) r1(a)")
    else:  # date-major like an export appended per snapshot, dates jittered by 0-2 days
        day = f"DATE '{start}' + CAST(w * {every} + hash(a, w, m + 7) % 3 AS INTEGER)"
        body = (f"SELECT a AS account_id, 'metric_' || lpad(CAST(m AS VARCHAR), 2, '0') AS "
                f"metric, {day} AS measured_at, {value('m')} AS value "
                f"FROM range({steps}) r3(w), range({metrics}) r2(m), "
                f"range(1, {accounts + 1}) r1(a) WHERE {kept('m')}")
    tmp = path.with_suffix(".tmp.parquet")
    con.execute(f"COPY ({body}) TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
    tmp.rename(path)


def data_without_metrics(world: Path) -> Path:
    """A folder of links to the world's tables, its own metrics table left out."""
    folder = world.parent / f"{world.name}-no-metrics"
    folder.mkdir(exist_ok=True)
    for item in world.iterdir():
        link = folder / item.name
        if not item.name.startswith("metrics") and not link.exists():
            link.symlink_to(item.resolve())
    return folder


def build(data: DataConfig) -> tuple[float, float, float, int, int]:
    """(validate seconds, feature build seconds, its CPU seconds, rows, features) of one
    configuration. CPU seconds (both cores) tell what a busy machine hides in wall time."""
    started = time.perf_counter()
    dataset = open_dataset(data)
    validated, cpu = time.perf_counter(), time.process_time()
    matrix = build_feature_matrix(dataset, FeatureConfig())
    done = time.perf_counter()
    return (validated - started, done - validated, time.process_time() - cpu, len(matrix.frame),
            len(matrix.features))


class _FamilyTimes(logging.Handler):
    """Collects the engine's 'family <name>: n features in x s' log lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("family metrics"):
            self.lines.append(message)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--every", type=int, default=7, help="days between measurements")
    parser.add_argument("--wide", action="store_true", help="a wide export (one column each)")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    times = _FamilyTimes()
    logging.getLogger("healthscore.features.engine").setLevel(logging.INFO)
    logging.getLogger("healthscore.features.engine").addHandler(times)
    world = ensure_world(args.accounts, args.months)
    manifest = json.loads((world / "world.json").read_text())
    start = dt.date.fromisoformat(manifest["start_date"])
    end = dt.date.fromisoformat(manifest["end_date"])
    shape = "wide" if args.wide else "long"
    history = BENCH_DIR / "out" / (f"metrics-{args.accounts}x{args.metrics}x{args.months}m"
                                   f"-every{args.every}-{shape}.parquet")
    if not history.exists():
        started = time.perf_counter()
        write_history(history, args.accounts, args.metrics, start, end, args.every, args.wide)
        print(f"history written in {time.perf_counter() - started:.1f}s -> {history}")
    rows = duckdb.sql(f"SELECT count(*) FROM '{history}'").fetchall()[0][0]
    print(f"world {world.name} (accounts={args.accounts:,}, months={args.months}, "
          f"cores={os.cpu_count()}); metrics history {rows:,} {shape} rows")
    baseline = data_without_metrics(world)
    if not args.skip_baseline:
        validate_s, build_s, cpu_s, n, k = build(DataConfig(dir=baseline, end_date=end))
        print(f"baseline  validate {validate_s:6.1f}s  features {build_s:6.1f}s "
              f"(cpu {cpu_s:6.1f}s)  ({n:,} rows x {k} features)  "
              f"peak_rss {peak_rss_mb():,.0f} MB")
    source = TableSource(path=history)
    if args.wide:
        source = TableSource(path=history, wide=True,
                             value_columns=[f"metric_{m:02d}" for m in range(args.metrics)])
    validate_m, build_m, cpu_m, n, k = build(DataConfig(dir=baseline, end_date=end,
                                                        tables={"metrics": source}))
    print(f"metrics   validate {validate_m:6.1f}s  features {build_m:6.1f}s "
          f"(cpu {cpu_m:6.1f}s)  ({n:,} rows x {k} features)  "
          f"peak_rss {peak_rss_mb():,.0f} MB")
    for line in times.lines:
        print(f"  {line}")
    if not args.skip_baseline:
        print(f"added_feature_seconds  {build_m - build_s:6.1f}   (cpu {cpu_m - cpu_s:.1f})")
        print(f"added_validate_seconds {validate_m - validate_s:6.1f}")


if __name__ == "__main__":
    main()
