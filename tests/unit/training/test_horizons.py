"""Validation at every horizon: censoring, time-dependent AUC, churn per band and horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.model.bands import Band
from healthscore.training import horizons as hz

BANDS = [Band("Critical", 0, 50), Band("Healthy", 50, 100)]


def test_a_row_observed_for_less_than_the_horizon_is_not_judged_on_it() -> None:
    # observed days: how long after the snapshot the outcome is known (the data's end)
    churn = np.array([10.0, np.nan, np.nan, 200.0])
    observed = np.array([400.0, 60.0, 400.0, 300.0])
    seen, churned = hz.horizon_outcome(churn, observed, 90)
    assert seen.tolist() == [True, False, True, True]  # the second: seen for 60 days only
    assert churned.tolist() == [True, False, False, False]
    seen, churned = hz.horizon_outcome(churn, observed, 365)
    assert seen.tolist() == [True, False, True, False]
    assert churned.tolist() == [True, False, False, True]


def test_horizon_metrics_count_rows_churners_and_rank_by_horizon() -> None:
    rng = np.random.default_rng(0)
    n = 400
    risk = rng.random(n)
    churn = np.where(rng.random(n) < risk, 300 * rng.random(n), np.nan)
    observed = np.where(np.arange(n) < 100, 200.0, 365.0)  # a quarter seen for 200 days
    table = hz.horizon_metrics({90: risk * 0.3, 365: risk}, churn, observed).set_index(
        "horizon_days")
    assert table.loc[365, "observed_rows"] == n - 100 and table.loc[90, "observed_rows"] == n
    assert table.loc[365, "churners"] == int(np.sum(churn[100:] < 365))
    assert table.loc[90, "churners"] == int(np.sum(churn < 90))
    assert table.loc[365, "td_roc_auc"] > 0.7  # the risk drives churn
    shuffled = hz.horizon_metrics({365: rng.permutation(risk)}, churn, observed)
    assert abs(shuffled["td_roc_auc"].iloc[0] - 0.5) < 0.1


def test_a_horizon_with_too_few_rows_is_not_judged() -> None:
    table = hz.horizon_metrics({30: np.array([0.1, 0.9])}, np.array([5.0, np.nan]),
                               np.array([40.0, 40.0]))
    assert np.isnan(table["td_roc_auc"].iloc[0]) and table["observed_rows"].iloc[0] == 2


def _band_table(low_rate: float, high_rate: float, n: int = 500) -> pd.DataFrame:
    health = np.r_[np.full(n, 20.0), np.full(n, 90.0)]
    churn = np.r_[np.where(np.arange(n) < low_rate * n, 30.0, np.nan),
                  np.where(np.arange(n) < high_rate * n, 30.0, np.nan)]
    observed = np.full(2 * n, 400.0)
    return hz.band_churn_by_horizon(health, churn, observed, [90, 365], BANDS)


def test_band_churn_by_horizon_counts_and_orders_bands() -> None:
    table = _band_table(0.4, 0.05)
    row = table[(table["horizon_days"] == 365) & (table["band"] == "Critical")].iloc[0]
    assert (row["accounts"], row["churners"]) == (500, 200)
    assert row["ci_low"] < 0.4 < row["ci_high"]
    assert hz.strictly_ordered(table) == {90: True, 365: True}
    assert hz.strictly_ordered(_band_table(0.06, 0.05)) == {90: False, 365: False}


def test_top_band_sentence_says_what_healthy_promises() -> None:
    sentence = hz.top_band_sentence(_band_table(0.4, 0.05))
    assert sentence.startswith("Of accounts in Healthy (")
    assert "95.0% were still customers 365 days later" in sentence
    assert hz.top_band_sentence(_band_table(0.4, 0.05).assign(accounts=0)) == ""


@pytest.mark.parametrize("bad", [np.array([np.nan]), np.array([])])
def test_band_churn_by_horizon_of_nothing_is_empty_rates(bad) -> None:
    table = hz.band_churn_by_horizon(np.full(len(bad), 80.0), bad, bad, [90], BANDS)
    assert (table["accounts"] == 0).all() and table["churn_rate"].isna().all()
