"""Time splits, rolling backtest origins and the stratified random split.

The honest-split properties are checked on the synthetic world's labelled snapshot dates;
error paths use small hand-made date series.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ParameterError
from healthscore.training.settings import BacktestConfig, SplitConfig
from healthscore.training.splits import (
    TEST,
    TRAIN,
    VALIDATION,
    TimeSplit,
    backtest_splits,
    random_split,
    time_split,
)

HORIZON = dt.timedelta(days=90)


def monthly(start: str, months: int) -> pd.Series:
    """Month-start snapshot dates."""
    return pd.Series(pd.date_range(start, periods=months, freq="MS").date)


def period_dates(split: TimeSplit, dates: pd.Series) -> dict[str, list[dt.date]]:
    """The sorted distinct dates that fall in each period of ``split``."""
    unique = pd.Series(sorted(set(pd.to_datetime(dates).dt.date)))
    assignment = split.assign(unique)
    return {name: unique[assignment == name].tolist() for name in (TRAIN, VALIDATION, TEST)}


@pytest.fixture(scope="module")
def labelled(world) -> pd.DataFrame:
    """(account_id, snapshot_date) of the world's labelled rows."""
    return world.labelled[["account_id", "snapshot_date"]]


@pytest.fixture(scope="module")
def split(labelled: pd.DataFrame) -> TimeSplit:
    """The default time split of the labelled snapshots (horizon 90 days)."""
    return time_split(labelled["snapshot_date"], 90, SplitConfig())


# ------------------------------------------------------------------------------ time split


def test_each_labelled_row_is_in_at_most_one_split(labelled: pd.DataFrame,
                                                   split: TimeSplit) -> None:
    assignment = split.assign(labelled["snapshot_date"])
    assert assignment.index.equals(labelled.index)
    assert set(assignment.unique()) <= {TRAIN, VALIDATION, TEST, ""}
    keyed = labelled.assign(split=assignment.to_numpy())
    per_row = keyed.groupby(["account_id", "snapshot_date"])["split"].nunique()
    assert (per_row == 1).all()
    # a snapshot date belongs to one period, so no account is in two periods on one date
    assert (keyed.groupby("snapshot_date")["split"].nunique() == 1).all()
    assert {TRAIN, VALIDATION, TEST} <= set(assignment.unique())


def test_periods_are_ordered_and_inside_their_bounds(labelled: pd.DataFrame,
                                                     split: TimeSplit) -> None:
    dates = period_dates(split, labelled["snapshot_date"])
    assert all(dates[name] for name in (TRAIN, VALIDATION, TEST))
    assert max(dates[TRAIN]) <= split.train_end < min(dates[VALIDATION])
    assert max(dates[VALIDATION]) <= split.validation_end < min(dates[TEST])
    assert max(dates[TEST]) <= split.test_end
    assert split.train_end < split.validation_start < split.validation_end
    assert split.validation_end < split.test_start < split.test_end


def test_gaps_keep_earlier_label_windows_out_of_later_periods(labelled: pd.DataFrame,
                                                              split: TimeSplit) -> None:
    dates = period_dates(split, labelled["snapshot_date"])
    # the label window of snapshot s is (s, s + horizon]: it must end before the next period
    assert max(dates[TRAIN]) + HORIZON < min(dates[VALIDATION])
    assert max(dates[VALIDATION]) + HORIZON < min(dates[TEST])


def test_test_period_ends_at_the_last_labelled_snapshot(labelled: pd.DataFrame,
                                                        split: TimeSplit) -> None:
    last = max(labelled["snapshot_date"])
    assert split.test_end == last
    assert max(period_dates(split, labelled["snapshot_date"])[TEST]) == last


def test_dates_in_a_gap_or_after_the_test_end_get_no_split(split: TimeSplit) -> None:
    gap_day = split.train_end + dt.timedelta(days=1)
    later = split.test_end + dt.timedelta(days=1)
    assert split.assign(pd.Series([gap_day, later])).tolist() == ["", ""]


def test_gap_days_overrides_the_horizon() -> None:
    config = SplitConfig(test_days=60, validation_days=60, gap_days=30)
    split = time_split(monthly("2024-01-01", 12), 90, config)
    assert split.validation_start - split.train_end == dt.timedelta(days=30)
    assert split.test_start - split.validation_end == dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("config", "needed"),
    [(SplitConfig(), 360),
     (SplitConfig(test_days=30, validation_days=30, gap_days=30), 120)],
)
def test_too_little_history_names_the_section_and_the_days_needed(config: SplitConfig,
                                                                  needed: int) -> None:
    with pytest.raises(ParameterError) as info:
        time_split(monthly("2024-01-01", 3), 90, config)
    message = str(info.value)
    assert "training.split" in message
    assert f"more than {needed} days" in message
    assert "2024-01-01 .. 2024-03-01" in message


def test_no_labelled_snapshot_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="no snapshot has an observed label"):
        time_split(pd.Series([], dtype="datetime64[ns]"), 90, SplitConfig())


# -------------------------------------------------------------------------------- backtest


def test_backtest_folds_are_oldest_first_contiguous_and_gapped(labelled: pd.DataFrame) -> None:
    config = BacktestConfig(folds=4, fold_days=91)
    folds = backtest_splits(labelled["snapshot_date"], 90, SplitConfig(), config)
    assert len(folds) == 4
    ends = [f.test_end for f in folds]
    assert ends == sorted(ends)
    assert ends[-1] == max(labelled["snapshot_date"])
    for older, newer in zip(folds, folds[1:], strict=False):
        assert older.test_end == newer.test_start  # (start, end] periods: touching, disjoint
    in_a_test_period = [period_dates(f, labelled["snapshot_date"])[TEST] for f in folds]
    flat = [d for dates in in_a_test_period for d in dates]
    assert len(flat) == len(set(flat))
    for fold in folds:
        assert fold.train_end + HORIZON <= fold.validation_start
        dates = period_dates(fold, labelled["snapshot_date"])
        assert all(dates[name] for name in (TRAIN, VALIDATION, TEST))
        assert max(dates[TRAIN]) + HORIZON < min(dates[VALIDATION])
        assert max(dates[VALIDATION]) + HORIZON < min(dates[TEST])


def test_backtest_skips_folds_without_enough_history(labelled: pd.DataFrame) -> None:
    dates = labelled["snapshot_date"]
    folds = backtest_splits(dates, 90, SplitConfig(), BacktestConfig(folds=12, fold_days=91))
    assert 1 <= len(folds) < 12
    assert folds[-1].test_end == max(dates)  # the most recent folds are the ones kept
    for older, newer in zip(folds, folds[1:], strict=False):
        assert older.test_end == newer.test_start
    assert all(period_dates(f, dates)[TRAIN] for f in folds)


def test_backtest_without_any_fold_names_the_section() -> None:
    with pytest.raises(ParameterError, match=r"training\.backtest.*at least one fold"):
        backtest_splits(monthly("2024-01-01", 6), 90, SplitConfig(), BacktestConfig(folds=2))


def test_backtest_without_labelled_snapshots_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError):
        backtest_splits(pd.Series([], dtype="datetime64[ns]"), 90, SplitConfig(),
                        BacktestConfig())


# --------------------------------------------------------------------------- random split


@pytest.fixture(scope="module")
def labels() -> pd.Series:
    """1,000 labels, 13 % positive, on a shuffled non-default index."""
    rng = np.random.default_rng(11)
    y = np.zeros(1000, dtype=int)
    y[rng.choice(1000, 130, replace=False)] = 1
    return pd.Series(y, index=rng.permutation(np.arange(5000, 6000)))


def test_random_split_is_stratified_60_20_20(labels: pd.Series) -> None:
    assignment = random_split(labels, seed=1)
    assert assignment.index.equals(labels.index)
    assert set(assignment) == {TRAIN, VALIDATION, TEST}
    for cls in (0, 1):
        in_class = assignment[labels == cls]
        counts = in_class.value_counts()
        for name, share in ((TRAIN, 0.6), (VALIDATION, 0.2), (TEST, 0.2)):
            assert abs(counts[name] - share * len(in_class)) <= 1, (cls, name, counts.to_dict())


def test_random_split_is_deterministic_by_seed(labels: pd.Series) -> None:
    first = random_split(labels, seed=1)
    assert first.equals(random_split(labels, seed=1))
    assert not first.equals(random_split(labels, seed=2))
