"""The validation report's "What to do this week" section, from a run's stored tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from healthscore.tracking import RunRecord
from healthscore.training.record import at_risk_dimensions
from healthscore.training.report import action_section, render_report

PLAYBOOKS = {"usage": "Re-onboard the team.", "billing": "Fix the payment method."}


def predictions() -> pd.DataFrame:
    """Two snapshots of 10 accounts: 3 and 5 below health 50 (p > 0.5), ARR 1,000 each."""
    p = [0.9, 0.8, 0.6] + [0.1] * 7 + [0.9, 0.8, 0.7, 0.6, 0.55] + [0.2] * 5
    return pd.DataFrame({
        "account_id": list(range(10)) * 2,
        "snapshot_date": [dt.date(2025, 1, 1)] * 10 + [dt.date(2025, 2, 1)] * 10,
        "arr": 1000.0, "y": [1, 0] * 10, "p": p})


@pytest.fixture
def run(tmp_path) -> RunRecord:
    tables = tmp_path / "tables"
    tables.mkdir()
    predictions().to_parquet(tables / "test_predictions.parquet")
    pd.DataFrame({"dimension": ["usage", "billing", "(none)"], "flagged_rows": [6, 1, 1],
                  "share": [0.75, 0.125, 0.125]}).to_csv(tables / "at_risk_dimensions.csv",
                                                          index=False)
    return RunRecord("r1", "lightgbm", {"model": "lightgbm", "at_risk_threshold": "50",
                                        "horizon_days": "90"},
                     {"test_precision": 0.25, "test_precision_ci_low": 0.1,
                      "test_precision_ci_high": 0.4, "test_recall": 0.8}, {}, tmp_path)


def test_the_section_says_how_many_accounts_the_threshold_flags_and_what_to_expect(run):
    text = action_section(run, PLAYBOOKS)
    assert "health below 50 first" in text
    assert "held about 4 accounts per scoring run" in text and "at most 5)" in text  # 3, 5
    assert "40% of the active accounts, 4.0k ARR per run" in text
    assert "about 25% (95 % CI 10%–40%) of them to churn within 90 days" in text
    assert "1 in 4 flagged accounts" in text
    assert "catches 80% of the accounts" in text and "other 20% churn" in text
    assert "To catch" not in text  # 80 % caught: no wider threshold suggested
    assert "usage: 75% of the flagged accounts → Re-onboard the team." in text
    assert "billing: 12% of the flagged accounts → Fix the payment method." in text
    assert "(none)" not in text


def test_a_list_that_misses_most_churners_comes_with_the_threshold_that_catches_half(run):
    run.metrics["test_recall"] = 0.2
    text = action_section(run, PLAYBOOKS)
    # health below 55 flags rows 0-2 of the first run and 0-4 of the second: 5 of 10 churners
    assert "To catch 50% of the churners, flag health below 55: about 4 accounts per run" in text
    run.metrics["test_precision"] = 0.95
    assert "almost every flagged account is a save to win" in action_section(run, PLAYBOOKS)


def test_the_run_s_own_threshold_wins_and_a_run_without_predictions_has_no_section(run):
    run.params["at_risk_threshold"] = "25"  # health 10 and 20: 2 per run
    assert "held about 2 accounts per scoring run" in action_section(run, PLAYBOOKS, 50)
    run.params["at_risk_threshold"] = "5"
    assert "the list would have been empty" in action_section(run, PLAYBOOKS, 50)
    del run.params["at_risk_threshold"]
    assert "health below 50 first" in action_section(run, None, threshold=50)
    (run.artifact_dir / "tables" / "test_predictions.parquet").unlink()
    assert action_section(run, PLAYBOOKS) == ""


def test_the_page_puts_the_section_after_the_headline(run):
    page = render_report(run, None, PLAYBOOKS)
    assert page.index("Headline") < page.index("What to do this week") < page.index(
        "Health bands")


def test_band_and_segment_tables_read_as_words_and_percentages(run):
    tables = run.artifact_dir / "tables"
    pd.DataFrame({"band": ["Critical", "Healthy"], "health_range": ["0–24", "75–100"],
                  "accounts": [10, 90], "churners": [5, 1], "churn_rate": [0.5, 1 / 90],
                  "share_of_accounts": [0.1, 0.9]}).to_csv(tables / "band_table.csv",
                                                          index=False)
    pd.DataFrame({"segment": ["mid_market"], "n_rows": [100], "n_churners": [6],
                  "churn_rate": [0.06], "roc_auc": [0.81], "recall": [0.5]}).to_csv(
        tables / "segment_metrics.csv", index=False)
    page = render_report(run, None, PLAYBOOKS)
    assert "<th>health range</th>" in page and "<th>share of accounts</th>" in page
    assert "<td>50.0%</td>" in page and "<td>1.1%</td>" in page and "<td>90.0%</td>" in page
    assert "<td>mid market</td>" in page and "<td>0.810</td>" in page  # AUC stays a number
    assert "health_range" not in page and "0.011" not in page


def test_at_risk_dimensions_counts_each_flagged_row_s_largest_push_towards_churn():
    health = np.array([10.0, 20.0, 30.0, 80.0])
    dims = ["usage", "usage", "billing", "commercial"]
    phi = np.array([[1.0, 0.5, 0.2, 9.0],    # usage 1.5 > billing 0.2 (commercial never picks)
                    [0.1, 0.0, 0.4, 0.0],    # billing 0.4 > usage 0.1
                    [-1.0, 0.0, -0.5, 3.0],  # nothing actionable pushes towards churn
                    [5.0, 5.0, 5.0, 5.0]])   # healthy: not counted
    table = at_risk_dimensions(health, phi, dims, 50.0)
    assert table.to_dict("list") == {"dimension": ["(none)", "billing", "usage"],
                                     "flagged_rows": [1, 1, 1],
                                     "share": pytest.approx([1 / 3] * 3)}
    assert at_risk_dimensions(health, phi, dims, 5.0).empty
