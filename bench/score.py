"""Benchmark scoring and explaining: probability, TreeSHAP drivers and the full scorer.

Usage: python bench/score.py [--rows 100000 1000000] [--accounts 20000 --months 36]
Trains LightGBM on a synthetic world (the default and the deeper former default), then scores
frames of N rows sampled from its feature matrix (the deeper variant at the smallest N only).
Prints model size, predict time, SHAP time (native contributions) and the whole score_accounts
time, plus the test ROC-AUC of each variant.

``--end-to-end``: instead, the daily scoring job as a scheduler runs it: ``healthscore score
--as-of DATE`` in a child process on the world ``--accounts`` x ``--months`` (e.g. 100000 x 24),
with a model that ``healthscore build-features`` and ``healthscore train`` registered there first
(timed too: the quarterly retrain; ``--retrain`` repeats them on a cold feature cache). Prints
wall time and peak RSS of each command and the scoring run's seconds per stage; the features of
the date are built afresh (an empty feature cache) unless ``--warm``.

``--multi-horizon``: instead, the single-horizon LightGBM (90 days) beside the survival model
(LightGBM score; P(churn within 30, 90, 180, 365 days), health on 365) on the same periods:
train time, then score+explain time (every horizon's probability and expected months
included) at each N, and the ratio multi / single.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import time

import numpy as np
from common import ensure_world, peak_rss_mb, run_cli, run_cli_usage, world_features
from sklearn.metrics import roc_auc_score

from healthscore.model.artifact import HealthModel
from healthscore.serving.scorer import score_accounts
from healthscore.training import survival as sv
from healthscore.training.splits import TEST, TRAIN, VALIDATION
from healthscore.training.train import (
    assign_splits,
    feature_infos,
    fit_health_model,
    resolve_directions,
    split_rows,
)

VARIANTS = {"default (depth 4, 15 leaves, learning rate 0.1)": {},
            "deeper (depth 6, 15 leaves, learning rate 0.05)": {"max_depth": 6,
                                                                 "learning_rate": 0.05}}


def main(argv: list[str] | None = None) -> None:
    """Train the variants and time scoring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--multi-horizon", action="store_true",
                        help="time the survival model beside the single-horizon LightGBM")
    parser.add_argument("--end-to-end", action="store_true",
                        help="time `healthscore score --as-of DATE` (and the training before it)")
    parser.add_argument("--as-of", type=dt.date.fromisoformat,
                        help="--end-to-end: the scoring date (default: the day after the data)")
    parser.add_argument("--retrain", action="store_true",
                        help="--end-to-end: build features and train again, cold cache")
    parser.add_argument("--warm", action="store_true",
                        help="--end-to-end: keep the date's cached features (a re-run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.end_to_end:
        end_to_end(args.accounts, args.months, args.as_of, args.retrain, args.warm)
        return
    base, frame, metas = world_features(args.accounts, args.months)
    if args.multi_horizon:
        multi_horizon(base, frame, metas, args.rows)
        return
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


def end_to_end(accounts: int, months: int, as_of: dt.date | None, retrain: bool,
               warm: bool) -> None:
    """Train once on the world (or again with ``retrain``), then time one scoring date
    through the CLI: wall time, peak RSS and the run's seconds per stage."""
    world = ensure_world(accounts, months)
    work = world.parent / f"{world.name}-work"
    work.mkdir(parents=True, exist_ok=True)
    settings = {"workdir": str(work), "seed": 7, "data": {"dir": str(world)},
                "training": {"tracking": {"uri": f"sqlite:///{work / 'mlflow.db'}"}}}
    config = work / "bench-train.json"  # JSON is YAML
    config.write_text(json.dumps(settings))
    day = as_of or dt.date.fromisoformat(
        json.loads((world / "world.json").read_text())["end_date"]) + dt.timedelta(days=1)
    print(f"world {world.name}, workdir {work}")
    if retrain or not (work / "mlflow.db").exists():
        shutil.rmtree(work / "cache", ignore_errors=True)
        total = 0.0
        for command in (["build-features"], ["train"]):
            seconds, peak, _ = run_cli(command, config)
            total += seconds
            print(f"{command[0]:<16} {seconds:7.1f}s  peak RSS {peak:7,.0f} MB")
        print(f"{'retrain total':<16} {total:7.1f}s")
    scoring = work / "bench-score.json"
    cache = work / "score-cache"  # the date's features only, so a cold run builds them
    if not warm:
        shutil.rmtree(cache, ignore_errors=True)
    scoring.write_text(json.dumps(settings | {"features": {"cache_dir": str(cache)}}))
    load = os.getloadavg()[0]
    seconds, peak, out, cpu = run_cli_usage(["score", "--as-of", day.isoformat(), "--json"],
                                            scoring)
    summary = json.loads(out)
    stages = summary["seconds"]
    print(f"score --as-of {day} ({summary['accounts']:,} accounts): {seconds:.1f}s, peak RSS "
          f"{peak:,.0f} MB, CPU {cpu:.1f}s (load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, {os.cpu_count()} cores)")
    for stage, value in stages.items():
        print(f"  {stage:<22} {value:7.2f}s")
    print(f"  {'start, config, data':<22} {seconds - sum(stages.values()):7.2f}s  (the rest: "
          "imports, open and validate the data, tracking check)")


def multi_horizon(base, frame, metas, sizes: list[int]) -> None:
    """Train the single-horizon LightGBM and the survival model on the same periods; time
    training and score+explain."""
    labelled = frame[frame["label_observed"]]
    assignment, _, split, _ = split_rows(labelled, base.training, 90, base.seed)
    train, valid = (labelled[assignment == s] for s in (TRAIN, VALIDATION))
    started = time.perf_counter()
    single = fit_health_model("lightgbm", train, valid, metas, base.training, 90, base.seed)
    single_fit = time.perf_counter() - started
    started = time.perf_counter()
    rows = frame[frame[sv.OBSERVED_DAYS].notna()]
    part = split.assign(rows["snapshot_date"])
    findings = resolve_directions(metas, train, base.training, base.seed)
    fitted = sv.fit_survival(
        "lightgbm", feature_infos(metas, findings),
        sv.censor_at(rows[part == TRAIN], split.validation_start),
        sv.censor_at(rows[part == VALIDATION], split.test_start), base.training, base.seed,
        [30, 90, 180, 365], 365)
    used = set(fitted.feature_names)
    multi = HealthModel(fitted, sv.NoCalibration(), [m for m in metas if m.name in used],
                        "label_churn", 365)
    multi_fit = time.perf_counter() - started
    print(f"train: single-horizon {single_fit:.1f}s, multi-horizon (survival, 4 horizons) "
          f"{multi_fit:.1f}s, ratio {multi_fit / single_fit:.2f}")
    for name, raw in (("single", single.model), ("multi", fitted.inner)):
        print(f"  {name}: {raw.booster_.num_trees()} trees, settings {raw.settings_}, "
              f"TreeSHAP cost ~{raw.params()['shap_ms_per_row_est']} ms/row")
    for n in sizes:
        sample = frame.sample(n=n, replace=True, random_state=0).reset_index(drop=True)
        sample["account_id"] = np.arange(n)
        times = {}
        for name, model in (("single", single), ("multi", multi)):
            started = time.perf_counter()
            scores = score_accounts(model, sample, base.scoring, sample["snapshot_date"].iloc[0])
            times[name] = time.perf_counter() - started
        extra = [c for c in scores.columns if c.startswith("churn_within_")]
        print(f"rows {n:>9,}  score+explain single-horizon {times['single']:6.1f}s  "
              f"multi-horizon {times['multi']:6.1f}s ({len(extra)} horizons + expected months)"
              f"  ratio {times['multi'] / times['single']:.2f}  (peak RSS {peak_rss_mb():,.0f} "
              "MB)")


if __name__ == "__main__":
    main()
