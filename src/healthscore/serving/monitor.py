"""Live accuracy: the score history joined with the outcomes that have matured since.

A scoring date *d* has matured on ``as_of`` when its whole label window (``horizon_days``
plus, for contract churn, ``grace_days``) lies before ``as_of``. Its outcomes come from the
same spine and label definition training uses
(:func:`healthscore.features.snapshots.build_spine`), so "churned" means here exactly what the
model was trained to predict.

Every figure is a ratio of sums over rows (recall = TP / (TP + FN), a band's churn rate =
its churners / its accounts, observed / expected churners = churners / Σp). Intervals of F1
and observed / expected come from a bootstrap that resamples *accounts* (an account scored
twelve times is one draw, not twelve), so a cumulative figure over many monthly scorings is
not made to look surer than it is; shares of counts (recall, a band's churn rate, ...) use
Wilson's interval with each account counted once. Nothing here reads MLflow or writes files:
:mod:`healthscore.pipeline.compose` does.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthscore.model.bands import Band, band_index, health_range_label
from healthscore.stats import wilson_interval

log = logging.getLogger(__name__)

# The seeds' targets for a health score run live (shown beside the figures, not enforced).
TARGETS: dict[str, float] = {"recall": 0.75, "tnr": 0.85, "accuracy": 0.80}
METRIC_LABELS: dict[str, str] = {
    "recall": "Recall (churners flagged at risk, TPR)",
    "tnr": "True negative rate (stayers not flagged, TNR)",
    "precision": "Precision (flagged accounts that churned)",
    "accuracy": "Accuracy",
    "f1": "F1",
    "churn_rate": "Churn rate (observed)",
    "expected_rate": "Churn rate (predicted, mean p)",
    "observed_over_expected": "Observed / expected churners",
}
# ratio -> (numerator {column: weight}, denominator {column: weight}); columns of _indicators
RATIOS: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "recall": ({"tp": 1}, {"tp": 1, "fn": 1}),
    "tnr": ({"tn": 1}, {"tn": 1, "fp": 1}),
    "precision": ({"tp": 1}, {"tp": 1, "fp": 1}),
    "accuracy": ({"tp": 1, "tn": 1}, {"one": 1}),
    "f1": ({"tp": 2}, {"tp": 2, "fp": 1, "fn": 1}),
    "churn_rate": ({"y": 1}, {"one": 1}),
    "expected_rate": ({"p": 1}, {"one": 1}),
    "observed_over_expected": ({"y": 1}, {"p": 1}),
}
PROPORTIONS = ("recall", "tnr", "precision", "accuracy", "churn_rate")
ALPHA = 0.05


@dataclass(frozen=True)
class Promise:
    """What the validation report of the scoring model promised (its test period)."""

    run_id: str
    version: str
    metrics: Mapping[str, float]  # test_recall, test_recall_ci_low, ... as MLflow holds them
    bands: pd.DataFrame  # band, accounts, churners, churn_rate, low, high

    def figure(self, name: str) -> tuple[float, float, float]:
        """(value, low, high) of test metric ``name`` (NaN when the run lacks it)."""
        get = self.metrics.get
        return (float(get(f"test_{name}", np.nan)), float(get(f"test_{name}_ci_low", np.nan)),
                float(get(f"test_{name}_ci_high", np.nan)))


@dataclass(frozen=True)
class Thresholds:
    """When live accuracy is bad enough for ``monitor`` to exit non-zero (see MonitoringConfig)."""

    min_recall: float | None = None
    recall_tolerance: float = 0.15
    recall_share: float = 0.5
    max_calibration_ratio: float = 1.5
    recent_dates: int = 3


@dataclass(frozen=True)
class Check:
    """One monitoring check: pass, fail or skipped, with the numbers behind it."""

    name: str
    status: str
    detail: str


@dataclass
class LiveAccuracy:
    """Everything ``monitor`` reports."""

    as_of: dt.date
    threshold: float
    rows: pd.DataFrame  # one row per (scoring date, account) with its outcome
    per_date: pd.DataFrame
    cumulative: pd.DataFrame  # metric, value, low, high, target, promised...
    recent: pd.DataFrame
    bands: pd.DataFrame
    calibration: pd.DataFrame
    misses: pd.DataFrame
    false_alarms: pd.DataFrame
    checks: list[Check]
    promise: Promise | None
    waiting: list[dt.date] = field(default_factory=list)  # scored, outcome not matured yet
    window: list[dt.date] = field(default_factory=list)  # the dates the checks look at

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.status == "fail"]


# --------------------------------------------------------------------------- maturity and join


def label_window_days(horizon_days: int, grace_days: int) -> int:
    """Days after a scoring date its outcome needs: the horizon plus the grace period."""
    return int(horizon_days) + int(grace_days)


def matured_dates(dates: Sequence[dt.date], as_of: dt.date, window_days: int) -> list[dt.date]:
    """The scoring dates whose label window (``window_days`` from the date on) ends before
    ``as_of``: their outcomes are known on ``as_of``."""
    return sorted(d for d in set(dates) if d + dt.timedelta(days=window_days) <= as_of)


def join_outcomes(history: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """History rows with their outcome (``churned``); rows without an observed outcome are
    dropped (logged). ``outcomes``: account_id (text), as_of, churned, observed."""
    keyed = outcomes.assign(account_id=outcomes["account_id"].astype("string").astype(object))
    joined = history.merge(keyed, on=["as_of", "account_id"], how="left")
    missing = joined["observed"].isna() | ~joined["observed"].fillna(False).astype(bool)
    if missing.any():
        log.warning("%d scored rows have no observed outcome (account not in the data's "
                    "spine on its scoring date); left out", int(missing.sum()))
    out = joined[~missing].drop(columns="observed").copy()
    out["churned"] = out["churned"].astype(bool)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- ratios and intervals


def _indicators(rows: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per row: tp, fp, fn, tn at health < ``threshold``, y, p and one."""
    y = rows["churned"].to_numpy(bool)
    flag = rows["model_health"].to_numpy(float) < threshold
    return pd.DataFrame({
        "tp": (y & flag).astype(float), "fp": (~y & flag).astype(float),
        "fn": (y & ~flag).astype(float), "tn": (~y & ~flag).astype(float),
        "y": y.astype(float), "p": rows["churn_probability"].to_numpy(float),
        "one": np.ones(len(rows)),
    }, index=rows.index)


def _ratio(sums: pd.DataFrame | pd.Series, spec: tuple[dict[str, float], dict[str, float]]):
    num = sum(w * sums[c] for c, w in spec[0].items())
    den = sum(w * sums[c] for c, w in spec[1].items())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(den) > 0, np.asarray(num, dtype=float) / np.asarray(den), np.nan)


def ratio_table(columns: pd.DataFrame, accounts: pd.Series,
                ratios: Mapping[str, tuple[dict[str, float], dict[str, float]]],
                n_boot: int = 400, seed: int = 0,
                proportions: Sequence[str] = ()) -> pd.DataFrame:
    """Each ratio of column sums with a 95 % interval.

    ``columns`` holds one row per scored row; ``accounts`` the account of each row. Ratios
    named in ``proportions`` (a share of counts) get Wilson's interval with n = the accounts
    in the denominator, the others a bootstrap over accounts (rows of one account are drawn
    together, Poisson weights). Returns metric, value, low, high."""
    per_account = columns.groupby(accounts.to_numpy(), sort=True).sum()
    totals = per_account.sum()
    values = {name: float(_ratio(totals, spec)) for name, spec in ratios.items()}
    lows = dict.fromkeys(ratios, np.nan)
    highs = dict.fromkeys(ratios, np.nan)
    if n_boot > 0 and len(per_account):
        rng = np.random.default_rng(seed)
        weights = rng.poisson(1.0, size=(n_boot, len(per_account))).astype(float)
        boot = pd.DataFrame(weights @ per_account.to_numpy(float), columns=per_account.columns)
        for name, spec in ratios.items():
            draws = _ratio(boot, spec)
            draws = draws[np.isfinite(draws)]
            if len(draws) >= max(10, n_boot // 2):
                lows[name], highs[name] = np.quantile(draws, [ALPHA / 2, 1 - ALPHA / 2])
    for name in set(ratios) & set(proportions):
        # a share of counts: Wilson's interval counting each account once (never zero wide,
        # as a bootstrap is when every draw is 100 %)
        den = sum(w * per_account[c] for c, w in ratios[name][1].items())
        n = int((den > 0).sum())
        if np.isfinite(values[name]) and n:
            lows[name], highs[name] = wilson_interval(values[name] * n, n)
    return pd.DataFrame({"metric": list(ratios), "value": [values[m] for m in ratios],
                         "low": [lows[m] for m in ratios], "high": [highs[m] for m in ratios]})


def accuracy_figures(rows: pd.DataFrame, threshold: float, n_boot: int = 400,
                     seed: int = 0) -> pd.DataFrame:
    """Recall, TNR, precision, accuracy, F1, churn rates and observed/expected of ``rows``,
    each with its interval (metric, value, low, high, plus rows, churners, flagged)."""
    return ratio_table(_indicators(rows, threshold), rows["account_id"], RATIOS, n_boot, seed,
                       PROPORTIONS)


def per_date_table(rows: pd.DataFrame, threshold: float, n_boot: int = 400,
                   seed: int = 0) -> pd.DataFrame:
    """One row per scoring date: accounts, churners, flagged, each figure and its interval
    (columns ``recall``, ``recall_low``, ``recall_high``, ...), model version."""
    out = []
    for day, part in rows.groupby("as_of", sort=True):
        figures = accuracy_figures(part, threshold, n_boot, seed).set_index("metric")
        record: dict[str, object] = {
            "as_of": day, "accounts": len(part), "churners": int(part["churned"].sum()),
            "flagged": int((part["model_health"] < threshold).sum()),
            "model_version": ", ".join(sorted(set(part["model_version"].astype(str)))),
        }
        for metric, row in figures.iterrows():
            record |= {metric: row["value"], f"{metric}_low": row["low"],
                       f"{metric}_high": row["high"]}
        out.append(record)
    return pd.DataFrame(out)


def band_table(rows: pd.DataFrame, bands: Sequence[Band], promise: Promise | None,
               n_boot: int = 400, seed: int = 0) -> pd.DataFrame:
    """Churn rate per band (model health, the validation report's bands) live and promised,
    with intervals and whether the two intervals overlap."""
    index = band_index(rows["model_health"].to_numpy(float), bands)
    y = rows["churned"].to_numpy(float)
    columns = {}
    ratios = {}
    for i, band in enumerate(bands):
        columns[f"in_{i}"] = (index == i).astype(float)
        columns[f"churn_{i}"] = ((index == i) * y).astype(float)
        ratios[band.name] = ({f"churn_{i}": 1}, {f"in_{i}": 1})
    live = ratio_table(pd.DataFrame(columns, index=rows.index), rows["account_id"], ratios,
                       n_boot, seed, proportions=list(ratios)).set_index("metric")
    out = []
    promised = promise.bands.set_index("band") if promise is not None else pd.DataFrame()
    for i, band in enumerate(bands):
        record = {"band": band.name,
                  "health_range": health_range_label(band, i == len(bands) - 1),
                  "rows": int((index == i).sum()), "churners": int(y[index == i].sum()),
                  "churn_rate": live.loc[band.name, "value"],
                  "low": live.loc[band.name, "low"], "high": live.loc[band.name, "high"]}
        if band.name in promised.index:
            p = promised.loc[band.name]
            record |= {"promised": float(p["churn_rate"]), "promised_low": float(p["low"]),
                       "promised_high": float(p["high"])}
            record["reproduced"] = _overlap((record["low"], record["high"]),
                                            (record["promised_low"], record["promised_high"]))
        out.append(record)
    return pd.DataFrame(out)


def promised_bands(band_rows: pd.DataFrame) -> pd.DataFrame:
    """The validation report's band table (band, accounts, churners, churn_rate) with Wilson
    intervals of each churn rate."""
    frame = band_rows.copy()
    intervals = [wilson_interval(c, a) for c, a in zip(frame["churners"], frame["accounts"],
                                                       strict=True)]
    frame["low"] = [i[0] for i in intervals]
    frame["high"] = [i[1] for i in intervals]
    return frame[["band", "accounts", "churners", "churn_rate", "low", "high"]]


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> str:
    if any(not np.isfinite(v) for v in (*a, *b)):
        return "n/a"
    return "yes" if a[0] <= b[1] and b[0] <= a[1] else "no"


def calibration_table(rows: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn per probability decile of the pooled rows."""
    p = rows["churn_probability"].to_numpy(float)
    y = rows["churned"].to_numpy(float)
    if len(p) == 0:
        return pd.DataFrame(columns=["bin", "rows", "predicted", "observed", "low", "high"])
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for b in np.unique(which):
        at = which == b
        low, high = wilson_interval(y[at].sum(), at.sum())
        out.append({"bin": int(b) + 1, "rows": int(at.sum()), "predicted": float(p[at].mean()),
                    "observed": float(y[at].mean()), "low": low, "high": high})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- accounts and drivers


def risk_drivers(points_json: str, top: int = 3) -> str:
    """The ``top`` features that took most health points from an account when it was scored,
    from the history's per-feature points (``"days_past_due −12.5 pts; ..."``)."""
    try:
        points = json.loads(points_json) if points_json else {}
    except json.JSONDecodeError:
        return ""
    worst = sorted(((v, k) for k, v in points.items() if v < 0))[:top]
    return "; ".join(f"{k} {v:+.1f} pts".replace("-", "−") for v, k in worst)


def listed_accounts(rows: pd.DataFrame, threshold: float, which: str,
                    reasons: pd.DataFrame | None = None,
                    bands: Sequence[Band] | None = None) -> pd.DataFrame:
    """Misses (churned though not flagged at risk: most surprising first) or false alarms
    (flagged, stayed: most ARR first), with the drivers they had when scored.

    Misses and false alarms are the model's (``model_health``); ``model_band`` is its band
    by ``bands`` (when given) and ``as_scored`` says where the scoring run said otherwise: a
    hard stop that lowered health (a miss the run still caught) or a band override.

    ``reasons`` (optional: as_of, account_id, drivers, and name and owner when the score
    files have them) holds the driver sentences of the score files; without them the drivers
    come from the history's points. Name and owner, when given, follow ``account_id``."""
    flagged = rows["model_health"] < threshold
    if which == "misses":
        picked = rows[rows["churned"] & ~flagged].sort_values(["model_health", "arr"],
                                                              ascending=[False, False])
    else:
        picked = rows[~rows["churned"] & flagged].sort_values(["arr", "model_health"],
                                                              ascending=[False, True])
    out = picked[["as_of", "account_id", "segment", "arr", "health", "model_health", "band",
                  "churn_probability", "model_version"]].copy()
    out["model_band"] = (np.array([b.name for b in bands], dtype=object)[
        band_index(picked["model_health"].to_numpy(float), bands)] if bands else out["band"])
    out["as_scored"] = as_scored(out)
    out["drivers"] = [risk_drivers(j) for j in picked["points_json"]]
    if reasons is not None and not reasons.empty:
        merged = out[["as_of", "account_id"]].merge(reasons, on=["as_of", "account_id"],
                                                    how="left")
        sentences = merged["drivers"].fillna("").to_numpy(object)
        out["drivers"] = np.where(sentences != "", sentences, out["drivers"].to_numpy(object))
        for offset, column in enumerate(c for c in ("name", "owner") if c in merged):
            out.insert(2 + offset, column, merged[column].fillna("").astype(str).to_numpy())
    return out.reset_index(drop=True)


def as_scored(listed: pd.DataFrame) -> list[str]:
    """Per listed row, what the scoring run said where it differs from the model alone: its
    health and band after a hard stop, or its band after an override; empty when the same."""
    out = []
    for health, model_health, band, model_band in zip(
            listed["health"], listed["model_health"], listed["band"], listed["model_band"],
            strict=True):
        if np.isfinite(health) and abs(health - model_health) > 1e-9:
            out.append(f"{health:.1f} {band} (hard stop)")
        elif band != model_band:
            out.append(f"{band} (band override)")
        else:
            out.append("")
    return out


# --------------------------------------------------------------------------- checks


def recent_rows(rows: pd.DataFrame, n_dates: int) -> pd.DataFrame:
    """The rows of the newest ``n_dates`` matured scoring dates."""
    dates = sorted(set(rows["as_of"]))[-n_dates:]
    return rows[rows["as_of"].isin(dates)]


def recall_floor(thresholds: Thresholds, promise: Promise | None) -> tuple[float | None, str]:
    """The recall below which live recall fails, and where it comes from; None and why not
    when there is no floor (none configured and no validation recall, or a floor at or below
    0 %, which could never fail).

    Without ``min_recall`` the floor is the higher of the validation recall minus
    ``recall_tolerance`` and ``recall_share`` of it: 15 points below a validation recall of
    60 % (45 %), half of one of 10 % (5 %), where 15 points below would be no floor at all."""
    if thresholds.min_recall is not None:
        return thresholds.min_recall, "monitoring.min_recall"
    if promise is not None and np.isfinite(promise.figure("recall")[0]):
        value = promise.figure("recall")[0]
        tolerance, share = thresholds.recall_tolerance, thresholds.recall_share
        below, part = value - tolerance, value * share
        if max(below, part) <= 0:
            return None, (f"the validation recall {value:.1%} less recall_tolerance "
                          f"{tolerance:.0%} and recall_share {share:.0%} of it are both 0 % or "
                          "less, so live recall could never fall below them; set "
                          "monitoring.min_recall for a floor")
        if below >= part:
            return below, f"validation recall {value:.1%} − recall_tolerance {tolerance:.0%}"
        return part, f"recall_share {share:.0%} of the validation recall {value:.1%}"
    return None, "no monitoring.min_recall and no validation recall to compare with"


def run_checks(recent: pd.DataFrame, thresholds: Thresholds, promise: Promise | None,
               dates: Sequence[dt.date]) -> list[Check]:
    """Fail when the recent window's recall is clearly (its whole interval) below the floor,
    or its observed/expected churners clearly outside [1/ratio, ratio]."""
    fig = recent.set_index("metric")
    window = (f"newest {len(dates)} matured scoring date(s) {dates[0]} .. {dates[-1]}"
              if dates else "no matured date")
    checks = []
    floor, source = recall_floor(thresholds, promise)
    value, low, high = fig.loc["recall", ["value", "low", "high"]]
    if floor is None:
        checks.append(Check("live recall", "skipped", source))
    elif not np.isfinite(value):
        checks.append(Check("live recall", "skipped", f"no churner in the {window}"))
    else:
        status = "fail" if np.isfinite(high) and high < floor else "pass"
        checks.append(Check("live recall", status, f"{_ci(value, low, high)} over the {window}; "
                            f"floor {floor:.1%} ({source})"))
    ratio = thresholds.max_calibration_ratio
    value, low, high = fig.loc["observed_over_expected", ["value", "low", "high"]]
    if not np.isfinite(value):
        checks.append(Check("calibration", "skipped", f"no prediction in the {window}"))
    else:
        bad = np.isfinite(low) and (low > ratio or high < 1 / ratio)
        checks.append(Check("calibration", "fail" if bad else "pass",
                            f"observed / expected churners {value:.2f} [{low:.2f}, {high:.2f}] "
                            f"over the {window}; allowed {1 / ratio:.2f} .. {ratio:.2f} "
                            "(monitoring.max_calibration_ratio)"))
    return checks


def _ci(value: float, low: float, high: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.1%}"
    return f"{value:.1%} [{low:.1%}, {high:.1%}]"


# --------------------------------------------------------------------------- the whole evaluation


def evaluate_live(rows: pd.DataFrame, as_of: dt.date, threshold: float, bands: Sequence[Band],
                  thresholds: Thresholds, promise: Promise | None, n_boot: int = 400,
                  seed: int = 0, reasons: pd.DataFrame | None = None,
                  waiting: Sequence[dt.date] = ()) -> LiveAccuracy:
    """Live accuracy of scored rows whose outcomes have matured (see the module docstring)."""
    cumulative = with_targets(accuracy_figures(rows, threshold, n_boot, seed), promise)
    dates = sorted(set(rows["as_of"]))
    window = dates[-thresholds.recent_dates:]
    recent = with_targets(accuracy_figures(recent_rows(rows, thresholds.recent_dates), threshold,
                                           n_boot, seed), promise)
    return LiveAccuracy(
        as_of=as_of, threshold=threshold, rows=rows,
        per_date=per_date_table(rows, threshold, n_boot, seed), cumulative=cumulative,
        recent=recent, bands=band_table(rows, bands, promise, n_boot, seed),
        calibration=calibration_table(rows),
        misses=listed_accounts(rows, threshold, "misses", reasons, bands),
        false_alarms=listed_accounts(rows, threshold, "false_alarms", reasons, bands),
        checks=run_checks(recent, thresholds, promise, window), promise=promise,
        waiting=list(waiting), window=list(window))


def with_targets(figures: pd.DataFrame, promise: Promise | None) -> pd.DataFrame:
    """Add the seeds' target and the validation report's figure (with its interval) to each
    metric, and whether the live interval overlaps the promised one."""
    out = figures.copy()
    out["target"] = [TARGETS.get(m, np.nan) for m in out["metric"]]
    promised = [promise.figure(m) if promise is not None else (np.nan,) * 3
                for m in out["metric"]]
    out["promised"] = [p[0] for p in promised]
    out["promised_low"] = [p[1] for p in promised]
    out["promised_high"] = [p[2] for p in promised]
    out["reproduced"] = [_overlap((r.low, r.high), (r.promised_low, r.promised_high))
                         for r in out.itertuples()]
    return out


def summary_metrics(live: LiveAccuracy) -> dict[str, float]:
    """Flat metrics for MLflow: ``live_<metric>`` (cumulative), ``live_recent_<metric>`` and
    their interval bounds, the number of matured dates and rows."""
    out: dict[str, float] = {"live_matured_dates": float(live.per_date.shape[0]),
                             "live_rows": float(len(live.rows))}
    for prefix, table in (("live", live.cumulative), ("live_recent", live.recent)):
        for r in table.itertuples():
            out |= {f"{prefix}_{r.metric}": r.value, f"{prefix}_{r.metric}_ci_low": r.low,
                    f"{prefix}_{r.metric}_ci_high": r.high}
    return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(v)}


def csv_table(live: LiveAccuracy) -> pd.DataFrame:
    """The per-date figures followed by a ``cumulative`` row (the monitor CSV)."""
    total = {"as_of": "cumulative", "accounts": len(live.rows),
             "churners": int(live.rows["churned"].sum()),
             "flagged": int((live.rows["model_health"] < live.threshold).sum()),
             "model_version": ", ".join(sorted(set(live.rows["model_version"].astype(str))))}
    for r in live.cumulative.itertuples():
        total |= {r.metric: r.value, f"{r.metric}_low": r.low, f"{r.metric}_high": r.high}
    per = live.per_date.assign(as_of=live.per_date["as_of"].astype(str))
    return pd.concat([per, pd.DataFrame([total])], ignore_index=True)


def accounts_csv(live: LiveAccuracy) -> pd.DataFrame:
    """Misses and false alarms in one table (column ``kind``)."""
    return pd.concat([live.misses.assign(kind="miss"),
                      live.false_alarms.assign(kind="false alarm")], ignore_index=True)
