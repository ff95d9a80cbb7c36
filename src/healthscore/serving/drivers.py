"""Driver views in health points: which features move health across a portfolio, and the
full breakdown of one account's health (base health, every feature's points, hard stops).

Both read the points of :func:`healthscore.serving.scorer.explain_with_hard_stops`, the ones
batch scoring shows: they add up, per account, to the health after hard stops minus the base
health (see :mod:`healthscore.model.explain` for the conversion from log-odds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.model.artifact import HealthModel
from healthscore.serving.scorer import explain_with_hard_stops
from healthscore.serving.settings import HardStop

TOP_RISK_POINTS = 0.05  # a feature "takes" points when it removes at least this many


def driver_importance(model: HealthModel, frame: pd.DataFrame,
                      hard_stops: Sequence[HardStop] = ()) -> pd.DataFrame:
    """Per feature over the rows of ``frame``: how many health points it moves.

    Columns: feature, dimension, description, mean_abs_points (average size of its points),
    mean_points (signed: negative when it mostly takes health away), top_risk_share (share of
    rows where it is the top risk driver, taking at least 0.05 points). Largest
    mean_abs_points first. Pass the scoring config's ``hard_stops`` to include the points
    they take.
    """
    if frame.empty:
        raise ParameterError("frame", "at least one row to explain", "an empty frame")
    drivers = explain_with_hard_stops(model, frame, hard_stops).drivers
    points = drivers.points
    top = points.argmin(axis=1)
    takes = points[np.arange(len(points)), top] <= -TOP_RISK_POINTS
    metas = drivers.metas
    table = pd.DataFrame({
        "feature": drivers.names,
        "dimension": [metas[n].dimension if n in metas else "" for n in drivers.names],
        "description": [metas[n].description if n in metas else "" for n in drivers.names],
        "mean_abs_points": np.abs(points).mean(axis=0),
        "mean_points": points.mean(axis=0),
        "top_risk_share": np.bincount(top[takes], minlength=len(drivers.names)) / len(points),
    })
    return table.sort_values("mean_abs_points", ascending=False, ignore_index=True)


@dataclass
class AccountDrivers:
    """One account's health, taken apart: ``base_health + points.sum() == health``."""

    account_id: object
    snapshot_date: dt.date | None
    base_health: float
    model_health: float
    health: float  # after hard stops, before manual overrides
    hard_stops: str
    table: pd.DataFrame  # feature, dimension, value, points, reason; riskiest first

    @property
    def summary(self) -> str:
        """One line: health = base health + the points of the risks and strengths."""
        risks = self.table.loc[self.table["points"] < 0, "points"].sum()
        strengths = self.table.loc[self.table["points"] > 0, "points"].sum()
        line = (f"account {self.account_id}: health {self.health:.1f} = base health "
                f"{self.base_health:.1f} {risks:+.1f} (risks) {strengths:+.1f} (strengths)")
        if self.hard_stops:
            line += (f"; hard stop {self.hard_stops} capped the model's "
                     f"{self.model_health:.1f}")
        return line


def account_drivers(model: HealthModel, frame: pd.DataFrame, account_id: object,
                    snapshot_date: dt.date | None = None,
                    hard_stops: Sequence[HardStop] = ()) -> AccountDrivers:
    """Every feature's health points for one account of ``frame`` (a feature matrix).

    ``frame`` must hold exactly one row for the account, or one per snapshot with
    ``snapshot_date`` choosing it. Pass the scoring config's ``hard_stops`` to see the health
    a team sees (before manual overrides, which replace health without explaining it).
    """
    rows = frame["account_id"] == account_id
    if snapshot_date is not None:
        rows &= frame["snapshot_date"] == snapshot_date
    if int(rows.sum()) != 1:
        where = f" on {snapshot_date}" if snapshot_date is not None else ""
        raise ParameterError("account_id", "an account with exactly one row in the frame "
                             "(pass snapshot_date when it has one per snapshot)",
                             f"{account_id!r}: {int(rows.sum())} rows{where}")
    row = frame[rows]
    explained = explain_with_hard_stops(model, row, hard_stops)
    drivers = explained.drivers
    metas = drivers.metas
    values = drivers.values[0]
    table = pd.DataFrame({
        "feature": drivers.names,
        "dimension": [metas[n].dimension if n in metas else "" for n in drivers.names],
        "value": values,
        "points": drivers.points[0],
        "reason": [metas[n].sentence(v) if n in metas else f"{n} = {v}"
                   for n, v in zip(drivers.names, values, strict=True)],
    }).sort_values("points", ignore_index=True, kind="stable")
    day = row["snapshot_date"].iat[0] if "snapshot_date" in row else None
    return AccountDrivers(account_id, day, explained.base_health,
                          float(explained.model_health[0]), float(explained.health[0]),
                          str(explained.hard_stops[0]), table)
