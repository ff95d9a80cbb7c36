"""Choosing the at-risk threshold: precision and recall at each health threshold, and the
threshold a team's capacity allows ("we can work 50 accounts a week").

An account is flagged when its health (as served: ``100 (1 - p)`` rounded to one decimal) is
below the threshold, exactly as :func:`healthscore.training.metrics.at_risk_flags` flags it.
A *run* is one scoring date (a snapshot): the worklist a team receives each time the accounts
are scored. Capacity is counted per run, so test periods with several snapshots are judged
per snapshot, not pooled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.model.artifact import health_from_probability
from healthscore.training.metrics import check_inputs, classification_at_threshold

DEFAULT_THRESHOLDS = tuple(range(5, 100, 5))


def _runs(runs: Sequence[object] | np.ndarray | pd.Series | None, n: int) -> np.ndarray:
    """One run label per row (all rows one run when ``runs`` is None)."""
    if runs is None:
        return np.zeros(n, dtype=int)
    labels = pd.Series(runs).astype(str).to_numpy()
    if len(labels) != n:
        raise ParameterError("runs", f"one scoring date per row ({n} rows)", f"{len(labels)}")
    return labels


def threshold_table(y: np.ndarray, p: np.ndarray, thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                    runs: Sequence[object] | np.ndarray | pd.Series | None = None,
                    ) -> pd.DataFrame:
    """Precision, recall and worklist size at each health threshold.

    Parameters
    ----------
    y, p
        Outcomes (1 = churned within the horizon) and calibrated churn probabilities.
    thresholds
        Health thresholds in [0, 100]; an account is flagged when its health is below.
    runs
        The scoring date (snapshot) of each row; the per-run columns count each date's
        worklist. Default: all rows are one run.

    Returns
    -------
    One row per threshold: health_threshold, flagged (rows flagged), flagged_per_run (mean
    over runs), max_flagged_per_run, flagged_share, churners_caught, precision and recall.
    """
    y_arr, p_arr = check_inputs(y, p)
    labels = _runs(runs, len(y_arr))
    health = health_from_probability(p_arr)
    records = []
    for threshold in thresholds:
        rates = classification_at_threshold(y_arr, p_arr, float(threshold))
        flagged = health < threshold
        per_run = pd.Series(flagged).groupby(labels).sum()
        records.append({
            "health_threshold": float(threshold), "flagged": int(flagged.sum()),
            "flagged_per_run": float(per_run.mean()),
            "max_flagged_per_run": int(per_run.max()),
            "flagged_share": rates["flagged_share"],
            "churners_caught": int((flagged & y_arr.astype(bool)).sum()),
            "precision": rates["precision"], "recall": rates["recall"],
        })
    return pd.DataFrame(records)


def threshold_for_capacity(p: np.ndarray, capacity: int,
                           runs: Sequence[object] | np.ndarray | pd.Series | None = None,
                           ) -> float:
    """The highest health threshold whose worklist fits ``capacity`` accounts in every run.

    Flagging health below the returned threshold never flags more than ``capacity`` accounts
    on any scoring date in ``runs`` (all rows one run by default). Accounts tied at the same
    health are flagged together or not at all, so the worklist can be shorter than the
    capacity. Returns 100 when every account of every run fits, 0 when not even the
    riskiest health value does.

    Parameters
    ----------
    p
        Calibrated churn probabilities, e.g. the test period's.
    capacity
        Accounts the team can work per scoring run (per week when scoring weekly; a weekly
        capacity times the weeks between runs otherwise).
    runs
        The scoring date (snapshot) of each row.
    """
    if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 0:
        raise ParameterError("capacity", "an int >= 0 (accounts per scoring run)", capacity)
    p_arr = np.asarray(p, dtype=float)
    _, p_arr = check_inputs(np.zeros(len(p_arr), dtype=int), p_arr)
    labels = _runs(runs, len(p_arr))
    health = health_from_probability(p_arr)
    threshold = 100.0
    for label in pd.unique(labels):
        ordered = np.sort(health[labels == label])
        if len(ordered) > capacity:
            # health < ordered[capacity] flags at most `capacity` accounts (ties excluded)
            threshold = min(threshold, float(ordered[capacity]))
    return threshold
