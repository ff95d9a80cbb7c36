"""Today's modelling defaults beside the new ones, judged on a period neither model saw.

Usage: python bench/defaults.py [--accounts 5000] [--months 36] [--seed 7]
       [--shapes saas:realistic monthly:realistic] [--world DIR]
(also: python bench/quality.py --compare-defaults ..., on its --shapes)

The labelled rows are split in time as training would split them; the last test period P is
then held back entirely. Each configuration trains on the rows whose labels were known before
P (so its own split, search and refit only see the past) and is scored on P:

- ``before``: the wave-1 defaults: every per-event-type column declared higher-is-healthier and
  constrained, fixed LightGBM settings, raw logistic inputs with free signs on the old C grid,
  the registered model fitted on the training period only.
- ``new, eval fit``: learned directions, earned constraints, robust logistic transforms, the
  budgeted LightGBM search; the model of the held-out evaluation.
- ``new, refit``: the same settings refit on every labelled row before P (the registered
  model by default), calibrated out of fold.

Printed per model: PR-AUC and ROC-AUC with bootstrap intervals on P, expected calibration error,
and TreeSHAP ms per row (LightGBM, one thread). The new defaults are better beyond the interval
when their PR-AUC interval lies above the old point estimate and vice versa.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import ensure_world

from healthscore.pipeline.compose import build_features, matrix_inputs, open_data
from healthscore.pipeline.config import Config
from healthscore.training.metrics import evaluate
from healthscore.training.search import measured_shap_ms_per_row
from healthscore.training.splits import time_split
from healthscore.training.train import train_and_evaluate

PER_TYPE = ("events_30d_by_type", "events_change_30d_by_type")
OLD = {
    "refit": False,
    "logistic": {"transform": "none", "signs": "free", "c_grid": [0.01, 0.03, 0.1, 0.3, 1.0]},
    "lightgbm": {"search": {"trials": 1}, "monotone": "always"},
}


def old_directions() -> dict[str, str]:
    """Wave 1 declared every per-event-type column higher-is-healthier."""
    return {template: "higher_is_healthier" for template in PER_TYPE}


def held_back_period(frame: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(past, future): rows whose labels were known before the last test period, and that
    period's rows."""
    labelled = frame[frame["label_observed"].astype(bool)]
    split = time_split(labelled["snapshot_date"], config.features.horizon_days,
                       config.training.split)
    grace = config.features.churn.grace_days
    known_by = split.test_start - dt.timedelta(days=config.features.horizon_days + grace)
    past = labelled[pd.to_datetime(labelled["snapshot_date"]) <= pd.Timestamp(known_by)]
    dates = pd.to_datetime(labelled["snapshot_date"])
    future = labelled[(dates > pd.Timestamp(split.test_start))
                      & (dates <= pd.Timestamp(split.test_end))]
    return past, future


def score_on(model, rows: pd.DataFrame, label: str, seed: int, n_boot: int) -> dict[str, float]:
    """PR-AUC, ROC-AUC (with intervals) and ECE of ``model`` on ``rows``; TreeSHAP ms/row."""
    y = rows[label].astype(int).to_numpy()
    ev = evaluate(y, model.predict_proba(rows), n_boot=n_boot, seed=seed)
    ci = ev.intervals.set_index("metric")
    out = {"pr_auc": ev.overall["pr_auc"], "pr_low": ci.loc["pr_auc", "low"],
           "pr_high": ci.loc["pr_auc", "high"], "roc_auc": ev.overall["roc_auc"],
           "roc_low": ci.loc["roc_auc", "low"], "roc_high": ci.loc["roc_auc", "high"],
           "ece": ev.overall["ece"], "shap_ms_row": np.nan}
    raw = model.model
    if hasattr(raw, "booster_"):
        out["shap_ms_row"] = measured_shap_ms_per_row(raw.booster_, raw.prepare(rows),
                                                      raw.best_iteration_)
    return out


def compare_defaults(world: Path, seed: int = 7, n_boot: int = 200,
                     models: list[str] | None = None) -> pd.DataFrame:
    """The comparison table for one world (one row per model and configuration)."""
    models = models or ["scorecard", "logistic", "lightgbm"]
    base = {"workdir": str(world.parent / f"{world.name}-work"), "seed": seed,
            "data": {"dir": str(world)}, "training": {"models": models, "bootstrap": 0}}
    new = Config.model_validate(base)
    old = Config.model_validate(base | {
        "features": {"directions": old_directions()},
        "training": base["training"] | OLD})
    dataset = open_data(new)
    rows = []
    for label, config in (("before", old), ("new", new)):
        started = time.perf_counter()
        frame, metas = matrix_inputs(build_features(config, dataset))
        past, future = held_back_period(frame, config)
        run = train_and_evaluate(past, metas, config.training, config.features.horizon_days,
                                 config.seed)
        seconds = time.perf_counter() - started
        for name, result in run.results.items():
            fits = [(label, result.health_model)]
            if label == "new":
                fits = [("new, eval fit", result.evaluated_model),
                        ("new, refit", result.health_model)]
            for what, model in fits:
                rows.append({"model": name, "defaults": what, "train_rows": len(past),
                             "future_rows": len(future), "seconds": round(seconds),
                             **score_on(model, future, config.training.label, seed, n_boot)})
    return pd.DataFrame(rows)


def print_comparison(table: pd.DataFrame) -> None:
    """One line per model and configuration, and the verdict per model."""
    for _, r in table.iterrows():
        print(f"{r.model:<10} {r.defaults:<14} PR-AUC {r.pr_auc:.3f} [{r.pr_low:.3f}, "
              f"{r.pr_high:.3f}]  ROC-AUC {r.roc_auc:.3f} [{r.roc_low:.3f}, {r.roc_high:.3f}]  "
              f"ECE {r.ece:.3f}  TreeSHAP {r.shap_ms_row:.3f} ms/row  ({r.train_rows:,} rows "
              f"before, {r.future_rows:,} scored, {r.seconds}s)")
    for name, group in table.groupby("model", sort=False):
        before = group[group["defaults"] == "before"].iloc[0]
        after = group[group["defaults"] == "new, refit"].iloc[0]
        if after.pr_low > before.pr_auc:
            verdict = "better beyond the interval"
        elif after.pr_high < before.pr_auc:
            verdict = "WORSE beyond the interval"
        else:
            verdict = "within the interval"
        print(f"{name}: PR-AUC {before.pr_auc:.3f} -> {after.pr_auc:.3f} ({verdict})")


def main(argv: list[str] | None = None) -> None:
    """Build the world (once), run both configurations, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--months", type=int, default=36)  # the held-back period needs room
    parser.add_argument("--shapes", nargs="+", default=["saas:realistic", "monthly:realistic"],
                        help="business:difficulty pairs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--world", type=Path, help="an existing world directory")
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    worlds = [args.world] if args.world else [
        ensure_world(args.accounts, args.months, args.seed, *shape.split(":"))
        for shape in args.shapes]
    for world in worlds:
        print(f"\n{world.name}: today's defaults vs the new ones, scored on a period neither saw")
        print_comparison(compare_defaults(world, args.seed, args.bootstrap))


if __name__ == "__main__":
    main()
