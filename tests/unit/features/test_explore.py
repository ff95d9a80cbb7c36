"""Churn rates and churner-vs-retained distributions on a small hand-built matrix."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ParameterError
from healthscore.features.engine import rank_auc
from healthscore.features.explore import churn_rates, outcome_histogram, outcome_summary
from healthscore.features.registry import Dimension, Direction, FeatureSpec, Kind

JAN, FEB = dt.date(2025, 1, 1), dt.date(2025, 2, 1)


def matrix() -> pd.DataFrame:
    """Six labelled rows in January, two unobserved in February."""
    return pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5, 6, 1, 2],
        "snapshot_date": [JAN] * 6 + [FEB] * 2,
        "segment": ["smb", "smb", "smb", "enterprise", "enterprise", "smb", "smb", "smb"],
        "label_churn": [1, 0, 0, 1, 0, 0, 0, 0],
        "label_observed": [True] * 6 + [False] * 2,
        "logins_30d": [0.0, 10.0, 12.0, 1.0, 9.0, np.nan, 3.0, 4.0],
        "plan": ["basic", "pro", "pro", "basic", "pro", "pro", "basic", "pro"],
    })


def test_churn_rate_per_snapshot_counts_only_observed_labels():
    table = churn_rates(matrix()).set_index("snapshot_date")
    assert table.loc[JAN, "accounts"] == 6 and table.loc[JAN, "churners"] == 2
    assert table.loc[JAN, "churn_rate"] == pytest.approx(2 / 6)
    assert table.loc[FEB, "labelled"] == 0 and np.isnan(table.loc[FEB, "churn_rate"])


def test_churn_rate_per_segment_pooled_and_over_time():
    pooled = churn_rates(matrix(), by="segment", per_snapshot=False).set_index("segment")
    assert pooled.loc["smb", "churn_rate"] == pytest.approx(1 / 4)
    assert pooled.loc["enterprise", "churn_rate"] == pytest.approx(1 / 2)
    over_time = churn_rates(matrix(), by="segment")
    assert len(over_time) == 3  # Jan smb, Jan enterprise, Feb smb
    overall = churn_rates(matrix(), per_snapshot=False)
    assert overall["churn_rate"].iat[0] == pytest.approx(2 / 6)
    with pytest.raises(ParameterError, match="missing \\['region'\\]"):
        churn_rates(matrix(), by="region")


def test_histogram_shares_per_outcome_with_a_missing_bin():
    shares = outcome_histogram(matrix(), "logins_30d", bins=2)
    assert list(shares.columns) == ["retained", "churned"]
    assert shares.index[-1] == "missing"
    np.testing.assert_allclose(shares.sum(), [1.0, 1.0])
    assert shares["churned"].iat[0] == 1.0  # both churners logged in 0-1 times: low bin
    assert shares.loc["missing", "retained"] == pytest.approx(1 / 4)


def test_histogram_of_a_text_feature_has_one_bin_per_value():
    shares = outcome_histogram(matrix(), "plan")
    assert list(shares.index) == ["basic", "pro"]
    assert shares.loc["basic", "churned"] == 1.0 and shares.loc["pro", "retained"] == 1.0
    with pytest.raises(ParameterError, match="The 'bins' parameter must be an int >= 1"):
        outcome_histogram(matrix(), "plan", bins=0)


def test_summary_ranks_features_by_separation():
    specs = [FeatureSpec(name="logins_30d", dimension=Dimension.USAGE,
                         direction=Direction.HIGHER_IS_HEALTHIER, unit="logins",
                         description="Logins.", explain="{value} logins",
                         sql="count(*)", family="events", kind=Kind.NUMERIC)]
    summary = outcome_summary(matrix(), specs)
    row = summary.iloc[0]
    assert row["feature"] == "logins_30d" and row["dimension"] == "usage"
    assert row["churned_median"] == 0.5 and row["retained_median"] == 10.0
    assert row["missing_share"] == pytest.approx(1 / 6)
    assert row["auc"] == 1.0  # churners' logins are below every retained account's


def test_rank_auc_leaves_a_read_only_column_major_input_alone():
    """The audit's input is often a read-only, column-major view of a frame."""
    x = np.asfortranarray([[3.0, 1.0], [1.0, 2.0], [2.0, 0.0]])
    x.flags.writeable = False
    before = x.copy()
    auc = rank_auc(x, np.array([1, 0, 0]))
    np.testing.assert_allclose(auc, [1.0, 0.5])
    np.testing.assert_array_equal(x, before)
