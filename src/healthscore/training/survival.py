"""A discrete-time survival model of churn: one model, P(churn within h) for every horizon.

Person-period rows: each labelled snapshot row is repeated once per interval of the horizon
grid (``[0, 30)``, ``[30, 90)``, ``[90, 180)``, ``[180, 365)`` days after the snapshot by
default) in which the account was still a customer at the interval's start and which was
observed to its end: the label says whether it churned inside that interval. An account
observed for ``d`` days after its snapshot (``label_observed_days``) contributes no interval
that ends after ``d``, churned or not (censoring): nothing counts as retained beyond what was
seen, and keeping only the churns of a partly observed interval would inflate its hazard.

The hazard of interval ``k`` is ``sigmoid(alpha_k + b * f(x))``: a baseline per interval and
one score ``f(x)`` shared by every interval, fitted by LightGBM or logistic regression with the
baselines as a fixed offset. Survival to ``h`` is the product of ``1 - hazard`` over the
intervals before ``h`` (within an interval the daily hazard is constant, so a horizon between
two edges takes that interval's factor to the covered fraction), hence

    P(churn within h) = 1 - prod_k (1 - hazard_k) ** covered_k(h)

is non-decreasing in ``h`` by construction, and increasing in ``f`` at every horizon: health at
any horizon is a monotone function of the one raw score, so the driver points of
:mod:`healthscore.model.explain` add up exactly as they do for a direct classifier.

Calibration: ``alpha_k`` and the slope ``b`` are refitted on the validation period's
person-period rows (``f`` fixed), which keeps every horizon's probability monotone in ``h``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.model.bands import band_thresholds_by_lift  # noqa: F401 - bench, tests
from healthscore.training.horizons import horizon_outcome
from healthscore.training.models import ChurnModel, FeatureInfo, make_model, sigmoid

log = logging.getLogger(__name__)

CHURN_DAYS = "label_churn_days"
OBSERVED_DAYS = "label_observed_days"
DEFAULT_HORIZONS = (30, 90, 180, 365)
SURVIVAL_COLUMNS = (CHURN_DAYS, OBSERVED_DAYS)
MIN_CALIBRATION_ROWS = 200  # per interval, else its training rows join the calibration
MIN_CALIBRATION_EVENTS = 5


def interval_edges(horizons: tuple[int, ...] | list[int]) -> np.ndarray:
    """The interval grid ``[0, h_1, h_2, ...]`` of ascending, distinct, positive horizons."""
    values = sorted({int(h) for h in horizons})
    if not values or values[0] < 1:
        raise ParameterError("horizons", "positive numbers of days", list(horizons))
    return np.array([0, *values], dtype=float)


def has_survival_labels(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` carries survival labels (contract churn with observed days)."""
    return (all(c in frame.columns for c in SURVIVAL_COLUMNS)
            and bool(frame[OBSERVED_DAYS].notna().any()))


def censor_at(frame: pd.DataFrame, day: pd.Timestamp | str) -> pd.DataFrame:
    """``frame`` as it was known on ``day``: each row's observed days end before ``day``, and a
    churn on or after it is no longer known (administrative censoring at a split boundary, so
    that no outcome of a later period reaches a model fitted on an earlier one)."""
    out = frame.copy()
    left = (pd.Timestamp(day) - pd.to_datetime(out["snapshot_date"])).dt.days.to_numpy(float)
    observed = np.minimum(out[OBSERVED_DAYS].to_numpy(float), np.maximum(left, 0.0))
    churn = out[CHURN_DAYS].to_numpy(float)
    out[OBSERVED_DAYS] = observed
    out[CHURN_DAYS] = np.where(churn < observed, churn, np.nan)
    return out


@dataclass(frozen=True)
class PersonPeriod:
    """The person-period expansion of some snapshot rows."""

    row: np.ndarray  # position of the snapshot row
    interval: np.ndarray  # interval index k
    event: np.ndarray  # 1 when the account churned inside interval k

    def __len__(self) -> int:
        return len(self.row)


def person_period(churn_days: np.ndarray, observed_days: np.ndarray, edges: np.ndarray
                  ) -> PersonPeriod:
    """Expand snapshot rows into (row, interval, event) for the intervals ``[edges[k],
    edges[k+1])``: a row enters interval ``k`` when it had not churned before the interval
    starts and was observed to its end. ``churn_days`` is NaN for no churn seen; a churn at or
    beyond ``observed_days`` is ignored (not seen)."""
    churn = np.asarray(churn_days, dtype=float)
    observed = np.nan_to_num(np.asarray(observed_days, dtype=float), nan=0.0)
    churn = np.where(churn < observed, churn, np.inf)  # unseen churn is no churn
    rows, intervals, events = [], [], []
    for k in range(len(edges) - 1):
        start, end = edges[k], edges[k + 1]
        at_risk = churn >= start
        event = at_risk & (churn < end)
        keep = at_risk & (observed >= end)
        index = np.flatnonzero(keep)
        rows.append(index)
        intervals.append(np.full(len(index), k))
        events.append(event[index].astype(int))
    return PersonPeriod(np.concatenate(rows), np.concatenate(intervals),
                        np.concatenate(events))


def churn_within(hazards: np.ndarray, edges: np.ndarray, horizon: float) -> np.ndarray:
    """P(churn within ``horizon``) from per-interval hazards (rows x intervals): the product
    of the survival factors, a partly covered interval to its covered fraction; beyond the
    last edge the last interval's daily hazard continues (extrapolation)."""
    hazards = np.clip(np.asarray(hazards, dtype=float), 0.0, 1.0 - 1e-12)
    widths = np.diff(edges)
    covered = np.clip((horizon - edges[:-1]) / widths, 0.0, None)
    covered[:-1] = np.minimum(covered[:-1], 1.0)
    log_survival = (np.log1p(-hazards) * covered).sum(axis=1)
    return 1.0 - np.exp(log_survival)


def _fit_baselines(score: np.ndarray, interval: np.ndarray, event: np.ndarray, intervals: int,
                   slope: bool, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Maximum-likelihood ``alpha_k`` (and slope ``b`` when ``slope``) of
    ``P(event) = sigmoid(alpha[interval] + b * score)`` by Newton's method, a small ridge
    keeping an interval without events finite."""
    width = intervals + (1 if slope else 0)
    design = np.zeros((len(score), width))
    design[np.arange(len(score)), interval] = 1.0
    if slope:
        design[:, -1] = score
    rates = np.array([(event[interval == k].sum() + 0.5) / ((interval == k).sum() + 1.0)
                      for k in range(intervals)])
    w = np.r_[np.log(rates / (1 - rates)), [1.0] if slope else []]
    offset = 0.0 if slope else score
    for _ in range(iterations):
        p = sigmoid(design @ w + offset)
        grad = design.T @ (event - p) - 1e-6 * w
        hess = design.T @ (design * (p * (1 - p))[:, None]) + 1e-6 * np.eye(width)
        step = np.linalg.solve(hess, grad)
        w = w + step
        if np.abs(step).max() < 1e-9:
            break
    return w[:intervals], float(w[-1]) if slope else 1.0


class SurvivalModel(ChurnModel):
    """Discrete-time survival model: a fitted score model ``f`` (LightGBM or logistic) and the
    per-interval baselines; its probability is P(churn within ``horizon_days``)."""

    name = "survival"

    def __init__(self, inner: ChurnModel, edges: np.ndarray, alpha: np.ndarray, slope: float,
                 horizon_days: int) -> None:
        super().__init__(inner.features, inner.seed)
        self.inner = inner
        self.edges_ = np.asarray(edges, dtype=float)
        self.alpha_ = np.asarray(alpha, dtype=float)
        self.slope_ = max(float(slope), 1e-3)  # health must rise with the score's health
        self.horizon_days = int(horizon_days)
        self.levels_ = inner.levels_

    @property
    def score_kind(self) -> str:
        """The kind of the shared score model: lightgbm or logistic."""
        return self.inner.name

    @property
    def horizons(self) -> list[int]:
        """The horizons (interval ends) the model was fitted on, in days."""
        return [int(e) for e in self.edges_[1:]]

    def hazards(self, z: np.ndarray) -> np.ndarray:
        """Per-interval hazards (rows x intervals) for raw scores ``z``."""
        z = np.asarray(z, dtype=float).reshape(-1)
        return sigmoid(self.alpha_[None, :] + self.slope_ * z[:, None])

    def proba_within(self, z: np.ndarray, horizon_days: float) -> np.ndarray:
        """P(churn within ``horizon_days``) for raw scores ``z``."""
        return churn_within(self.hazards(z), self.edges_, float(horizon_days))

    def restricted_mean_months(self, z: np.ndarray, months: int = 24) -> np.ndarray:
        """Expected months as a customer over the next ``months`` (restricted mean survival
        time: the area under the survival curve, summed day by day in 30-day months)."""
        days = np.arange(0, months * 30 + 1, 15, dtype=float)
        hazards = self.hazards(z)
        survival = np.column_stack([1.0 - churn_within(hazards, self.edges_, d)
                                    for d in days])
        return np.trapezoid(survival, days, axis=1) / 30.0

    def _fit(self, x, y, x_val, y_val) -> None:  # pragma: no cover - fitted by fit_survival
        raise ParameterError("survival model", "fitting through fit_survival()", "fit()")

    def _raw(self, x) -> np.ndarray:
        return self.inner._raw(x)

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        """P(churn within the model's horizon) for raw scores."""
        return self.proba_within(z, self.horizon_days)

    def _contributions(self, x) -> tuple[float, np.ndarray]:
        return self.inner._contributions(x)

    def params(self) -> dict[str, object]:
        return {**self.inner.params(), "survival": True, "score_model": self.inner.name,
                "horizons": self.horizons, "health_horizon_days": self.horizon_days,
                "slope": round(self.slope_, 4),
                **{f"baseline_{int(self.edges_[k])}_{int(self.edges_[k + 1])}":
                   round(float(a), 4) for k, a in enumerate(self.alpha_)}}


def _within(pp: PersonPeriod, intervals: int) -> PersonPeriod:
    keep = pp.interval < intervals
    return PersonPeriod(pp.row[keep], pp.interval[keep], pp.event[keep])


def expand(rows: pd.DataFrame, edges: np.ndarray) -> tuple[pd.DataFrame, PersonPeriod]:
    """The person-period frame of snapshot ``rows`` (a fresh unique index) and its labels."""
    pp = person_period(rows[CHURN_DAYS].to_numpy(float), rows[OBSERVED_DAYS].to_numpy(float),
                       edges)
    frame = rows.iloc[pp.row].reset_index(drop=True)
    return frame, pp


def fit_survival(kind: str, infos: list[FeatureInfo], train: pd.DataFrame,
                 valid: pd.DataFrame, config, seed: int, horizons: list[int] | tuple[int, ...],
                 health_horizon_days: int) -> SurvivalModel:
    """Fit the survival model with a ``kind`` (lightgbm or logistic) score on ``train``'s
    person-period rows, tune/stop on ``valid``'s, then refit the baselines and slope on
    ``valid`` (calibration). ``train`` should be censored where ``valid`` starts and ``valid``
    where the test period starts (:func:`censor_at`)."""
    if kind not in ("lightgbm", "logistic"):
        raise ParameterError("survival score model", "lightgbm or logistic", kind)
    edges = interval_edges(horizons)
    intervals = len(edges) - 1
    x_train, pp_train = expand(train, edges)
    x_valid, pp_valid = expand(valid, edges)
    for part, pp in (("training", pp_train), ("validation", pp_valid)):
        if len(pp) == 0 or pp.event.sum() == 0 or pp.event.sum() == len(pp):
            raise ParameterError(f"survival {part} rows",
                                 "person-period rows with churned and retained intervals",
                                 f"{len(pp)} rows, {int(pp.event.sum())} churned")
    learnable = [k for k in range(intervals)
                 if (pp_train.interval == k).sum() >= MIN_CALIBRATION_ROWS
                 and pp_train.event[pp_train.interval == k].sum() >= MIN_CALIBRATION_EVENTS]
    last = max(learnable, default=0) + 1
    if last < intervals:
        log.warning("survival: the training rows do not cover P(churn within %s days): the "
                    "model's horizons end at %d days and longer ones are extrapolated",
                    ", ".join(str(int(e)) for e in edges[last + 1:]), int(edges[last]))
        edges, intervals = edges[:last + 1], last
        pp_train = _within(pp_train, last)
        pp_valid = _within(pp_valid, last)
        x_train, x_valid = train.iloc[pp_train.row].reset_index(drop=True), \
            valid.iloc[pp_valid.row].reset_index(drop=True)
    alpha, _ = _fit_baselines(np.zeros(len(pp_train)), pp_train.interval, pp_train.event,
                              intervals, slope=False)
    x_valid.index = x_valid.index + len(x_train)
    inner = make_model(kind, infos, config, seed).fit(
        x_train, pp_train.event, x_valid, pp_valid.event,
        offset=alpha[pp_train.interval], offset_val=alpha[pp_valid.interval])
    score = np.r_[inner.raw_score(valid)[pp_valid.row]]
    interval, event = pp_valid.interval, pp_valid.event
    thin = [k for k in range(intervals) if (interval == k).sum() < MIN_CALIBRATION_ROWS
            or event[interval == k].sum() < MIN_CALIBRATION_EVENTS]
    if thin:
        log.warning("survival: the validation rows hold too few rows or churns for the "
                    "intervals %s; their baselines are calibrated on the training rows",
                    [f"{int(edges[k])}-{int(edges[k + 1])}" for k in thin])
        extra = np.isin(pp_train.interval, thin)
        score = np.r_[score, inner.raw_score(train)[pp_train.row[extra]]]
        interval = np.r_[interval, pp_train.interval[extra]]
        event = np.r_[event, pp_train.event[extra]]
    alpha, slope = _fit_baselines(score, interval, event, intervals, slope=True)
    log.info("survival (%s): %d person-period rows (%d churned), validation slope %.3f",
             kind, len(pp_train), int(pp_train.event.sum()), slope)
    return SurvivalModel(inner, edges, alpha, slope, health_horizon_days)


def longest_observable_horizon(frame: pd.DataFrame, horizons: list[int] | tuple[int, ...],
                               min_rows: int = 1) -> int | None:
    """The longest of ``horizons`` for which at least ``min_rows`` rows are observed that
    long (None when none is)."""
    observed = frame[OBSERVED_DAYS].to_numpy(float)
    fits = [h for h in sorted(horizons) if int(np.sum(observed >= h)) >= min_rows]
    return fits[-1] if fits else None


def horizon_outcomes(frame: pd.DataFrame, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask of rows observed for ``horizon`` days, churned within it) of snapshot rows."""
    return horizon_outcome(frame[CHURN_DAYS].to_numpy(float),
                           frame[OBSERVED_DAYS].to_numpy(float), horizon)


def concordance_index(risk: np.ndarray, churn_days: np.ndarray, observed_days: np.ndarray,
                      chunk: int = 512) -> float:
    """Harrell's C: among pairs where one account churned (day ``t_i``) while the other was
    still a customer after ``t_i`` (churned later or observed longer), the share in which the
    churner had the higher risk (ties count half)."""
    risk = np.asarray(risk, dtype=float)
    churn = np.asarray(churn_days, dtype=float)
    observed = np.asarray(observed_days, dtype=float)
    time = np.where(np.isnan(churn), observed, churn)
    event = ~np.isnan(churn)
    concordant = ties = pairs = 0.0
    events = np.flatnonzero(event)
    for start in range(0, len(events), chunk):
        i = events[start:start + chunk]
        later = time[None, :] > time[i][:, None]
        higher = risk[i][:, None] > risk[None, :]
        equal = risk[i][:, None] == risk[None, :]
        pairs += later.sum()
        concordant += (later & higher).sum()
        ties += (later & equal).sum()
    return float((concordant + 0.5 * ties) / pairs) if pairs else float("nan")


@dataclass(frozen=True)
class SurvivalSplit:
    """Snapshot rows split for the survival model, censored so that no outcome of a later
    part reaches an earlier one."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    test_start: pd.Timestamp
    horizon_days: int  # the longest horizon every test row is observed for
    notes: list[str]


def survival_split(frame: pd.DataFrame, horizons: list[int] | tuple[int, ...],
                   test_days: int = 84, valid_share: float = 0.2, seed: int = 0
                   ) -> SurvivalSplit:
    """Test: the snapshots of the last ``test_days`` whose rows are observed for the longest
    horizon the history allows (the longest of ``horizons`` when it fits, said in the notes
    when it does not). Every earlier snapshot is censored at the test start and split by
    account: ``valid_share`` of the accounts tune and calibrate, the rest train."""
    dates = pd.to_datetime(frame["snapshot_date"])
    by_date = frame.groupby(dates)[OBSERVED_DAYS].min()
    notes: list[str] = []
    chosen = None
    for horizon in sorted(horizons, reverse=True):
        full = by_date[by_date >= horizon].index
        # the test rows are observed for the horizon, and some earlier snapshot was observed
        # for it before the test starts, so that training sees the whole last interval
        if len(full) and (dates <= full.max() - pd.Timedelta(days=test_days + horizon)).any():
            chosen = horizon
            break
    if chosen is None:
        raise ParameterError("survival test period", "snapshots observed for at least "
                             f"{min(horizons)} days with earlier snapshots to train on",
                             f"{by_date.index.min().date()} .. {by_date.index.max().date()}")
    if chosen < max(horizons):
        notes.append(f"The history is too short to test P(churn within {max(horizons)} days): "
                     f"the test period is observed for {chosen} days at most; longer horizons "
                     "are extrapolated from the hazards and not validated.")
    last = by_date[by_date >= chosen].index.max()
    test_start = last - pd.Timedelta(days=test_days - 1)
    test = frame[(dates >= test_start) & (dates <= last)]
    earlier = censor_at(frame[dates < test_start], test_start)
    accounts = pd.unique(earlier["account_id"].astype(str))
    rng = np.random.default_rng(seed)
    held = set(accounts[rng.permutation(len(accounts))[:int(len(accounts) * valid_share)]])
    in_valid = earlier["account_id"].astype(str).isin(held).to_numpy()
    return SurvivalSplit(earlier[~in_valid], earlier[in_valid], test, test_start, chosen,
                         notes)


class NoCalibration:
    """The survival model calibrates its own baselines: the artifact's map is the identity."""

    def transform(self, p: np.ndarray) -> np.ndarray:
        """``p`` unchanged."""
        return np.asarray(p, dtype=float)
