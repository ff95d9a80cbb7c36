"""Benchmark LightGBM training at scale: 1M rows x 80 features with the default config.

Usage: python bench/train.py [--rows 1000000] [--features 80] [--accounts 20000 --months 36]
Builds the feature matrix of a synthetic world, resamples it to --rows labelled rows (with
replacement; every row keeps its own label) and takes --features inputs (its first ones, with
noisy copies of numeric features when it has fewer), then fits the default LightGBM (early
stopping on a 20 % validation part) and prints rows, features, trees, fit seconds, peak RSS and
validation ROC-AUC. Set OMP_WAIT_POLICY=PASSIVE (the Makefile does) on a shared machine.

``--end-to-end``: instead, the quarterly retrain as a scheduler runs it: ``healthscore train``
with the default config in a child process on the world ``--accounts`` x ``--months`` (e.g.
100000 x 24), its features read from the world's feature cache (``healthscore build-features``
runs first, timed apart, and fills it when cold), on a fresh MLflow store each time, optionally
under ``--max-rows`` (``training.max_rows``). Prints the train command's wall time and peak RSS
(its own process), the row counts, the models' test ROC-AUC and the load average around each
run (the machine may be shared: compare runs made back to back). ``--repeat N`` runs it N times.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time

import numpy as np
import pandas as pd
from common import ensure_world, peak_rss_mb, run_cli, world_features
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
    parser.add_argument("--end-to-end", action="store_true",
                        help="time `healthscore train` (default config) in a child process")
    parser.add_argument("--max-rows", type=int, default=None,
                        help="--end-to-end: training.max_rows (default: every row)")
    parser.add_argument("--repeat", type=int, default=1, help="--end-to-end: runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.end_to_end:
        end_to_end(args.accounts, args.months, args.max_rows, args.repeat)
        return
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


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def end_to_end(accounts: int, months: int, max_rows: int | None, repeat: int) -> None:
    """Time ``healthscore train`` through the CLI on a world: wall time and peak RSS."""
    world = ensure_world(accounts, months)
    cache = world.parent / f"{world.name}-work" / "cache"  # shared with bench/score.py
    work = world.parent / f"{world.name}-train{f'-{max_rows}' if max_rows else ''}"
    work.mkdir(parents=True, exist_ok=True)
    settings = {"workdir": str(work), "seed": 7, "data": {"dir": str(world)},
                "features": {"cache_dir": str(cache)},
                "training": {"tracking": {"uri": f"sqlite:///{work / 'mlflow.db'}"},
                             "max_rows": max_rows}}
    config = work / "bench-train.json"  # JSON is YAML
    config.write_text(json.dumps(settings))
    print(f"world {world.name}, workdir {work}, training.max_rows {max_rows}")
    seconds, peak, _ = run_cli(["build-features"], config)
    print(f"build-features   {seconds:7.1f}s  peak RSS {peak:7,.0f} MB  (feature cache {cache}; "
          f"{_load()})")
    for _ in range(repeat):
        for store in ("mlflow.db", "mlartifacts"):  # a fresh tracking store for every run
            path = work / store
            path.unlink() if path.is_file() else shutil.rmtree(path, ignore_errors=True)
        before = _load()
        seconds, peak, out = run_cli(["train"], config)
        rows = next((line.strip() for line in out.splitlines() if " rows x " in line), "")
        cells = [[c.strip() for c in line.split("│")] for line in out.splitlines()]
        aucs = [f"{c[1]} ROC-AUC {c[2]}" for c in cells
                if len(c) > 2 and c[1].startswith(("scorecard", "logistic", "lightgbm"))]
        print(f"train            {seconds:7.1f}s  peak RSS {peak:7,.0f} MB  ({before}; after: "
              f"{_load()})")
        print(f"  {rows}")
        print(f"  {'; '.join(aucs)}")


if __name__ == "__main__":
    main()
