"""Time-based splits: train | gap | validation | gap | test, and rolling backtest origins.

Rows are assigned by snapshot date, so an (account, date) is in exactly one split. A gap of
one label horizon between periods keeps every earlier label window (s, s + horizon] from
reaching into a later period's snapshots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.training.settings import BacktestConfig, SplitConfig

TRAIN, VALIDATION, TEST = "train", "validation", "test"


@dataclass(frozen=True)
class TimeSplit:
    """Period bounds; train is ``<= train_end``, the others are ``(start, end]``."""

    train_end: dt.date
    validation_start: dt.date
    validation_end: dt.date
    test_start: dt.date
    test_end: dt.date

    def assign(self, snapshot_dates: pd.Series) -> pd.Series:
        """The split of each date: train / validation / test, or "" in a gap or after."""
        d = pd.to_datetime(snapshot_dates)
        ts = pd.Timestamp
        labels = np.select(
            [d <= ts(self.train_end),
             (d > ts(self.validation_start)) & (d <= ts(self.validation_end)),
             (d > ts(self.test_start)) & (d <= ts(self.test_end))],
            [TRAIN, VALIDATION, TEST], default="",
        )
        return pd.Series(labels, index=snapshot_dates.index)

    def describe(self) -> dict[str, str]:
        """Human-readable bounds for reports and MLflow params."""
        return {
            "train": f"<= {self.train_end}",
            "validation": f"({self.validation_start}, {self.validation_end}]",
            "test": f"({self.test_start}, {self.test_end}]",
        }


def time_split(
    labelled_dates: pd.Series, horizon_days: int, config: SplitConfig,
    test_end: dt.date | None = None, test_days: int | None = None,
) -> TimeSplit:
    """Place the test period at the end of the labelled snapshots (or at ``test_end``) and
    the validation and training periods before it, separated by gaps."""
    dates = sorted(set(pd.to_datetime(labelled_dates).dt.date))
    if not dates:
        raise ParameterError("labelled rows", "non-empty (no snapshot has an observed label)",
                             0)
    gap = dt.timedelta(days=horizon_days if config.gap_days is None else config.gap_days)
    t3 = test_end or dates[-1]
    t_start = t3 - dt.timedelta(days=test_days or config.test_days)
    v_end = t_start - gap
    v_start = v_end - dt.timedelta(days=config.validation_days)
    t1 = v_start - gap
    split = TimeSplit(t1, v_start, v_end, t_start, t3)
    counts = split.assign(pd.Series(dates)).value_counts()
    missing = [name for name in (TRAIN, VALIDATION, TEST) if counts.get(name, 0) == 0]
    if missing:
        needed = (test_days or config.test_days) + config.validation_days + 2 * gap.days
        raise ParameterError(
            "training.split",
            f"periods that each hold a labelled snapshot; {missing} got none. Labelled "
            f"snapshots run {dates[0]} .. {dates[-1]}; the split needs more than {needed} days "
            "of labelled history (shorten training.split.*_days or gap_days, or add history)",
            split.describe(),
        )
    return split


def backtest_splits(
    labelled_dates: pd.Series, horizon_days: int, split: SplitConfig, config: BacktestConfig,
) -> list[TimeSplit]:
    """Rolling origins over the last ``folds`` periods, oldest first; folds without enough
    history before them are skipped."""
    dates = sorted(set(pd.to_datetime(labelled_dates).dt.date))
    if not dates:
        raise ParameterError("labelled rows", "non-empty (no snapshot has an observed label)",
                             0)
    last = dates[-1]
    folds = []
    for k in range(config.folds - 1, -1, -1):
        end = last - dt.timedelta(days=k * config.fold_days)
        try:
            folds.append(time_split(pd.Series(dates), horizon_days, split, test_end=end,
                                    test_days=config.fold_days))
        except ParameterError:
            continue
    if not folds:
        raise ParameterError("training.backtest", "at least one fold with enough history",
                             config.model_dump())
    return folds


def random_split(labels: pd.Series, seed: int, shares: tuple[float, float] = (0.6, 0.2)
                 ) -> pd.Series:
    """Stratified random train/validation/test assignment, for feature tables without dates."""
    rng = np.random.default_rng(seed)
    out = pd.Series("", index=labels.index, dtype=object)
    for _, group in labels.groupby(labels):
        order = rng.permutation(group.index.to_numpy())
        n_train = int(round(shares[0] * len(order)))
        n_val = int(round(shares[1] * len(order)))
        out[order[:n_train]] = TRAIN
        out[order[n_train:n_train + n_val]] = VALIDATION
        out[order[n_train + n_val:]] = TEST
    return out
