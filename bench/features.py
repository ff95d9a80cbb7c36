"""Benchmark the feature build: validation and DuckDB feature matrix on a synthetic world,
and a straightforward pandas version of three usage features on the same data for the ratio.

Usage: python bench/features.py --accounts 100000 --months 24 [--skip-pandas]
           [--slope-from 10000] [--profile] [--memory-limit 8GB]
Prints wall seconds, peak RSS and, with ``--profile``, the seconds of each feature family (each
family's query run on its own, as ``build-features -v`` does, falling back to the one composed
query when a family alone runs out of DuckDB's memory; the metric kernel too); with
``--slope-from N`` the full build also runs on an N-account world first
and the ratio of the two times is printed next to the ratio of the account counts (linear
cost: equal ratios). The worlds are generated once under bench/out/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import ensure_world, peak_rss_mb

from healthscore.data.dataset import Dataset, open_dataset
from healthscore.data.settings import DataConfig
from healthscore.features.engine import FeatureMatrix, build_feature_matrix
from healthscore.features.settings import FeatureConfig, FeatureSelection


def pandas_usage_features(events_dir, dates: list[dt.date]) -> pd.DataFrame:
    """events_30d, active_users_30d and days_since_last_activity, the obvious pandas way."""
    events = pd.read_parquet(events_dir, columns=["account_id", "occurred_at", "user_id",
                                                  "quantity"])
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    parts = []
    for day in dates:
        s = pd.Timestamp(day)
        before = events[events["occurred_at"] < s]
        recent = before[before["occurred_at"] >= s - pd.Timedelta(days=30)]
        totals = recent.groupby("account_id").agg(events_30d=("quantity", "sum"),
                                                  active_users_30d=("user_id", "nunique"))
        last = before.groupby("account_id")["occurred_at"].max()
        totals["days_since_last_activity"] = (s - last).dt.days.reindex(totals.index)
        totals["snapshot_date"] = day
        parts.append(totals.reset_index())
    return pd.concat(parts, ignore_index=True)


class FamilySeconds(logging.Handler):
    """Collects the engine's ``family <name>: <n> features in <s>s`` log records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the seconds of a family record."""
        if record.msg.startswith("family %s:") and len(record.args) == 3:
            name, _, seconds = record.args
            self.seconds[name] = float(seconds)


def open_world(world: Path, memory_limit: str | None = None) -> Dataset:
    """The synthetic world's tables, validated (DuckDB's ``memory_limit``: default the
    config's)."""
    end = dt.date.fromisoformat(json.loads((world / "world.json").read_text())["end_date"])
    engine = {"memory_limit": memory_limit} if memory_limit else {}
    return open_dataset(DataConfig(dir=world, end_date=end, engine=engine))


def timed_build(dataset: Dataset, profile: bool = False,
                ) -> tuple[float, FeatureMatrix, dict[str, float]]:
    """Build the full matrix: (seconds, matrix, seconds per family the engine timed)."""
    families = FamilySeconds()
    engine_log = logging.getLogger("healthscore.features.engine")
    engine_log.addHandler(families)
    engine_log.setLevel(logging.INFO if profile else logging.WARNING)
    try:
        started = time.perf_counter()
        matrix = build_feature_matrix(dataset, FeatureConfig())
        return time.perf_counter() - started, matrix, families.seconds
    finally:
        engine_log.removeHandler(families)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="time every family (its query on its own, as with -v)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="DuckDB's memory_limit, e.g. 8GB (default: data.engine's, 2GB)")
    parser.add_argument("--slope-from", type=int, metavar="ACCOUNTS",
                        help="also build an ACCOUNTS-account world first; print the time ratio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    small_s = None
    if args.slope_from:
        small_s, _, _ = timed_build(open_world(ensure_world(args.slope_from, args.months),
                                               args.memory_limit),
                                    args.profile)
        print(f"features_seconds_{args.slope_from}  {small_s:8.1f}")
    world = ensure_world(args.accounts, args.months)
    print(f"world {world} (accounts={args.accounts:,}, months={args.months}, "
          f"cores={os.cpu_count()})")

    started = time.perf_counter()
    dataset = open_world(world, args.memory_limit)
    validate_s = time.perf_counter() - started
    events = dataset.row_counts()["events"]
    print(f"validate_seconds          {validate_s:8.1f}   ({events:,} event rows)")

    build_s, matrix, families = timed_build(dataset, args.profile)
    frame = matrix.frame
    print(f"features_seconds          {build_s:8.1f}   ({len(frame):,} rows x "
          f"{len(matrix.features)} features, {len(matrix.dates)} monthly snapshots)")
    print(f"peak_rss_after_duckdb_mb  {peak_rss_mb():8.0f}")
    for name, seconds in sorted(families.items(), key=lambda item: -item[1]):
        print(f"  family {name:<17} {seconds:8.1f}")
    if small_s is not None:
        print(f"slope {args.accounts:,}/{args.slope_from:,} accounts: time x"
              f"{build_s / small_s:.2f} for accounts x{args.accounts / args.slope_from:.2f}")

    if args.skip_pandas:
        return
    three = FeatureConfig(select=FeatureSelection(
        names=["events_30d", "active_users_30d", "days_since_last_activity"]))
    started = time.perf_counter()
    small = build_feature_matrix(dataset, three)
    duck3_s = time.perf_counter() - started
    started = time.perf_counter()
    baseline = pandas_usage_features(world / "events", matrix.dates)
    pandas_s = time.perf_counter() - started
    check = small.frame.merge(baseline, on=["account_id", "snapshot_date"],
                              suffixes=("", "_pd"))
    agree = np.isclose(check["events_30d"], check["events_30d_pd"]).mean()
    print(f"three_features_duckdb_s   {duck3_s:8.1f}")
    print(f"three_features_pandas_s   {pandas_s:8.1f}   (ratio pandas/duckdb "
          f"{pandas_s / duck3_s:.1f}x; events_30d agree on {agree:.1%} of shared rows)")
    print(f"peak_rss_after_pandas_mb  {peak_rss_mb():8.0f}")


if __name__ == "__main__":
    main()
