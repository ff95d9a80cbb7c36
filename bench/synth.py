"""Benchmark the synthetic world: wall time, peak RSS and row counts of ``synthesize``.

Usage: python bench/synth.py --accounts 100000 --months 24 [--seed 7] [--out DIR]
       [--business saas|monthly|transactional] [--difficulty realistic|easy]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from common import peak_rss_mb

from healthscore.data.settings import SynthConfig
from healthscore.synth import synthesize


def run(accounts: int, months: int, seed: int, out: Path, business: str = "saas",
        difficulty: str = "realistic") -> None:
    """Synthesize one world into ``out`` and print the figures."""
    config = SynthConfig(accounts=accounts, months=months, seed=seed, business=business,
                         difficulty=difficulty)
    started = time.perf_counter()
    summary = synthesize(config, out)
    wall = time.perf_counter() - started
    rss = peak_rss_mb()
    print(f"synthesize accounts={accounts:,} months={months} seed={seed} "
          f"business={business} difficulty={difficulty} -> {out}")
    print(f"wall_seconds   {wall:10.1f}")
    print(f"peak_rss       {rss:10.0f} MB ({rss / 1024:.2f} GB)")
    print(f"period         {summary.start_date} .. {summary.end_date}")
    for name, rows in summary.row_counts.items():
        print(f"rows {name:<13} {rows:>14,}")
    for segment, rate in summary.churn_rate_by_segment.items():
        print(f"churn {segment:<12} {rate:>10.1%}")


def main(argv: list[str] | None = None) -> None:
    """Parse the options and run the benchmark in ``--out`` or a temporary folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--business", choices=["saas", "monthly", "transactional"],
                        default="saas")
    parser.add_argument("--difficulty", choices=["realistic", "easy"], default="realistic")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    shape = (args.business, args.difficulty)
    if args.out is not None:
        run(args.accounts, args.months, args.seed, args.out, *shape)
        return
    with tempfile.TemporaryDirectory(prefix="healthscore-synth-") as tmp:
        run(args.accounts, args.months, args.seed, Path(tmp), *shape)


if __name__ == "__main__":
    main()
