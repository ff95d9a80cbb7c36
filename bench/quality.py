"""Quality bar of the training issue on a synthetic world: LightGBM vs the scorecard.

Usage: python bench/quality.py [--accounts 20000] [--months 36] [--seed 7] [--models ...]
Runs synth -> features -> train (no MLflow) and prints test metrics per model, the band table
of the best model, and whether each quality criterion holds.
"""

from __future__ import annotations

import argparse
import logging
import time

from common import ensure_world

from healthscore.pipeline.compose import build_features, open_data
from healthscore.pipeline.config import Config
from healthscore.training.train import feature_meta, train_and_evaluate

HEADLINE = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall",
            "true_negative_rate", "flagged_share")


def main(argv: list[str] | None = None) -> None:
    """Train and print the quality figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["scorecard", "logistic", "lightgbm"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    world = ensure_world(args.accounts, args.months, args.seed)
    config = Config.model_validate({
        "workdir": str(world.parent / f"{world.name}-work"), "seed": args.seed,
        "data": {"dir": str(world)}, "training": {"models": args.models},
    })
    started = time.perf_counter()
    dataset = open_data(config)
    matrix = build_features(config, dataset)
    run = train_and_evaluate(matrix.frame, feature_meta(matrix.features), config.training,
                             config.features.horizon_days, config.seed)
    print(f"world {world.name}: {len(matrix.frame):,} rows, sizes {run.sizes}, "
          f"positive rates { {k: round(v, 4) for k, v in run.positives.items()} } "
          f"({time.perf_counter() - started:.0f}s)")
    for name, result in run.results.items():
        o = result.test.overall
        print(f"{name:<10} " + "  ".join(f"{k} {o[k]:.3f}" for k in HEADLINE))
        ci = result.test.intervals.set_index("metric")
        print(" " * 11 + "  ".join(f"{m} [{ci.loc[m, 'low']:.3f}, {ci.loc[m, 'high']:.3f}]"
                                    for m in ci.index))
    if "lightgbm" in run.results and "scorecard" in run.results:
        lgb, card = run.results["lightgbm"].test, run.results["scorecard"].test
        lci, cci = (r.intervals.set_index("metric") for r in (lgb, card))
        checks = {
            "ROC-AUC beats scorecard beyond intervals":
                lci.loc["roc_auc", "low"] > cci.loc["roc_auc", "high"],
            "PR-AUC beats scorecard beyond intervals":
                lci.loc["pr_auc", "low"] > cci.loc["pr_auc", "high"],
            "ECE <= 0.03": lgb.overall["ece"] <= 0.03,
            "recall at threshold >= 0.75": lgb.overall["recall"] >= 0.75,
            "churn rate falls from Critical to Healthy":
                lgb.bands["churn_rate"].dropna().is_monotonic_decreasing,
        }
        print(lgb.bands.to_string(index=False))
        for check, ok in checks.items():
            print(f"{'PASS' if ok else 'FAIL'}  {check}")


if __name__ == "__main__":
    main()
