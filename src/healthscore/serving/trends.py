"""Trends and alerts: how each account's health moved against the score history, and why.

Reference dates come from the history's scoring dates, not from calendar arithmetic per
account: "30 days ago" is the scoring date closest to ``as_of - 30`` within a quarter of the
span (so monthly scoring compares with last month's run, 28 to 31 days back, and daily scoring
with the run exactly 30 days back; ties go to the earlier date). "Previous" is the latest
scoring date before ``as_of``. An account missing from a reference date has no value there.

The trajectory, ``projected_health_90d``, is health 90 days on if the account's trend of the
last 90 days continues (a least-squares line through its scores, today's included; empty when
its history there spans less than four weeks).

Alerts (codes, ``;``-separated in ``alerts``):
- ``health_drop``: health fell by at least ``drop_points`` over ``drop_days``;
- ``entered_<band>`` (e.g. ``entered_at_risk``): moved since the previous run into one of the
  ``risk_bands`` from a healthier band;
- ``renewal_at_risk``: renewal within ``renewal_days`` with health below ``renewal_health``;
- ``expansion_play``: with an expansion readiness model (an ``expansion_score`` column), the
  account entered the qualifying state since the previous run: it is in the healthiest band with
  an expansion score of at least ``expansion_score`` now, and was not at the previous run (not
  scored then, in another band, below the threshold, or without a stored expansion score); so
  it fires once per entry, not on every run while the account qualifies. For a model without
  one, health rose to at least ``expansion_health`` since the previous run.
Each alert says why in ``alert_reasons``: the features whose driver points moved most between
the two dates (for a renewal alert, the top risk driver now); a band entry explained by the
same drivers as the health drop says "(same drivers)" instead of repeating them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.features.registry import slug
from healthscore.model.explain import EXPANSION_SCORE
from healthscore.serving.history import as_text_ids
from healthscore.serving.settings import AlertConfig

TREND_COLUMNS = ("previous_health", "previous_band", "health_30d_ago", "health_change_30d",
                 "health_90d_ago", "health_change_90d", "momentum", "projected_health_90d",
                 "alerts", "alert_reasons")
TRAJECTORY_DAYS = 90  # the trend is fitted on this many days of history and projected as far
MIN_TRAJECTORY_SPAN = 28  # days of history (oldest score to today) a trend needs


def tolerance(days: int) -> int:
    """How far (days) a scoring date may sit from ``as_of - days`` and still be its reference."""
    return max(1, days // 4)


def reference_date(dates: Sequence[dt.date], as_of: dt.date, days: int) -> dt.date | None:
    """The scoring date closest to ``as_of - days`` within ``days // 4`` (at least 1) days,
    the earlier one on a tie; None when no date is that close."""
    target = as_of - dt.timedelta(days=days)
    close = [d for d in dates if d < as_of and abs((d - target).days) <= tolerance(days)]
    if not close:
        return None
    return min(close, key=lambda d: (abs((d - target).days), d))


def history_since(dates: Sequence[dt.date], as_of: dt.date, config: AlertConfig
                  ) -> dt.date | None:
    """The oldest scoring date :func:`trends_and_alerts` can read from a history holding
    ``dates``: the previous date and the reference and trajectory windows (so a daily job reads
    a quarter of history, not all of it). None when no date is before ``as_of``."""
    before = [d for d in dates if d < as_of]
    if not before:
        return None
    reach = max(TRAJECTORY_DAYS, *(days + tolerance(days)
                                   for days in (30, 90, config.drop_days)))
    return min(max(before), as_of - dt.timedelta(days=reach))


def momentum(change_30d: pd.Series, stable_points: float) -> pd.Series:
    """``improving`` / ``stable`` (within ±stable_points) / ``declining``; empty without a
    30-day reference."""
    change = pd.to_numeric(change_30d, errors="coerce")
    out = np.where(change > stable_points, "improving",
                   np.where(change < -stable_points, "declining", "stable"))
    return pd.Series(np.where(change.isna(), "", out), index=change_30d.index, dtype=object)


def projected_health(health: np.ndarray, ids: np.ndarray, past: pd.DataFrame, as_of: dt.date,
                     days: int = TRAJECTORY_DAYS, min_span: int = MIN_TRAJECTORY_SPAN
                     ) -> np.ndarray:
    """The trajectory: health ``days`` from now if the account's trend continues.

    The trend is the least-squares slope of the account's health over its scoring dates of
    the last ``days`` days, today's score included; projected health is today's plus the
    slope times ``days``, clipped to 0-100. NaN for an account whose history there spans fewer
    than ``min_span`` days (a new account, or a first run)."""
    start = as_of - dt.timedelta(days=days)
    window = past[(past["as_of"] >= start) & (past["as_of"] < as_of)].drop_duplicates(
        ["as_of", "account_id"], keep="last")
    t = np.array([(d - as_of).days for d in window["as_of"]], dtype=float)
    points = pd.DataFrame({"id": np.r_[as_text_ids(window["account_id"]), ids],
                           "t": np.r_[t, np.zeros(len(ids))],
                           "h": np.r_[window["health"].to_numpy(float), health]})
    points = points.dropna(subset=["h"]).assign(tt=lambda f: f.t * f.t, th=lambda f: f.t * f.h)
    sums = points.groupby("id").agg(n=("t", "size"), t=("t", "sum"), h=("h", "sum"),
                                    tt=("tt", "sum"), th=("th", "sum"), oldest=("t", "min"))
    var = sums["tt"] - sums["t"] ** 2 / sums["n"]
    slope = (sums["th"] - sums["t"] * sums["h"] / sums["n"]) / var.where(var > 0)
    slope = slope.where(sums["oldest"] <= -min_span).reindex(ids)
    return np.clip(health + slope.to_numpy(float) * days, 0.0, 100.0)


def _at(past: pd.DataFrame, day: dt.date | None, ids: np.ndarray, column: str) -> np.ndarray:
    """``column`` of each account in ``ids`` on scoring date ``day`` (NaN/None when absent,
    and for every account when the history has no such column)."""
    if day is None or column not in past:
        return np.full(len(ids), np.nan if column != "points_json" else None, dtype=object)
    rows = past[past["as_of"] == day].drop_duplicates("account_id", keep="last")
    return rows.set_index("account_id")[column].reindex(ids).to_numpy(dtype=object)


def point_changes(before: str | None, after: str | None) -> list[tuple[str, float]]:
    """Per feature, points now minus points then (from the stored ``points_json``), largest
    absolute change first."""
    old = json.loads(before) if isinstance(before, str) and before else {}
    new = json.loads(after) if isinstance(after, str) and after else {}
    changes = {k: float(new.get(k, 0.0)) - float(old.get(k, 0.0)) for k in {*old, *new}}
    return sorted(changes.items(), key=lambda kv: (-abs(kv[1]), kv[0]))


def _why(before: str | None, after: str | None, sign: int, n: int,
         labels: Mapping[str, str]) -> str:
    """The ``n`` features whose points moved most in direction ``sign`` (-1 down, +1 up)."""
    moved = [(k, v) for k, v in point_changes(before, after) if v * sign > 0.05][:n]
    if not moved:
        return "no single driver moved much"
    return "; ".join(f"{labels.get(k, k)} {v:+.1f} pts" for k, v in moved)


def _numbers(scores: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` of the scores as floats (NaN where not a number, or for every row when the
    scores have no such column)."""
    if column not in scores:
        return np.full(len(scores), np.nan)
    return pd.to_numeric(scores[column], errors="coerce").to_numpy(float)


def _texts(scores: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` of the scores as text ("" where missing, or for every row when the scores
    have no such column)."""
    if column not in scores:
        return np.full(len(scores), "", dtype=object)
    return scores[column].fillna("").astype(str).to_numpy()


def trends_and_alerts(scores: pd.DataFrame, past: pd.DataFrame, as_of: dt.date,
                      config: AlertConfig, band_order: Sequence[str],
                      labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Trend and alert columns per account of ``scores`` (same row order, plus account_id).

    Parameters
    ----------
    scores : today's scores: account_id, health, band, points_json, optionally
        days_to_renewal and risk_1_reason.
    past : history rows dated before ``as_of`` (see :mod:`healthscore.serving.history`).
    band_order : band names, lowest health first.
    labels : feature -> human label used in the reasons (default: the feature name).
    """
    labels = labels or {}
    ids = as_text_ids(scores["account_id"])
    past = past[past["as_of"] < as_of]
    dates = sorted(set(past["as_of"]))
    previous = dates[-1] if dates else None
    day_30 = reference_date(dates, as_of, 30)
    day_90 = reference_date(dates, as_of, 90)
    day_drop = reference_date(dates, as_of, config.drop_days)
    health = scores["health"].to_numpy(float)
    out = pd.DataFrame({"account_id": scores["account_id"].to_numpy()}, index=scores.index)
    out["previous_health"] = _at(past, previous, ids, "health").astype(float)
    out["previous_band"] = pd.Series(_at(past, previous, ids, "band"), index=scores.index
                                     ).fillna("")
    for days, day in ((30, day_30), (90, day_90)):
        before = _at(past, day, ids, "health").astype(float)
        out[f"health_{days}d_ago"] = before
        out[f"health_change_{days}d"] = np.round(health - before, 1)
    out["momentum"] = momentum(out["health_change_30d"], config.stable_points)
    out["projected_health_90d"] = np.round(projected_health(health, ids, past, as_of), 1)

    rank = {name: i for i, name in enumerate(band_order)}
    band_now = scores["band"].astype(str).to_numpy()
    band_then = out["previous_band"].to_numpy()
    drop_before = _at(past, day_drop, ids, "health").astype(float)
    points_now = scores["points_json"].to_numpy(dtype=object) if "points_json" in scores else (
        np.full(len(scores), None, dtype=object))
    points_prev = _at(past, previous, ids, "points_json")
    points_drop = _at(past, day_drop, ids, "points_json")
    renewal = _numbers(scores, "days_to_renewal")
    risk_reason = _texts(scores, "risk_1_reason")

    dropped = health - drop_before <= -config.drop_points
    worse = np.array([b in rank and a in rank and rank[b] < rank[a]
                      for a, b in zip(band_then, band_now, strict=True)])
    entered = worse & np.isin(band_now, list(config.risk_bands))
    renewing = (renewal >= 0) & (renewal <= config.renewal_days) & (
        health < config.renewal_health)
    readiness = _numbers(scores, EXPANSION_SCORE)
    if np.isfinite(readiness).any():  # the expansion readiness model decides, on entry
        healthiest = band_order[-1] if len(band_order) else None
        ready_then = _at(past, previous, ids, EXPANSION_SCORE).astype(float)
        qualified = (band_then == healthiest) & (ready_then >= config.expansion_score)
        rose = (band_now == healthiest) & (readiness >= config.expansion_score) & ~qualified
    else:
        rose = (health >= config.expansion_health) & (out["previous_health"].to_numpy(float)
                                                     < config.expansion_health)
    expansion_reason = _texts(scores, "expansion_1_reason")
    alerts = np.full(len(scores), "", dtype=object)
    reasons = np.full(len(scores), "", dtype=object)
    for i in np.flatnonzero(dropped | entered | renewing | rose):
        codes, why = [], []
        drop_why = ""
        if dropped[i]:
            codes.append("health_drop")
            drop_why = _why(points_drop[i], points_now[i], -1, config.reasons, labels)
            why.append(f"health_drop: {health[i] - drop_before[i]:+.1f} since {day_drop}: "
                       + drop_why)
        if entered[i]:
            code = f"entered_{slug(band_now[i])}"
            codes.append(code)
            band_why = _why(points_prev[i], points_now[i], -1, config.reasons, labels)
            # monthly scoring: the previous run is the 30-day reference, so the drop and the
            # band entry have the same drivers; say them once
            why.append(f"{code}: {band_then[i]} -> {band_now[i]}"
                       + (" (same drivers)" if dropped[i] and band_why == drop_why
                          else f": {band_why}"))
        if renewing[i]:
            codes.append("renewal_at_risk")
            why.append(f"renewal_at_risk: renews in {renewal[i]:.0f} days at health "
                       f"{health[i]:.1f}" + (f": {risk_reason[i]}" if risk_reason[i] else ""))
        if rose[i]:
            codes.append("expansion_play")
            if np.isfinite(readiness[i]):
                why.append(f"expansion_play: expansion readiness {readiness[i]:.1f} at health "
                           f"{health[i]:.1f}" + (f": {expansion_reason[i]}"
                                                 if expansion_reason[i] else ""))
            else:
                why.append(f"expansion_play: up from {out['previous_health'].iat[i]:.1f}: "
                           + _why(points_prev[i], points_now[i], +1, config.reasons, labels))
        alerts[i] = ";".join(codes)
        reasons[i] = " | ".join(why)
    out["alerts"] = alerts
    out["alert_reasons"] = reasons
    return out.reset_index(drop=True)
