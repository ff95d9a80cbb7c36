"""Benchmark the feature build: validation and DuckDB feature matrix on a synthetic world,
and a straightforward pandas version of three usage features on the same data for the ratio.

Usage: python bench/features.py --accounts 100000 --months 24 [--skip-pandas]
Prints wall seconds and peak RSS; the world is generated once under bench/out/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import time

import numpy as np
import pandas as pd
from common import ensure_world, peak_rss_mb

from healthscore.data.dataset import open_dataset
from healthscore.data.settings import DataConfig
from healthscore.features.engine import build_feature_matrix
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


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    world = ensure_world(args.accounts, args.months)
    end = dt.date.fromisoformat(json.loads((world / "world.json").read_text())["end_date"])
    print(f"world {world} (accounts={args.accounts:,}, months={args.months}, "
          f"cores={os.cpu_count()})")

    started = time.perf_counter()
    dataset = open_dataset(DataConfig(dir=world, end_date=end))
    validate_s = time.perf_counter() - started
    events = dataset.row_counts()["events"]
    print(f"validate_seconds          {validate_s:8.1f}   ({events:,} event rows)")

    config = FeatureConfig()
    started = time.perf_counter()
    matrix = build_feature_matrix(dataset, config)
    build_s = time.perf_counter() - started
    frame = matrix.frame
    print(f"features_seconds          {build_s:8.1f}   ({len(frame):,} rows x "
          f"{len(matrix.features)} features, {len(matrix.dates)} monthly snapshots)")
    print(f"peak_rss_after_duckdb_mb  {peak_rss_mb():8.0f}")

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
