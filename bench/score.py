"""Benchmark scoring and explaining: probability, TreeSHAP drivers and the full scorer.

Usage: python bench/score.py [--rows 100000 1000000] [--accounts 20000 --months 36]
Trains LightGBM on a synthetic world (the default and the deeper former default), then scores
frames of N rows sampled from its feature matrix (the deeper variant at the smallest N only).
Prints model size, predict time, SHAP time (native contributions) and the whole score_accounts
time, plus the test ROC-AUC of each variant.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
from common import peak_rss_mb, world_features
from sklearn.metrics import roc_auc_score

from healthscore.serving.scorer import score_accounts
from healthscore.training.splits import TEST, TRAIN, VALIDATION
from healthscore.training.train import assign_splits, fit_health_model

VARIANTS = {"default (depth 4, 15 leaves, learning rate 0.1)": {},
            "deeper (depth 6, 15 leaves, learning rate 0.05)": {"max_depth": 6,
                                                                 "learning_rate": 0.05}}


def main(argv: list[str] | None = None) -> None:
    """Train the variants and time scoring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=36)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    base, frame, metas = world_features(args.accounts, args.months)
    labelled = frame[frame["label_observed"]]
    split, _ = assign_splits(labelled, base.training, 90, base.seed)
    train, valid, test = (labelled[split == s] for s in (TRAIN, VALIDATION, TEST))
    for name, change in VARIANTS.items():
        config = base.training.model_copy(update={
            "lightgbm": base.training.lightgbm.model_copy(update=change)})
        model = fit_health_model("lightgbm", train, valid, metas, config, 90, base.seed)
        booster = model.model.booster_
        dump = booster.model_to_string()
        trees = booster.num_trees()
        auc = roc_auc_score(test["label_churn"], model.predict_proba(test))
        print(f"\n== {name}: {trees} trees (best iteration {model.model.best_iteration_}), "
              f"model {len(dump) / 1024:.0f} KB, test ROC-AUC {auc:.4f}")
        # the comparison variant only at the smallest size (its 1M run alone takes minutes)
        for n in args.rows if name == next(iter(VARIANTS)) else [min(args.rows)]:
            rows = frame.sample(n=n, replace=True, random_state=0).reset_index(drop=True)
            rows["account_id"] = np.arange(n)
            started = time.perf_counter()
            model.predict_proba(rows)
            predict_s = time.perf_counter() - started
            started = time.perf_counter()
            model.model.contributions(rows)
            shap_s = time.perf_counter() - started
            started = time.perf_counter()
            scores = score_accounts(model, rows, base.scoring, rows["snapshot_date"].iloc[0])
            total_s = time.perf_counter() - started
            print(f"rows {n:>9,}  predict {predict_s:6.1f}s  shap {shap_s:6.1f}s  "
                  f"score+explain total {total_s:6.1f}s  ({len(scores):,} scored; "
                  f"peak RSS {peak_rss_mb():,.0f} MB)")


if __name__ == "__main__":
    main()
