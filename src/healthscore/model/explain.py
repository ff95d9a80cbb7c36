"""Drivers: why an account has its health, in health points.

Every model splits its raw score exactly: ``z = base + sum_i phi_i`` (TreeSHAP for LightGBM via
the booster's native contributions, exact linear SHAP for logistic regression, subscore
contributions for the scorecard). Health is a monotone function of the raw score,
``H(z) = 100 * (1 - calibrated(sigmoid(z)))`` (for the scorecard ``z`` is its rule score).

Conversion from log-odds to health points: the account's health minus the *base health*
``H(base)`` (the health of an account whose every contribution is zero) is shared among the
features in proportion to their raw contributions:

    points_i = phi_i * (H(z) - H(base)) / (z - base)

so the points add up exactly to ``H(z) - H(base)``; a feature that raises the churn log-odds
takes health points away. When ``z`` is within 1e-9 of ``base`` the slope is the derivative of
``H`` at ``base``. The default (centered isotonic) calibration is strictly increasing, so the
ratio is positive wherever two raw scores give different health.

A hard stop that caps health takes the points it removes (model health minus capped health)
from its rule's feature (see :mod:`healthscore.serving.scorer`), so the points still add up to
the health shown minus the base health, and the capped feature leads the risk drivers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.model.artifact import FeatureMeta, HealthModel, horizon_columns

DIMENSIONS = ("usage", "engagement", "relationship", "billing", "support", "sentiment",
              "commercial", "other")
# Commercial facts (renewal timing, contract length, ARR) explain a score but are not something
# a customer-success team can fix, so they never pick the playbook; nor does "other", the
# dimension of a feature-table column nobody mapped to one.
ACTIONABLE = DIMENSIONS[:-2]
# What a team does about each actionable dimension (``scoring.playbooks`` replaces them in
# `healthscore score`; the MLflow pyfunc uses these).
# A healthy account gets a playbook only for a risk costing this many health points.
DEFAULT_PLAYBOOK_MIN_POINTS = 5.0
DEFAULT_PLAYBOOKS: dict[str, str] = {
    "usage": "Re-onboard the team and fix the workflow that stopped being used.",
    "engagement": "Book a check-in or QBR; re-establish a regular CSM cadence.",
    "relationship": "Rebuild the champion map: find a new champion and executive sponsor.",
    "billing": "Fix the payment method and clear overdue invoices with finance.",
    "support": "Escalate the root cause of open and repeated tickets with engineering.",
    "sentiment": "Call the detractors, close the loop on their feedback.",
    "commercial": "Review the contract and renewal terms ahead of the renewal.",
}
_EPS = 1e-9


def health_of_raw(model: HealthModel, z: np.ndarray) -> np.ndarray:
    """Unrounded health for raw scores."""
    return 100.0 * (1.0 - model.calibrated(np.asarray(z, dtype=float)))


def health_points(model: HealthModel, frame: pd.DataFrame
                  ) -> tuple[float, np.ndarray, np.ndarray]:
    """(base health, points per row and feature, unrounded health per row).

    ``points.sum(axis=1) == health - base_health`` up to floating point.
    """
    base, phi = model.model.contributions(frame)
    z = base + phi.sum(axis=1)
    health = health_of_raw(model, z)
    base_health = float(health_of_raw(model, np.array([base]))[0])
    delta = z - base
    step = 1e-3
    derivative = (health_of_raw(model, np.array([base + step]))[0]
                  - health_of_raw(model, np.array([base - step]))[0]) / (2 * step)
    far = np.abs(delta) > _EPS
    slope = np.where(far, (health - base_health) / np.where(far, delta, 1.0), derivative)
    return base_health, phi * slope[:, None], health


def _value_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def explain(model: HealthModel, frame: pd.DataFrame, *, top_risks: int = 3,
            top_strengths: int = 2, playbooks: dict[str, str] | None = None) -> pd.DataFrame:
    """Per row: churn probability, health, base health, top risk drivers and strengths (feature,
    dimension, value, points, sentence), points per dimension, the dominant actionable risk
    dimension (commercial excluded) and its playbook, and every feature's points as JSON."""
    base_health, points, health = health_points(model, frame)
    drivers = Drivers(list(model.model.feature_names), {m.name: m for m in model.features},
                      points, frame)
    out = describe(drivers, health, base_health, top_risks=top_risks,
                   top_strengths=top_strengths, playbooks=playbooks)
    return pd.concat([out, horizon_columns(model, frame), expansion_columns(model, frame)],
                     axis=1)


EXPANSION_SCORE = "expansion_score"


def expansion_columns(model: HealthModel, frame: pd.DataFrame, top: int = 2) -> pd.DataFrame:
    """Per row, for a model carrying an expansion readiness model (``model.expansion``):
    ``expansion_score`` (100 x the calibrated probability of expanding, one decimal) and its
    ``top`` drivers, ``expansion_<k>_feature``/``_dimension``/``_value``/``_points``/
    ``_reason``: the features adding most expansion-score points (the same exact split of the
    raw score as health's drivers, in expansion points, which add up to the score minus the
    base score). No columns without an expansion model."""
    expansion = model.expansion
    if expansion is None:
        return pd.DataFrame(index=frame.index)
    base_health, points, health = health_points(expansion, frame)
    # expansion score = 100 - the expansion model's "health": its points change sign
    score_points = -points
    names = list(expansion.model.feature_names)
    out = pd.DataFrame(index=frame.index)
    out[EXPANSION_SCORE] = np.round(100.0 - health, 1)
    order = np.argsort(-score_points, axis=1, kind="stable")[:, :top]
    _add_drivers(out, "expansion", order, score_points, frame, names,
                 {m.name: m for m in expansion.features}, negative=False)
    return out


def picked_values(frame: pd.DataFrame, names: Sequence[str], idx: np.ndarray,
                  as_series: set[str] | frozenset[str] = frozenset()) -> np.ndarray:
    """The value of feature ``names[idx[i]]`` in row ``i`` of ``frame``, as objects: what
    ``frame[names].to_numpy(dtype=object)[np.arange(len(idx)), idx]`` holds (for a name in
    ``as_series``, ``frame[name].to_numpy(object)[i]``), read column by column for the picked
    rows only: converting every cell of a wide frame to a Python object costs more than the
    rest of the explanation."""
    idx = np.asarray(idx)
    out = np.empty(len(idx), dtype=object)
    for j in np.unique(idx):
        at = np.flatnonzero(idx == j)
        name = names[int(j)]
        column = frame[name]
        if name in as_series:
            out[at] = column.to_numpy(object)[at]
        elif isinstance(column, pd.DataFrame):  # a duplicated name: read as the whole matrix
            out[at] = frame[list(names)].to_numpy(dtype=object)[at, int(j)]
        else:
            # what DataFrame.to_numpy(dtype=object) makes of each block, numpy-backed or
            # extension (Block.get_values): the column's array cast with astype(object)
            out[at] = np.asarray(column.array[at].astype(object), dtype=object)
    return out


class Drivers:
    """Points per row and feature, with the metadata and values that explain them.

    ``points[:, j]`` belongs to ``names[j]``; :meth:`add_points` credits points to a feature
    that may not be a model input (a hard stop's feature), adding its column.
    """

    def __init__(self, names: list[str], metas: dict[str, FeatureMeta], points: np.ndarray,
                 frame: pd.DataFrame) -> None:
        self.names = list(names)
        self.metas = dict(metas)
        self.points = np.array(points, dtype=float)
        self.frame = frame
        self._added: set[str] = set()  # names add_points appended (a hard stop's feature)

    @property
    def values(self) -> np.ndarray:
        """Every row's value of every feature in :attr:`names`, as objects (one column per
        name; read on demand: the batch explanation reads only the picked drivers' values,
        :meth:`picked`)."""
        if not self.names:
            return np.empty((len(self.frame), 0), dtype=object)
        return np.column_stack([self.picked(np.full(len(self.frame), j))
                                for j in range(len(self.names))])

    def picked(self, idx: np.ndarray) -> np.ndarray:
        """Per row ``i``, the value of feature ``names[idx[i]]`` (see :func:`picked_values`)."""
        return picked_values(self.frame, self.names, idx, self._added)

    def add_points(self, feature: str, meta: FeatureMeta, delta: np.ndarray) -> None:
        """Add ``delta`` (one value per row) to ``feature``'s points."""
        if feature not in self.names:
            self.names.append(feature)
            self._added.add(feature)
            self.metas.setdefault(feature, meta)
            self.points = np.column_stack([self.points, np.zeros(len(self.points))])
        self.points[:, self.names.index(feature)] += delta


def describe(drivers: Drivers, health: np.ndarray, base_health: float, *, top_risks: int = 3,
             top_strengths: int = 2, playbooks: dict[str, str] | None = None) -> pd.DataFrame:
    """The explanation columns of :func:`explain` from points that add up to
    ``health - base_health`` per row."""
    names, metas, points = drivers.names, drivers.metas, drivers.points
    out = pd.DataFrame(index=drivers.frame.index)
    out["churn_probability"] = 1.0 - health / 100.0
    out["model_health"] = np.round(health, 1)
    out["base_health"] = round(base_health, 1)
    risks, strengths = ranked_ends(points, top_risks, top_strengths)
    _add_drivers(out, "risk", risks, points, drivers.frame, names, metas, negative=True)
    _add_drivers(out, "strength", strengths, points, drivers.frame, names, metas,
                 negative=False)
    dims = np.array([metas[n].dimension if n in metas else "other" for n in names])
    for dim in DIMENSIONS:
        out[f"points_{dim}"] = np.round(points[:, dims == dim].sum(axis=1), 2)
    dim_points = out[[f"points_{d}" for d in ACTIONABLE]].to_numpy()
    worst = dim_points.argmin(axis=1)
    dominant = np.where(dim_points.min(axis=1) < 0, np.array(ACTIONABLE)[worst], "")
    out["dominant_risk_dimension"] = dominant
    plays = playbooks or {}
    out["playbook"] = [plays.get(d, "") for d in dominant]
    out["points_json"] = _points_json(points, names)
    return out


def ranked_ends(points: np.ndarray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices of the ``low`` smallest and the ``high`` largest points of each row, in
    the order of ``order = np.argsort(points, axis=1, kind="stable")``: ``order[:, :low]``
    (ties: lower column first) and ``order[:, ::-1][:, :high]`` (ties: higher column first).

    Finite points are picked by repeated argmin / argmax (a few passes instead of sorting every
    row of a wide matrix); with a NaN or an infinity, by the sort itself.
    """
    points = np.asarray(points, dtype=float)
    n_rows, n_cols = points.shape
    low, high = min(max(low, 0), n_cols), min(max(high, 0), n_cols)
    if not np.isfinite(points).all():
        order = np.argsort(points, axis=1, kind="stable")
        return order[:, :low], order[:, ::-1][:, :high]
    rows = np.arange(n_rows)
    smallest = np.empty((n_rows, low), dtype=np.intp)
    work = points.copy()
    for k in range(low):
        pick = work.argmin(axis=1)  # the first (lowest) column among equal minima
        smallest[:, k] = pick
        work[rows, pick] = np.inf
    largest = np.empty((n_rows, high), dtype=np.intp)
    work = points[:, ::-1].copy()  # reversed: argmax's first is the highest column
    for k in range(high):
        pick = work.argmax(axis=1)
        largest[:, k] = n_cols - 1 - pick
        work[rows, pick] = -np.inf
    return smallest, largest


def material_playbooks(scored: pd.DataFrame, healthiest: np.ndarray, min_points: float
                       ) -> pd.Series:
    """The ``playbook`` column of :func:`describe` kept only where the risk is material: the
    account is not in the healthiest band (``healthiest`` False), or its dominant risk
    dimension costs at least ``min_points`` health points. A healthy account whose worst
    dimension costs half a point has nothing for a team to do."""
    dominant = scored["dominant_risk_dimension"].to_numpy(dtype=object)
    cost = np.zeros(len(scored))
    for dim in ACTIONABLE:
        cost = np.where(dominant == dim, -scored[f"points_{dim}"].to_numpy(float), cost)
    keep = ~np.asarray(healthiest, dtype=bool) | (cost >= min_points)
    return scored["playbook"].where(keep, "")


def _add_drivers(out: pd.DataFrame, kind: str, picks: np.ndarray, points: np.ndarray,
                 frame: pd.DataFrame, names: list[str], metas: dict[str, FeatureMeta],
                 negative: bool) -> None:
    """Driver columns for ranks 1..k; texts are built once per (feature, value) seen."""
    rows = np.arange(len(out))
    name_of = np.array(names, dtype=object)
    dimension_of = np.array([metas[n].dimension if n in metas else "" for n in names],
                            dtype=object)
    for k in range(picks.shape[1]):
        idx = picks[:, k]
        pts = points[rows, idx]
        keep = pts < 0 if negative else pts > 0
        value_text, reason = _driver_texts(idx, picked_values(frame, names, idx), names,
                                           metas)
        out[f"{kind}_{k + 1}_feature"] = np.where(keep, name_of[idx], "")
        out[f"{kind}_{k + 1}_dimension"] = np.where(keep, dimension_of[idx], "")
        out[f"{kind}_{k + 1}_value"] = np.where(keep, value_text, "")
        out[f"{kind}_{k + 1}_points"] = np.where(keep, np.round(pts, 1), 0.0)
        out[f"{kind}_{k + 1}_reason"] = np.where(keep, reason, "")


def _driver_texts(idx: np.ndarray, values: np.ndarray, names: list[str],
                  metas: dict[str, FeatureMeta]) -> tuple[np.ndarray, np.ndarray]:
    """(value text, sentence) per row for feature ``names[idx[i]]`` at ``values[i]``."""
    value_text = np.empty(len(idx), dtype=object)
    reason = np.empty(len(idx), dtype=object)
    for j in np.unique(idx):
        at = np.flatnonzero(idx == j)
        codes, uniques = pd.factorize(pd.Series(values[at], dtype=object), use_na_sentinel=False)
        name = names[j]
        meta = metas.get(name)
        texts = np.array([_value_text(v) for v in uniques], dtype=object)
        sentences = np.array([meta.sentence(v) if meta else f"{name} = {v}" for v in uniques],
                             dtype=object)
        value_text[at] = texts[codes]
        reason[at] = sentences[codes]
    return value_text, reason


def _points_json(points: np.ndarray, names: list[str], threshold: float = 0.05) -> list[str]:
    """Compact per-row JSON of every feature whose points reach ``threshold`` (rounded to two
    decimals), e.g. ``{"days_past_due": -12.5, "events_30d": 0.8}``."""
    rounded = np.round(points, 2)
    row, col = np.nonzero(np.abs(rounded) >= threshold)
    keys = [json.dumps(n) + ": " for n in names]
    items = [keys[c] + repr(v) for c, v in zip(col.tolist(), rounded[row, col].tolist(),
                                               strict=True)]
    bounds = np.searchsorted(row, np.arange(len(points) + 1))
    return ["{" + ", ".join(items[a:b]) + "}" for a, b in zip(bounds[:-1], bounds[1:],
                                                              strict=True)]
