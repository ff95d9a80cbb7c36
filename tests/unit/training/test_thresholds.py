"""Threshold table and the capacity-based threshold, on hand-checked probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from healthscore.errors import ParameterError
from healthscore.training.metrics import classification_at_threshold
from healthscore.training.thresholds import threshold_for_capacity, threshold_table

# health 10, 20, 30, 40, 60, 80 (p = 1 - health / 100), two scoring runs
P = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.2])
Y = np.array([1, 1, 0, 1, 0, 0])
RUNS = ["2025-01-01", "2025-02-01", "2025-01-01", "2025-02-01", "2025-01-01", "2025-02-01"]


def test_threshold_table_counts_the_worklist_per_run():
    table = threshold_table(Y, P, thresholds=[25, 50, 100], runs=RUNS).set_index(
        "health_threshold")
    assert list(table["flagged"]) == [2, 4, 6]
    assert list(table["max_flagged_per_run"]) == [1, 2, 3]
    assert list(table["flagged_per_run"]) == [1.0, 2.0, 3.0]
    assert list(table["churners_caught"]) == [2, 3, 3]
    assert table.loc[50, "precision"] == pytest.approx(3 / 4)
    assert table.loc[25, "recall"] == pytest.approx(2 / 3)
    for t, row in table.iterrows():  # the same flags as the report's at-risk metrics
        rates = classification_at_threshold(Y, P, t)
        assert (row["precision"], row["recall"]) == (rates["precision"], rates["recall"])


def test_capacity_threshold_never_overfills_a_run():
    assert threshold_for_capacity(P, 2) == 30.0  # health < 30 flags 10 and 20
    assert threshold_for_capacity(P, 1, runs=RUNS) == 30.0  # run 1: 10 | run 2: 20
    assert threshold_for_capacity(P, 2, runs=RUNS) == 60.0  # run 1: 10, 30 | run 2: 20, 40
    assert threshold_for_capacity(P, 0) == 10.0  # nothing is below the riskiest health
    assert threshold_for_capacity(P, 6) == 100.0  # everyone fits
    for capacity in range(7):
        t = threshold_for_capacity(P, capacity, runs=RUNS)
        assert threshold_table(Y, P, [t], runs=RUNS)["max_flagged_per_run"].iat[0] <= capacity


def test_tied_health_is_flagged_together_or_not_at_all():
    p = np.array([0.5, 0.5, 0.5, 0.1])
    assert threshold_for_capacity(p, 2) == 50.0  # three accounts at health 50: none flagged
    assert threshold_for_capacity(p, 3) == 90.0


@pytest.mark.parametrize("capacity", [-1, 2.5, True])
def test_capacity_must_be_a_count(capacity):
    with pytest.raises(ParameterError, match="The 'capacity' parameter must be an int >= 0"):
        threshold_for_capacity(P, capacity)


def test_runs_must_match_the_rows():
    with pytest.raises(ParameterError, match="one scoring date per row"):
        threshold_table(Y, P, runs=RUNS[:3])
