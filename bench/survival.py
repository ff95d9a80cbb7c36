"""The discrete-time survival model against direct per-horizon classifiers, on synthetic worlds.

Usage: python bench/survival.py [--accounts 6000] [--months 36] [--seed 7]
       [--shapes saas:realistic monthly:realistic] [--horizons 30 90 180 365]
       [--health-horizon 365] [--kinds lightgbm logistic] [--bootstrap 200]

For each world: features (cached), a test period observed for the longest horizon the history
allows (earlier snapshots censored at the test start; 20 % of their accounts tune and
calibrate), then the survival model (LightGBM and logistic score) and one direct LightGBM
classifier per horizon. Printed: per horizon and model, test ROC-AUC (the time-dependent,
cumulative/dynamic AUC: every test row is observed for the horizon) with a bootstrap 95 %
interval, calibration error and Brier score; the integrated Brier score over the horizons with
a paired-bootstrap interval of survival minus direct; the concordance index; the spread of
health on the health horizon (share of accounts between 25 and 95); churn rate per band (the
default bands and ``bands: auto`` by lift over the base rate) at every horizon with Wilson
intervals; the top band's renewal rate; fit and score+explain times. Then the issue's checks.

``--expansion``: also the expansion readiness model (LightGBM on ``label_expansion``, the
training pipeline's split) with its test ROC-AUC and bootstrap interval, per world.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd
from common import ensure_world

from healthscore.model.artifact import HealthModel, health_from_probability
from healthscore.model.bands import (
    DEFAULT_BANDS,
    band_index,
    band_thresholds_by_lift,
    band_thresholds_by_share,
    default_named_bands,
)
from healthscore.model.explain import health_points
from healthscore.pipeline.compose import build_features, open_data
from healthscore.pipeline.config import Config
from healthscore.training.horizons import band_churn_by_horizon, strictly_ordered
from healthscore.training.metrics import (
    bootstrap_intervals,
    brier_score,
    expected_calibration_error,
    roc_auc,
)
from healthscore.training.survival import (
    CHURN_DAYS,
    OBSERVED_DAYS,
    NoCalibration,
    concordance_index,
    fit_survival,
    horizon_outcomes,
    survival_split,
)
from healthscore.training.train import (
    feature_infos,
    feature_meta,
    fit_health_model,
    informative_features,
    resolve_directions,
    train_and_evaluate,
)


def labelled_at(frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Rows observed for ``horizon`` days with ``label_churn`` = churned within it."""
    observed, churned = horizon_outcomes(frame, horizon)
    out = frame[observed].copy()
    out["label_churn"] = churned[observed]
    return out


def band_cells(table: pd.DataFrame) -> list[str]:
    """'name rate [low-high] n=N' per band of one horizon's rows of a band-churn table."""
    return [f"{r.band} {r.churn_rate:.3f} [{r.ci_low:.3f}-{r.ci_high:.3f}] n={r.accounts}"
            for r in table.itertuples()]


def run_world(business: str, difficulty: str, args: argparse.Namespace) -> dict[str, bool]:
    """Fit and compare on one world; print its tables; return the issue's checks."""
    world = ensure_world(args.accounts, args.months, args.seed, business, difficulty)
    config = Config.model_validate({"workdir": str(world.parent / f"{world.name}-work"),
                                    "seed": args.seed, "data": {"dir": str(world)}})
    matrix = build_features(config, open_data(config))
    frame = matrix.frame[matrix.frame[OBSERVED_DAYS].notna()]
    horizons = sorted(args.horizons)
    split = survival_split(frame, horizons, seed=args.seed)
    health_h = min(args.health_horizon, split.horizon_days)
    print(f"\n## {business} / {difficulty}: {world.name}; test snapshots from "
          f"{split.test_start.date()}, {len(split.test):,} test rows, train {len(split.train):,}"
          f", validation {len(split.valid):,}; health horizon {health_h} days")
    for note in split.notes:
        print("note:", note)
    metas = feature_meta(matrix.features)
    train90 = labelled_at(split.train, 90)
    metas, _ = informative_features(train90, metas)
    findings = resolve_directions(metas, train90, config.training, args.seed)
    infos = feature_infos(metas, findings)
    test = split.test
    probabilities: dict[str, dict[int, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    models: dict[str, HealthModel] = {}
    for kind in args.kinds:
        started = time.perf_counter()
        model = fit_survival(kind, infos, split.train, split.valid, config.training, args.seed,
                             horizons, health_h)
        seconds[f"survival_{kind}"] = time.perf_counter() - started
        used = set(model.feature_names)
        health_model = HealthModel(model, NoCalibration(), [m for m in metas if m.name in used],
                                   "label_churn", health_h)
        models[f"survival_{kind}"] = health_model
        z = model.raw_score(test)
        probabilities[f"survival_{kind}"] = {h: model.proba_within(z, h) for h in horizons}
    started = time.perf_counter()
    direct: dict[int, np.ndarray] = {}
    for h in horizons:
        train_h = labelled_at(split.train, h)
        valid_h = labelled_at(split.valid, h)
        if train_h["label_churn"].nunique() < 2 or valid_h["label_churn"].nunique() < 2:
            continue
        hm = fit_health_model("lightgbm", train_h, valid_h, metas, config.training, h,
                              args.seed, findings)
        direct[h] = hm.predict_proba(test)
        if h == health_h:
            models["direct_lightgbm"] = hm
    seconds["direct_lightgbm (all horizons)"] = time.perf_counter() - started
    probabilities["direct_lightgbm"] = direct

    print("\n| model | horizon | test ROC-AUC [95 % CI] | ECE | Brier | base rate |")
    print("|---|---|---|---|---|---|")
    ece_ok, briers = True, {}
    for name, per_h in probabilities.items():
        briers[name] = {}
        for h, p in per_h.items():
            observed, y = horizon_outcomes(test, h)
            yy, pp = y[observed].astype(int), p[observed]
            if len(np.unique(yy)) < 2:
                print(f"| {name} | {h} | not observed in the test period | | | |")
                continue
            ci = bootstrap_intervals(yy, pp, {"roc_auc": roc_auc}, args.bootstrap,
                                     args.seed).iloc[0]
            ece = expected_calibration_error(yy, pp)
            briers[name][h] = brier_score(yy, pp)
            if name.startswith("survival") and name.endswith("lightgbm"):
                ece_ok &= ece <= 0.03
            print(f"| {name} | {h} | {ci.estimate:.3f} [{ci.low:.3f}, {ci.high:.3f}] | "
                  f"{ece:.4f} | {briers[name][h]:.4f} | {yy.mean():.3f} |")

    # integrated Brier score over the horizons (trapezoid, normalised), paired bootstrap
    common = [h for h in horizons if h in direct and horizon_outcomes(test, h)[0].any()]
    observed, _ = horizon_outcomes(test, max(common))
    ys = {h: horizon_outcomes(test, h)[1][observed].astype(float) for h in common}

    def ibs(per_h: dict[int, np.ndarray], rows: np.ndarray) -> float:
        values = [np.mean((per_h[h][observed][rows] - ys[h][rows]) ** 2) for h in common]
        return float(np.trapezoid(values, common) / (common[-1] - common[0]))

    n = int(observed.sum())
    rng = np.random.default_rng(args.seed)
    every = np.arange(n)
    best_survival = f"survival_{args.kinds[0]}"
    diffs = []
    for _ in range(args.bootstrap):
        rows = rng.integers(0, n, n)
        diffs.append(ibs(probabilities[best_survival], rows)
                     - ibs(probabilities["direct_lightgbm"], rows))
    low, high = np.percentile(diffs, [2.5, 97.5])
    ibs_s = ibs(probabilities[best_survival], every)
    ibs_d = ibs(probabilities["direct_lightgbm"], every)
    print(f"\nintegrated Brier score over {common}: {best_survival} {ibs_s:.4f}, "
          f"direct_lightgbm {ibs_d:.4f}; difference {ibs_s - ibs_d:+.4f} "
          f"[{low:+.4f}, {high:+.4f}]")
    churn_days, observed_days = (test[c].to_numpy(float) for c in (CHURN_DAYS, OBSERVED_DAYS))
    for name in probabilities:
        if name.startswith("survival"):
            c_index = concordance_index(probabilities[name][health_h], churn_days, observed_days)
            print(f"concordance index ({name}, risk = P(churn within {health_h}d)): "
                  f"{c_index:.3f}")

    # spread and bands on the health horizon (the first survival kind)
    p_h = probabilities[best_survival][health_h]
    health = health_from_probability(p_h)
    spread = float(np.mean((health >= 25) & (health <= 95)))
    print(f"\nhealth on {health_h} days ({best_survival}): between 25 and 95: {spread:.1%}; "
          f"quantiles 5/25/50/75/95 %: "
          + ", ".join(f"{q:.1f}" for q in np.percentile(health, [5, 25, 50, 75, 95])))
    survival_model = models[best_survival].model
    p_train = survival_model.proba_within(survival_model.raw_score(split.train), health_h)
    automatic = list(default_named_bands(band_thresholds_by_lift(p_train)))
    by_share = list(default_named_bands(band_thresholds_by_share(p_train)))
    for label, bands in (("auto (lift 3x / 1.5x / 1x the training mean "
                          f"{np.mean(p_train):.3f})", automatic),
                         ("auto, band_rule share (5 / 15 / 35 %)", by_share)):
        print(f"bands: {label}: " + ", ".join(f"{b.name} [{b.low:g}, {min(b.high, 100):g})"
                                             for b in bands))
    ordered = {}
    for label, bands in (("default", list(DEFAULT_BANDS)), ("auto", automatic),
                         ("share", by_share)):
        table = band_churn_by_horizon(health, test[CHURN_DAYS].to_numpy(float),
                                      test[OBSERVED_DAYS].to_numpy(float), horizons, bands)
        for h, in_order in strictly_ordered(table).items():
            if not table.loc[table["horizon_days"] == h, "accounts"].any():
                continue  # not observed in the test period: no check
            ordered[(label, h)] = in_order
            cells = band_cells(table[table["horizon_days"] == h])
            print(f"  {label} bands, churn within {h}d: " + "; ".join(cells)
                  + f"  (strictly ordered: {in_order})")
        top = band_index(health, bands) == len(bands) - 1
        observed_h, y = horizon_outcomes(test, health_h)
        renew = 1 - y[observed_h & top].mean()
        outside = 1 - top.mean()
        caught = band_index(health, bands) <= 1
        observed_365, y365 = horizon_outcomes(test, max(horizons))
        churners = observed_365 & y365
        recall = caught[churners].mean() if churners.any() else float("nan")
        print(f"  {label} bands: top band renews {renew:.1%} within {health_h}d; outside the "
              f"top band {outside:.1%}; Critical + At risk catch {recall:.1%} of the "
              f"{max(horizons)}-day churners")
        ordered[(label, "outside")] = outside
        ordered[(label, "recall")] = recall

    # timing: score + explain on the test rows
    for name, hm in models.items():
        started = time.perf_counter()
        health_points(hm, test)
        elapsed = time.perf_counter() - started
        print(f"score+explain {name}: {elapsed:.2f}s for {len(test):,} rows")
    for name, s in seconds.items():
        print(f"fit {name}: {s:.1f}s")
    checks: dict[str, bool] = {}
    if args.expansion:
        expansion = config.training.model_copy(update={"label": "label_expansion",
                                                         "models": ["lightgbm"],
                                                         "bootstrap": args.bootstrap})
        labelled = matrix.frame[matrix.frame["label_observed"].astype(bool)]
        run = train_and_evaluate(labelled, feature_meta(matrix.features), expansion,
                                 config.features.horizon_days, args.seed)
        result = run.results["lightgbm"]
        ci = result.test.intervals.set_index("metric").loc["roc_auc"]
        auc = result.test.overall["roc_auc"]
        print(f"\nexpansion readiness (LightGBM on label_expansion within "
              f"{config.features.horizon_days}d): test ROC-AUC {auc:.3f} [{ci.low:.3f}, "
              f"{ci.high:.3f}], test base rate {run.positives.get('test', float('nan')):.3f}")
        checks[f"{business}: expansion ROC-AUC above 0.5 beyond the CI"] = ci.low > 0.5
    if business == "saas":
        checks["saas: >= 30 % of accounts with health in [25, 95]"] = spread >= 0.30
        checks["saas: churn rate per band strictly ordered at every horizon (auto bands)"] = all(
            ordered.get(("auto", h), True) for h in horizons)
        checks["saas: churn rate per band strictly ordered at every horizon (default bands)"] = (
            all(ordered.get(("default", h), True) for h in horizons))
        checks["saas: calibration error <= 0.03 at every horizon"] = ece_ok
        checks["saas: survival IBS no worse than direct (within CI)"] = low <= 0
    if business == "monthly":
        checks["monthly: >= 10 % outside Healthy (auto bands)"] = ordered[("auto", "outside")] >= .1
        checks["monthly: Critical + At risk catch >= 60 % of 365-day churners (auto bands)"] = (
            ordered[("auto", "recall")] >= 0.6)
        checks["monthly: Critical + At risk catch >= 60 % of 365-day churners (share bands)"] = (
            ordered[("share", "recall")] >= 0.6)
    return checks


def main(argv: list[str] | None = None) -> None:
    """Run every world and print the checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=6_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shapes", nargs="+", default=["saas:realistic", "monthly:realistic"])
    parser.add_argument("--horizons", nargs="+", type=int, default=[30, 90, 180, 365])
    parser.add_argument("--health-horizon", type=int, default=365)
    parser.add_argument("--kinds", nargs="+", default=["lightgbm", "logistic"])
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--expansion", action="store_true",
                        help="also the expansion readiness model's test ROC-AUC")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    checks: dict[str, bool] = {}
    for shape in args.shapes:
        business, difficulty = shape.split(":")
        checks |= run_world(business, difficulty, args)
    print("\nchecks:")
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")


if __name__ == "__main__":
    main()
