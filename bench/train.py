"""Benchmark LightGBM training at scale: 1M rows x 80 features with the default config.

Usage: python bench/train.py [--rows 1000000] [--features 80] [--accounts 20000 --months 36]
Builds the feature matrix of a synthetic world, resamples it to --rows labelled rows (with
replacement; every row keeps its own label) and takes --features inputs (its first ones, with
noisy copies of numeric features when it has fewer), then fits the default LightGBM (early
stopping on a 20 % validation part) and prints rows, features, trees, fit seconds, peak RSS and
validation ROC-AUC. Set OMP_WAIT_POLICY=PASSIVE (the Makefile does) on a shared machine.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd
from common import peak_rss_mb, world_features
from sklearn.metrics import roc_auc_score

from healthscore.model.artifact import FeatureMeta
from healthscore.training.train import fit_health_model


def widen(frame: pd.DataFrame, metas: list[FeatureMeta], n_features: int,
          rng: np.random.Generator) -> tuple[pd.DataFrame, list[FeatureMeta]]:
    """Exactly ``n_features`` inputs: the first ones, plus noisy copies of numeric features
    when the world has fewer."""
    metas = metas[:n_features]
    numeric = [m for m in metas if not m.categorical]
    extra = {}
    out = list(metas)
    for k in range(max(0, n_features - len(metas))):
        source = numeric[k % len(numeric)]
        values = pd.to_numeric(frame[source.name], errors="coerce").to_numpy(float)
        scale = np.nanstd(values) or 1.0
        name = f"{source.name}__noisy{k}"
        extra[name] = values + rng.normal(0.0, 0.5 * scale, len(values))
        out.append(FeatureMeta(name, source.dimension, "neutral", source.unit,
                               source.description, source.explain, False))
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(extra)], axis=1), out


def main(argv: list[str] | None = None) -> None:
    """Resample, widen, fit and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=80)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=36)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    config, frame, metas = world_features(args.accounts, args.months)
    labelled = frame[frame["label_observed"]]
    rng = np.random.default_rng(0)
    rows = labelled.sample(n=args.rows, replace=True, random_state=0)
    rows, metas = widen(rows, metas, args.features, rng)
    valid = rng.random(len(rows)) < 0.2
    started = time.perf_counter()
    model = fit_health_model("lightgbm", rows[~valid], rows[valid], metas, config.training,
                             config.features.horizon_days, config.seed)
    seconds = time.perf_counter() - started
    auc = roc_auc_score(rows.loc[valid, "label_churn"], model.predict_proba(rows[valid]))
    print(f"LightGBM fit (incl. calibration and drift reference): {int((~valid).sum()):,} "
          f"training + {int(valid.sum()):,} validation rows x {len(model.feature_names)} "
          f"features, {model.model.booster_.num_trees()} trees (best iteration "
          f"{model.model.best_iteration_}), {seconds:.1f}s, peak RSS {peak_rss_mb():,.0f} MB, "
          f"validation ROC-AUC {auc:.4f} (resampled rows: optimistic, for timing only)")


if __name__ == "__main__":
    main()
