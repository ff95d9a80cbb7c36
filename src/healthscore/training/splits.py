"""Splits of the labelled snapshots: by time (train | gap | validation | gap | test), by
account when the history is too short for that, and rolling backtest origins.

A time split assigns rows by snapshot date, so an (account, date) is in exactly one part. A
gap of one label horizon between periods keeps every earlier label window [s, s + horizon)
from reaching a later period's snapshots; a smaller gap is allowed but never silent
(:func:`label_overlaps`). Unset period lengths are sized from the labelled history
(:func:`sized_period_days`); when even the smallest gapped time split does not fit, ``by:
auto`` splits by account instead (:func:`account_split`): every account's rows go to one part.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.training.settings import BacktestConfig, SplitConfig

log = logging.getLogger(__name__)

TRAIN, VALIDATION, TEST = "train", "validation", "test"
MAX_PERIOD_DAYS = 90  # sized test and validation periods never exceed a quarter
ACCOUNT_SHARES = (0.6, 0.2)  # train, validation; test gets the rest


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


def _distinct_dates(labelled_dates: pd.Series) -> list[dt.date]:
    dates = sorted(set(pd.to_datetime(labelled_dates).dt.date))
    if not dates:
        raise ParameterError("labelled rows", "non-empty (no snapshot has an observed label)",
                             0)
    return dates


def gap_days_of(config: SplitConfig, horizon_days: int) -> int:
    """The gap between periods: ``gap_days`` when set, else one label horizon."""
    return horizon_days if config.gap_days is None else config.gap_days


def snapshot_interval(dates: list[dt.date]) -> int:
    """The longest distance in days between consecutive snapshot dates (1 for one date):
    a period at least this long always holds a snapshot."""
    steps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
    return max(steps, default=1)


def minimum_history_days(dates: list[dt.date], gap_days: int) -> int:
    """The shortest labelled history (first to last snapshot, in days) that holds a gapped
    time split: two gaps and one snapshot interval for each of train, validation and test."""
    return 2 * gap_days + 3 * snapshot_interval(dates)


def sized_period_days(dates: list[dt.date], gap_days: int) -> int | None:
    """Test and validation length sized from the labelled history: a quarter of the days
    left after the two gaps (so that training keeps at least half), at most 90 and at least
    one snapshot interval. None when the history is too short for a gapped time split."""
    available = (dates[-1] - dates[0]).days - 2 * gap_days
    step = snapshot_interval(dates)
    period = min(MAX_PERIOD_DAYS, available // 4)
    if period >= step:
        return period
    return step if available >= 3 * step else None


def time_split(
    labelled_dates: pd.Series, horizon_days: int, config: SplitConfig,
    test_end: dt.date | None = None, test_days: int | None = None,
) -> TimeSplit:
    """Place the test period at the end of the labelled snapshots (or at ``test_end``) and
    the validation and training periods before it, separated by gaps.

    Raises :class:`ParameterError` naming the history needed when a period gets no snapshot.
    """
    dates = _distinct_dates(labelled_dates)
    if test_end is not None:
        dates = [d for d in dates if d <= test_end] or dates[:1]
    gap = gap_days_of(config, horizon_days)
    test = test_days or config.test_days
    validation = config.validation_days
    if test is None or validation is None:
        sized = sized_period_days(dates, gap)
        if sized is None:
            raise _too_short(dates, minimum_history_days(dates, gap), None)
        test, validation = test or sized, validation or sized
    t3 = test_end or dates[-1]
    t_start = t3 - dt.timedelta(days=test)
    v_end = t_start - dt.timedelta(days=gap)
    v_start = v_end - dt.timedelta(days=validation)
    split = TimeSplit(v_start - dt.timedelta(days=gap), v_start, v_end, t_start, t3)
    counts = split.assign(pd.Series(dates)).value_counts()
    missing = [name for name in (TRAIN, VALIDATION, TEST) if counts.get(name, 0) == 0]
    if missing:
        raise _too_short(dates, test + validation + 2 * gap, (missing, split))
    return split


def _too_short(dates: list[dt.date], needed: int,
               found: tuple[list[str], TimeSplit] | None) -> ParameterError:
    what = (f"periods that each hold a labelled snapshot; {found[0]} got none"
            if found else "a history long enough for a gapped time split")
    return ParameterError(
        "training.split",
        f"{what}. Labelled snapshots run {dates[0]} .. {dates[-1]} "
        f"({(dates[-1] - dates[0]).days} days); the split needs at least {needed} days of "
        "labelled history (shorten training.split.*_days or gap_days, add history, or set "
        "training.split.by: account)",
        found[1].describe() if found else {"history_days": (dates[-1] - dates[0]).days},
    )


def account_split(accounts: pd.Series, labels: pd.Series, seed: int,
                  shares: tuple[float, float] = ACCOUNT_SHARES) -> pd.Series:
    """Assign every account, with all its rows, to one part: train / validation / test.

    Accounts are stratified by whether any of their rows is positive, so every part gets
    churners; the assignment depends only on the account ids, their labels and ``seed``.
    """
    ever = labels.astype(bool).groupby(accounts.astype(str)).any()
    ever = ever.sort_index()
    rng = np.random.default_rng(seed)
    part: dict[str, str] = {}
    for _, group in ever.groupby(ever):
        order = group.index.to_numpy()[rng.permutation(len(group))]
        n_train = int(round(shares[0] * len(order)))
        n_val = int(round(shares[1] * len(order)))
        part.update(dict.fromkeys(order[:n_train], TRAIN))
        part.update(dict.fromkeys(order[n_train:n_train + n_val], VALIDATION))
        part.update(dict.fromkeys(order[n_train + n_val:], TEST))
    return accounts.astype(str).map(part).astype(object)


def label_overlaps(assignment: pd.Series, snapshot_dates: pd.Series,
                   horizon_days: int) -> dict[str, int]:
    """Days by which the label windows of an earlier part reach a later part's first
    snapshot (``"train/test": 30``); only pairs that overlap are listed."""
    dates = pd.to_datetime(snapshot_dates)
    first = {p: dates[assignment == p].min() for p in (TRAIN, VALIDATION, TEST)}
    last = {p: dates[assignment == p].max() for p in (TRAIN, VALIDATION, TEST)}
    overlaps = {}
    for earlier, later in ((TRAIN, VALIDATION), (TRAIN, TEST), (VALIDATION, TEST)):
        if pd.isna(last[earlier]) or pd.isna(first[later]):
            continue
        days = (last[earlier] + pd.Timedelta(days=horizon_days) - first[later]).days
        if days > 0:
            overlaps[f"{earlier}/{later}"] = int(days)
    return overlaps


@dataclass(frozen=True)
class SplitPlan:
    """How labelled rows are split and why, with the notes a person must read."""

    kind: str  # "time" or "account"
    time: TimeSplit | None
    reason: str
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, str]:
        """Human-readable parts for the CLI, the report and MLflow params."""
        if self.time is not None:
            return self.time.describe()
        return {"split": "by account 60/20/20"}

    @property
    def notes(self) -> list[str]:
        """The reason followed by every warning."""
        return [self.reason, *self.warnings]


def plan_split(frame: pd.DataFrame, label: str, horizon_days: int, config: SplitConfig,
               seed: int) -> tuple[pd.Series, SplitPlan]:
    """Split labelled rows (``account_id``, ``snapshot_date``, ``label``) as ``config.by``
    says; return the part of every row and the plan, warning about overlapping label windows.
    """
    dates = _distinct_dates(frame["snapshot_date"])
    span = (dates[-1] - dates[0]).days
    gap = gap_days_of(config, horizon_days)
    if config.by != "account":
        try:
            split = time_split(frame["snapshot_date"], horizon_days, config)
        except ParameterError:
            if config.by == "time":
                raise
            needed = minimum_history_days(dates, gap) if config.test_days is None else (
                config.test_days + (config.validation_days or 0) + 2 * gap)
            reason = (
                f"Split by account (60/20/20, every account in one part): {span} days of "
                f"labelled history ({dates[0]} .. {dates[-1]}) are too short for a time split "
                f"with gaps of {gap} days, which needs at least {needed}. Test accounts were "
                "never seen in training, but they share its periods: figures may be optimistic "
                "about changes over time.")
        else:
            assignment = split.assign(frame["snapshot_date"])
            reason = (f"Split by time: {span} days of labelled history, test "
                      f"{(split.test_end - split.test_start).days} days, validation "
                      f"{(split.validation_end - split.validation_start).days} days, gaps of "
                      f"{gap} days.")
            warnings = [
                f"Label windows overlap: {pair.replace('/', ' labels reach ')} snapshots by "
                f"{days} days (gap_days {gap} < horizon {horizon_days}); the {pair.split('/')[1]}"
                " figures may be optimistic."
                for pair, days in label_overlaps(assignment, frame["snapshot_date"],
                                                 horizon_days).items()
            ]
            for warning in warnings:
                log.warning(warning)
            return assignment, SplitPlan("time", split, reason, warnings)
        log.warning(reason)
    else:
        reason = "Split by account (60/20/20, every account in one part), as configured."
    assignment = account_split(frame["account_id"], frame[label], seed)
    return assignment.set_axis(frame.index), SplitPlan("account", None, reason)


@dataclass(frozen=True)
class SkippedFold:
    """A backtest fold that did not fit, and why."""

    fold: int
    test_end: dt.date
    reason: str


@dataclass(frozen=True)
class BacktestPlan:
    """The backtest folds that fit (oldest first) and the ones that did not."""

    folds: list[TimeSplit]
    numbers: list[int]  # the fold number (1 = oldest asked for) of each fold that fits
    skipped: list[SkippedFold]
    asked: int

    def summary(self) -> str:
        """``2 of 4 folds fit; fold 1 (test up to 2024-07-01): ...``"""
        text = f"{len(self.folds)} of {self.asked} backtest folds fit"
        if self.skipped:
            text += "; " + "; ".join(f"fold {s.fold} (test up to {s.test_end}) skipped: {s.reason}"
                                     for s in self.skipped)
        return text


def backtest_plan(
    labelled_dates: pd.Series, horizon_days: int, split: SplitConfig, config: BacktestConfig,
) -> BacktestPlan:
    """Rolling origins over the last ``folds`` periods of ``fold_days``, oldest first; a fold
    without enough labelled history before it is skipped with the reason."""
    dates = _distinct_dates(labelled_dates)
    gap = gap_days_of(split, horizon_days)
    validation = split.validation_days or MAX_PERIOD_DAYS
    folds, numbers, skipped = [], [], []
    for number, k in enumerate(range(config.folds - 1, -1, -1), start=1):
        end = dates[-1] - dt.timedelta(days=k * config.fold_days)
        train_end = end - dt.timedelta(days=config.fold_days + 2 * gap + validation)
        fold_split = split.model_copy(update={"validation_days": validation})
        try:
            folds.append(time_split(pd.Series(dates), horizon_days, fold_split, test_end=end,
                                    test_days=config.fold_days))
            numbers.append(number)
        except ParameterError as exc:
            reason = (f"training would end on {train_end}, before the first labelled snapshot "
                      f"{dates[0]} (a fold needs {config.fold_days} test + {validation} "
                      f"validation + 2 x {gap} gap days)" if train_end < dates[0]
                      else str(exc))
            skipped.append(SkippedFold(number, end, reason))
    return BacktestPlan(folds, numbers, skipped, config.folds)


def backtest_splits(
    labelled_dates: pd.Series, horizon_days: int, split: SplitConfig, config: BacktestConfig,
) -> list[TimeSplit]:
    """The backtest folds that fit, oldest first; an error listing why when none does."""
    plan = backtest_plan(labelled_dates, horizon_days, split, config)
    if not plan.folds:
        raise ParameterError("training.backtest", "at least one fold with enough history",
                             plan.summary())
    return plan.folds


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
