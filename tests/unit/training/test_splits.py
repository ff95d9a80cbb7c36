"""Time splits, rolling backtest origins and the stratified random split.

The honest-split properties are checked on the synthetic world's labelled snapshot dates;
error paths use small hand-made date series.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthscore.errors import ParameterError
from healthscore.training.settings import BacktestConfig, SplitConfig
from healthscore.training.splits import (
    TEST,
    TRAIN,
    VALIDATION,
    TimeSplit,
    account_split,
    backtest_plan,
    backtest_splits,
    label_overlaps,
    plan_split,
    random_split,
    sized_period_days,
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
    [(SplitConfig(), 2 * 90 + 3 * 31),  # sized: two gaps and a snapshot interval per part
     (SplitConfig(test_days=30, validation_days=30, gap_days=30), 120)],
)
def test_too_little_history_names_the_section_and_the_days_needed(config: SplitConfig,
                                                                  needed: int) -> None:
    with pytest.raises(ParameterError) as info:
        time_split(monthly("2024-01-01", 3), 90, config)
    message = str(info.value)
    assert "training.split" in message
    assert f"at least {needed} days" in message
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


# ------------------------------------------------------------- sized splits and fallbacks

EXAMPLES = int(os.environ.get("HEALTHSCORE_PIT_EXAMPLES", "60"))


def rows_for(dates: pd.Series, accounts: int, seed: int = 0) -> pd.DataFrame:
    """``accounts`` accounts at every date, about 10 % of rows positive."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame([(a, d) for d in dates for a in range(accounts)],
                         columns=["account_id", "snapshot_date"])
    frame["label_churn"] = rng.random(len(frame)) < 0.1
    return frame


def test_sized_periods_reproduce_the_quarter_on_two_years_of_history(labelled) -> None:
    sized = time_split(labelled["snapshot_date"], 90, SplitConfig())
    explicit = time_split(labelled["snapshot_date"], 90,
                          SplitConfig(test_days=90, validation_days=90))
    assert sized == explicit


def test_sized_periods_shrink_to_fit_a_shorter_history() -> None:
    dates = monthly("2024-01-01", 12)  # 335 days: 155 after two 90-day gaps
    period = sized_period_days(sorted(dates), 90)
    assert period == 38  # a quarter of 155, above one snapshot interval (31)
    split = time_split(dates, 90, SplitConfig())
    assert all(period_dates(split, dates).values())


def test_a_short_history_falls_back_to_an_account_split_and_says_why(caplog) -> None:
    frame = rows_for(monthly("2024-04-01", 7), accounts=200)  # a 12-month world's labels
    with caplog.at_level(logging.WARNING):
        assignment, plan = plan_split(frame, "label_churn", 90, SplitConfig(), seed=3)
    assert plan.kind == "account" and plan.time is None
    assert "Split by account" in plan.reason
    assert "183 days of labelled history (2024-04-01 .. 2024-10-01)" in plan.reason
    assert "at least 273" in plan.reason
    assert plan.reason in caplog.text
    assert set(assignment) == {TRAIN, VALIDATION, TEST}
    assert plan.describe() == {"split": "by account 60/20/20"}


def test_split_by_time_never_falls_back() -> None:
    frame = rows_for(monthly("2024-04-01", 7), accounts=20)
    with pytest.raises(ParameterError, match=r"training\.split.*at least 273 days"):
        plan_split(frame, "label_churn", 90, SplitConfig(by="time"), seed=3)


def test_split_by_account_when_asked_even_with_a_long_history(labelled) -> None:
    frame = labelled.assign(label_churn=False)
    frame.loc[frame.index[::10], "label_churn"] = True
    assignment, plan = plan_split(frame, "label_churn", 90, SplitConfig(by="account"), seed=1)
    assert plan.kind == "account" and "as configured" in plan.reason
    assert assignment.groupby(frame["account_id"]).nunique().max() == 1


def test_account_split_is_deterministic_and_stratified_by_account() -> None:
    frame = rows_for(monthly("2024-01-01", 6), accounts=500, seed=4)
    first = account_split(frame["account_id"], frame["label_churn"], seed=9)
    assert first.equals(account_split(frame["account_id"], frame["label_churn"], seed=9))
    assert not first.equals(account_split(frame["account_id"], frame["label_churn"], seed=10))
    ever = frame.groupby("account_id")["label_churn"].any()
    per_account = first.groupby(frame["account_id"]).first()
    for value in (True, False):
        shares = per_account[ever == value].value_counts(normalize=True)
        assert abs(shares[TRAIN] - 0.6) < 0.02 and abs(shares[TEST] - 0.2) < 0.02


@pytest.mark.property
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(months=st.integers(2, 30), accounts=st.integers(3, 60), seed=st.integers(0, 10_000),
       by=st.sampled_from(["auto", "account"]))
def test_account_split_never_puts_an_account_in_two_parts(months, accounts, seed, by) -> None:
    frame = rows_for(monthly("2024-01-01", months), accounts=accounts, seed=seed)
    frame = frame.sample(frac=0.8, random_state=seed)  # accounts miss some snapshots
    assignment, plan = plan_split(frame, "label_churn", 90, SplitConfig(by=by), seed=seed)
    if plan.kind != "account":
        return
    assert assignment.index.equals(frame.index)
    assert assignment.isin([TRAIN, VALIDATION, TEST]).all()
    assert assignment.groupby(frame["account_id"]).nunique().max() == 1


@pytest.mark.property
@settings(max_examples=EXAMPLES, deadline=None)
@given(months=st.integers(8, 48), weekly=st.booleans(), horizon=st.integers(7, 273),
       gap=st.one_of(st.none(), st.integers(0, 300)),
       days=st.one_of(st.none(), st.integers(7, 120)))
def test_training_label_windows_end_before_the_first_test_snapshot(months, weekly, horizon,
                                                                   gap, days) -> None:
    freq = "W-MON" if weekly else "MS"
    dates = pd.Series(pd.date_range("2023-01-01", periods=months * (4 if weekly else 1),
                                    freq=freq).date)
    frame = rows_for(dates, accounts=3)
    config = SplitConfig(by="time", gap_days=gap, test_days=days, validation_days=days)
    try:
        assignment, plan = plan_split(frame, "label_churn", horizon, config, seed=0)
    except ParameterError:
        return  # too short for this time split: an error, never a silent fallback
    when = pd.to_datetime(frame["snapshot_date"])
    last_train = when[assignment == TRAIN].max()
    first_valid = when[assignment == VALIDATION].min()
    first_test = when[assignment == TEST].min()
    window_end = last_train + pd.Timedelta(days=horizon - 1)  # last day a train label sees
    if gap is None or gap >= horizon:
        assert window_end < first_valid <= first_test
        assert not plan.warnings
    else:
        overlap = label_overlaps(assignment, frame["snapshot_date"], horizon)
        assert (window_end >= first_test) == ("train/test" in overlap)
        if "train/test" in overlap:
            days_in = (window_end - first_test).days + 1
            assert overlap["train/test"] == days_in
            assert any(f"train labels reach test snapshots by {days_in} days" in w
                       for w in plan.warnings)
        assert bool(plan.warnings) == bool(overlap)


def test_gap_zero_warns_with_the_overlap_in_days(caplog) -> None:
    dates = monthly("2023-01-01", 24)
    frame = rows_for(dates, accounts=5)
    config = SplitConfig(gap_days=0, test_days=90, validation_days=90)
    with caplog.at_level(logging.WARNING):
        _, plan = plan_split(frame, "label_churn", 90, config, seed=0)
    # train ends 2024-06-01, validation 2024-07-01 .. 2024-09-01, test from 2024-10-01
    assert plan.kind == "time"
    assert ("Label windows overlap: train labels reach validation snapshots by 60 days "
            "(gap_days 0 < horizon 90)") in caplog.text
    assert "validation labels reach test snapshots by 60 days" in caplog.text
    assert all(w in plan.notes for w in plan.warnings)


def test_backtest_plan_says_how_many_folds_fit_and_why_the_others_did_not() -> None:
    dates = monthly("2024-01-01", 18)
    plan = backtest_plan(dates, 90, SplitConfig(), BacktestConfig(folds=4, fold_days=91))
    assert len(plan.folds) + len(plan.skipped) == 4
    assert plan.numbers == sorted(plan.numbers)
    assert [s.fold for s in plan.skipped] == [1, 2]
    summary = plan.summary()
    assert summary.startswith("2 of 4 backtest folds fit; fold 1 (test up to 2024-09-01) "
                              "skipped: training would end on 2023-09-06, before the first "
                              "labelled snapshot 2024-01-01")
    assert "91 test + 90 validation + 2 x 90 gap days" in summary


def test_backtest_without_a_fitting_fold_lists_every_reason() -> None:
    with pytest.raises(ParameterError) as info:
        backtest_splits(monthly("2024-01-01", 6), 90, SplitConfig(), BacktestConfig(folds=2))
    assert "0 of 2 backtest folds fit" in str(info.value)
    assert "fold 2 (test up to 2024-06-01) skipped" in str(info.value)
