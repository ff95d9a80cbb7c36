"""Quality of the models on the synthetic worlds: is the world as hard as real churn data?

Usage: python bench/quality.py [--accounts 8000] [--months 24] [--seed 7]
       [--shapes saas:realistic monthly:realistic transactional:realistic saas:easy]
       [--models scorecard logistic lightgbm] [--bootstrap 200] [--training JSON]
       [--compare-defaults]

For each business shape and difficulty: synth -> features -> train (no MLflow) at the default
horizon, then the test ROC-AUC and PR-AUC of each model with bootstrap 95 % intervals and the
test base rate. On transactional worlds also days-since-last-activity alone (the recency
baseline). Then the issue's ranges for the realistic worlds: LightGBM 0.78-0.88, logistic
0.74-0.86, scorecard >= 0.65 and below LightGBM beyond the intervals; transactional: recency
alone 0.68-0.80 and LightGBM above it beyond the intervals.

``--compare-defaults`` adds, per realistic shape, today's modelling defaults beside the new ones
(learned directions, search, refit) on a period neither saw (bench/defaults.py): PR-AUC and
ROC-AUC with intervals, calibration error, TreeSHAP ms per row.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np
from common import ensure_world
from sklearn.metrics import roc_auc_score

from healthscore.pipeline.compose import build_features, open_data
from healthscore.pipeline.config import Config
from healthscore.training.train import feature_meta, train_and_evaluate

RANGES = {"lightgbm": (0.78, 0.88), "logistic": (0.74, 0.86), "scorecard": (0.65, 1.0)}
RECENCY_RANGE = (0.68, 0.80)
DEFAULT_SHAPES = ("saas:realistic", "monthly:realistic", "transactional:realistic", "saas:easy")


def _recency_auc(test, seed: int, n_boot: int) -> tuple[str, float, float, float] | None:
    """ROC-AUC (and bootstrap interval) of days since the last activity alone on the test
    rows: more days, more churn. Prefers an uncapped lifetime recency column when present."""
    candidates = sorted(c for c in test.columns if c.startswith("days_since_last")
                        and ("purchase" in c or "activity" in c))
    if not candidates:
        return None
    column = next((c for c in candidates if "purchase" in c), candidates[0])
    y = test["label_churn"].astype(int).to_numpy()
    x = test[column].astype(float).fillna(1e6).to_numpy()
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            boots.append(roc_auc_score(y[i], x[i]))
    low, high = (np.quantile(boots, [0.025, 0.975]) if boots else (np.nan, np.nan))
    return column, float(roc_auc_score(y, x)), float(low), float(high)


def run_shape(business: str, difficulty: str, args: argparse.Namespace) -> dict[str, object]:
    """Train on one world and print its rows of the table; return the figures."""
    world = ensure_world(args.accounts, args.months, args.seed, business, difficulty)
    config = Config.model_validate({
        "workdir": str(world.parent / f"{world.name}-work"), "seed": args.seed,
        "data": {"dir": str(world)},
        "training": {"models": args.models, "bootstrap": args.bootstrap,
                     **json.loads(args.training)},
    })
    started = time.perf_counter()
    dataset = open_data(config)
    matrix = build_features(config, dataset)
    run = train_and_evaluate(matrix.frame, feature_meta(matrix.features), config.training,
                             config.features.horizon_days, config.seed)
    base = run.positives.get("test", float("nan"))
    print(f"\n{business} / {difficulty}: {world.name}, {len(matrix.frame):,} rows, "
          f"test rows {run.sizes.get('test', 0):,}, test base rate {base:.3f} "
          f"({time.perf_counter() - started:.0f}s)")
    figures: dict[str, object] = {"base_rate": base}
    for name, result in run.results.items():
        o = result.test.overall
        ci = result.test.intervals.set_index("metric")
        figures[name] = {m: (o[m], ci.loc[m, "low"], ci.loc[m, "high"])
                         for m in ("roc_auc", "pr_auc")}
        print(f"| {business} | {difficulty} | {name} | "
              + " | ".join(f"{o[m]:.3f} [{ci.loc[m, 'low']:.3f}, {ci.loc[m, 'high']:.3f}]"
                           for m in ("roc_auc", "pr_auc")) + f" | {base:.3f} |")
    if business == "transactional":
        first = next(iter(run.results.values()), None)
        recency = None
        if first is not None:
            keys = first.test_rows[["account_id", "snapshot_date"]]
            test_rows = matrix.frame.merge(keys, on=["account_id", "snapshot_date"])
            recency = _recency_auc(test_rows, args.seed, args.bootstrap)
        if recency is not None:
            column, auc, low, high = recency
            figures["recency"] = (auc, low, high)
            print(f"| {business} | {difficulty} | {column} alone | "
                  f"{auc:.3f} [{low:.3f}, {high:.3f}] | | {base:.3f} |")
    return figures


def _checks(business: str, figures: dict[str, object]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    auc = {k: v["roc_auc"] for k, v in figures.items() if isinstance(v, dict)}
    if business in ("saas", "monthly"):
        for model, (lo, hi) in RANGES.items():
            if model in auc:
                checks[f"{business}: {model} ROC-AUC in [{lo}, {hi}]"] = lo <= auc[model][0] <= hi
        if "lightgbm" in auc and "scorecard" in auc:
            checks[f"{business}: scorecard below LightGBM beyond the intervals"] = (
                auc["scorecard"][2] < auc["lightgbm"][1])
    elif "recency" in figures:
        rec = figures["recency"]
        checks[f"{business}: recency alone ROC-AUC in {list(RECENCY_RANGE)}"] = (
            RECENCY_RANGE[0] <= rec[0] <= RECENCY_RANGE[1])
        if "lightgbm" in auc:
            checks[f"{business}: LightGBM above recency alone beyond the intervals"] = (
                auc["lightgbm"][1] > rec[2])
    return checks


def main(argv: list[str] | None = None) -> None:
    """Train on each world and print the quality table and the range checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=8_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES),
                        help="business:difficulty pairs")
    parser.add_argument("--models", nargs="+", default=["scorecard", "logistic", "lightgbm"])
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--training", default="{}",
                        help='training config overrides as JSON, e.g. \'{"lightgbm": '
                        '{"monotone": false}}\'')
    parser.add_argument("--compare-defaults", action="store_true",
                        help="also compare today's modelling defaults with the new ones")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    print("| business | difficulty | model | test ROC-AUC [95 % CI] | test PR-AUC [95 % CI] "
          "| base rate |\n|---|---|---|---|---|---|")
    checks: dict[str, bool] = {}
    for shape in args.shapes:
        business, difficulty = shape.split(":")
        try:
            figures = run_shape(business, difficulty, args)
        except Exception as error:  # noqa: BLE001 - a shape the pipeline cannot read yet
            print(f"\n{business} / {difficulty}: the pipeline cannot train on it: "
                  f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
            continue
        if difficulty == "realistic":
            checks.update(_checks(business, figures))
            if args.compare_defaults:
                from defaults import compare_defaults, print_comparison

                world = ensure_world(args.accounts, args.months, args.seed, business, difficulty)
                print(f"\n{business} / {difficulty}: today's defaults vs the new ones")
                print_comparison(compare_defaults(world, args.seed, args.bootstrap, args.models))
    print()
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")


if __name__ == "__main__":
    main()
