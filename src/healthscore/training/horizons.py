"""Validation of a survival model at every horizon: what health means 30, 90, 180 and 365 days on.

A survival model gives P(churn within h) for every horizon ``h`` from one score. On the test
period each horizon is judged on the snapshot rows observed for at least ``h`` days (a row seen
for less teaches nothing about ``h``; see :mod:`healthscore.training.survival`):

- :func:`horizon_metrics`: rows, churners, churn rate, time-dependent ROC-AUC (cumulative
  cases: churned within ``h``; dynamic controls: still a customer at ``h``) and calibration
  error per horizon;
- :func:`band_churn_by_horizon`: the churn rate of each health band at each horizon with its
  Wilson 95 % interval, bands taken from health on the model's health horizon, as an account
  would be banded on the day it was scored; and whether the rates fall strictly from the
  lowest band to the highest beyond their intervals;
- :func:`top_band_sentence`: what the healthiest band promises ("of accounts in Healthy,
  96.1 % were still customers 365 days later").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.model.bands import Band, band_index, health_range_label
from healthscore.stats import wilson_interval
from healthscore.training.metrics import expected_calibration_error, roc_auc

MIN_ROWS = 50  # rows observed for a horizon below which it is not judged
HORIZON_METRICS = "horizon_metrics"  # artifact tables/<name>.csv
BAND_CHURN = "band_churn_by_horizon"


def horizon_outcome(churn_days: np.ndarray, observed_days: np.ndarray, horizon: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(rows observed for ``horizon`` days, churned within it) from the survival labels
    (``churn_days`` NaN for an account that did not churn while observed)."""
    observed = np.asarray(observed_days, dtype=float) >= horizon
    churned = np.nan_to_num(np.asarray(churn_days, dtype=float), nan=np.inf) < horizon
    return observed, churned


def horizon_metrics(p_within: Mapping[int, np.ndarray], churn_days: np.ndarray,
                    observed_days: np.ndarray, min_rows: int = MIN_ROWS) -> pd.DataFrame:
    """One row per horizon: horizon_days, observed_rows, churners, churn_rate, td_roc_auc,
    ece (NaN where fewer than ``min_rows`` rows are observed or one class is missing)."""
    rows = []
    for horizon in sorted(p_within):
        observed, churned = horizon_outcome(churn_days, observed_days, horizon)
        y = churned[observed].astype(int)
        p = np.asarray(p_within[horizon], dtype=float)[observed]
        judged = len(y) >= min_rows and 0 < y.sum() < len(y)
        rows.append({
            "horizon_days": int(horizon), "observed_rows": int(len(y)),
            "churners": int(y.sum()), "churn_rate": float(y.mean()) if len(y) else np.nan,
            "td_roc_auc": float(roc_auc(y, p)) if judged else np.nan,
            "ece": float(expected_calibration_error(y, p)) if judged else np.nan,
        })
    return pd.DataFrame(rows)


def band_churn_by_horizon(health: np.ndarray, churn_days: np.ndarray,
                          observed_days: np.ndarray, horizons: Sequence[int],
                          bands: Sequence[Band]) -> pd.DataFrame:
    """Churn rate per (horizon, band) with Wilson 95 % intervals, bands lowest first.

    Columns: horizon_days, band, health_range, accounts (observed for the horizon), churners,
    churn_rate, ci_low, ci_high."""
    index = band_index(np.asarray(health, dtype=float), bands)
    rows = []
    for horizon in sorted(horizons):
        observed, churned = horizon_outcome(churn_days, observed_days, horizon)
        for k, band in enumerate(bands):
            members = observed & (index == k)
            n, c = int(members.sum()), int((members & churned).sum())
            low, high = wilson_interval(c, n)
            rows.append({"horizon_days": int(horizon), "band": band.name,
                         "health_range": health_range_label(band, k == len(bands) - 1),
                         "accounts": n, "churners": c,
                         "churn_rate": c / n if n else np.nan, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def strictly_ordered(table: pd.DataFrame) -> dict[int, bool]:
    """Per horizon: does churn fall from each non-empty band to the next healthier one beyond
    their intervals (the lower band's interval entirely above the higher band's)?"""
    out = {}
    for horizon, part in table.groupby("horizon_days", sort=True):
        filled = part[part["accounts"] > 0]
        low_bands, high_bands = filled.iloc[:-1], filled.iloc[1:]
        out[int(horizon)] = bool(len(filled) > 1 and np.all(
            low_bands["ci_low"].to_numpy() > high_bands["ci_high"].to_numpy()))
    return out


def top_band_sentence(table: pd.DataFrame) -> str:
    """What the healthiest band promises at the longest horizon it was observed for."""
    top = table[table["band"] == table["band"].iloc[-1]]
    seen = top[top["accounts"] > 0]
    if seen.empty:
        return ""
    row = seen.iloc[-1]
    return (f"Of accounts in {row['band']} ({row['health_range']}) on the day they were scored, "
            f"{1 - row['churn_rate']:.1%} were still customers {row['horizon_days']} days "
            f"later (95 % interval {1 - row['ci_high']:.1%}–{1 - row['ci_low']:.1%}, "
            f"{row['accounts']:,} accounts).")
