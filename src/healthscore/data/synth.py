"""A synthetic B2B SaaS world whose churn mechanism is known, vectorised with numpy.

Every account carries a latent health (log-odds scale) that follows AR(1) processes around its
segment's ``base_health`` plus an account effect, with seasonality and shocks (champion left,
P1 outage, payment failure) that lower it for a few months. Low health and shocks can tip an
account into a decline: its health falls further month after month until it churns or is won
back. Health drives everything a model can see (usage, payments, tickets, surveys,
touchpoints, contacts) and churn: ``_NOTICE_MONTHS`` before a renewal the account decides on it
from its recent health (an EWMA), steeply; a leaver then serves notice with usage and
engagement collapsing, and churns at that renewal. Annual contracts churn only on an
anniversary, monthly plans in any month. A little churn (``unexplained_churn``) has no signal.
Segment churn rates are calibrated on simulated health paths to hit ``annual_churn``.

The simulation loops over months only; inside a month every step works on arrays over all
accounts. Usage events are emitted week by week (one row per account, active user and week)
one month behind the rest, because a week can reach into the next month and its churn.
Dates are handled as integer days since 1970-01-01 and converted once at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from healthscore.data.schema import (
    ACCOUNT_ID,
    INVOICE_STATUSES,
    ROLES,
    SEVERITIES,
    TABLES,
    Kind,
)
from healthscore.data.settings import BUSINESS_SEGMENTS, DifficultyKnobs, SynthConfig
from healthscore.io import atomic_path, write_csv, write_text
from healthscore.progress import Progress

log = logging.getLogger(__name__)

Format = Literal["parquet", "csv"]

GROUND_TRUTH = "ground_truth"
MANIFEST = "world.json"
GROUND_TRUTH_COLUMNS = (ACCOUNT_ID, "month", "latent_health", "champion_left", "p1_outage",
                        "payment_failure", "churned", "segment")



@dataclass(frozen=True)
class EventType:
    """One event type of a business shape and how health drives it (ground truth).

    Helpful types are what healthy accounts do: they fall as health falls. Harmful types
    (``weekly_rate`` per account-week at the reference health, x e^{-slope (h - ref)}, x
    ``leaving_boost`` while a leaver serves notice) rise as health falls.
    """

    name: str
    direction: Literal["helpful", "harmful"]
    weekly_rate: float = 0.0
    slope: float = 0.0
    leaving_boost: float = 1.0


_EVENT_CATALOGUE: dict[str, tuple[EventType, ...]] = {
    "saas": (
        EventType("login", "helpful"), EventType("dashboard_view", "helpful"),
        EventType("report_run", "helpful"), EventType("export", "helpful"),
        EventType("api_call", "helpful"),
        EventType("error_shown", "harmful", 0.5, 0.8, 1.5),
        EventType("billing_page_view", "harmful", 0.08, 1.0, 3.0),
        EventType("export_all_data", "harmful", 0.02, 1.0, 6.0),
        EventType("seat_removed", "harmful", 0.03, 1.0, 3.0),
    ),
    "monthly": (
        EventType("session", "helpful"), EventType("content_view", "helpful"),
        EventType("feature_use", "helpful"), EventType("share", "helpful"),
        EventType("error_shown", "harmful", 0.06, 0.8, 1.5),
        EventType("billing_page_view", "harmful", 0.01, 1.0, 3.0),
        EventType("downgrade_view", "harmful", 0.006, 1.0, 3.0),
        EventType("cancel_page_view", "harmful", 0.003, 1.2, 6.0),
    ),
    "transactional": (  # helpful rates: per purchase expected in the week
        EventType("purchase", "helpful", 1.0), EventType("visit", "helpful", 4.0),
        EventType("product_view", "helpful", 3.0), EventType("wishlist_add", "helpful", 0.3),
        EventType("return_request", "harmful", 0.02, 1.0, 2.0),
        EventType("support_contact", "harmful", 0.02, 1.0, 2.0),
        EventType("unsubscribe_email", "harmful", 0.005, 1.2, 5.0),
    ),
}
PURCHASE = "purchase"
_PURCHASES_PER_MONTH = {"occasional": 0.6, "regular": 1.2, "frequent": 3.0}
_BURST_SD = 1.6  # sd of the log of a week's shopping intensity around the customer's rate


def event_types(business: str = "saas") -> tuple[EventType, ...]:
    """The event types a business shape emits, helpful ones first."""
    return _EVENT_CATALOGUE[business]


def event_directions(business: str = "saas") -> dict[str, str]:
    """Ground truth written to world.json: event type -> ``helpful`` or ``harmful``."""
    return {t.name: t.direction for t in event_types(business)}


EVENT_TYPES = tuple(t.name for t in event_types("saas"))
# CRM/billing fields exported as a metrics history: (name, measurements per month)
METRICS = (("seats_used", 3.5), ("api_calls", 4.0), ("open_opportunities", 1.0),
           ("crm_health_field", 0.6))
_CSM_COVERAGE = {"enterprise": 1.0, "mid_market": 0.7, "smb": 0.3,  # who has a CRM health field
                 "consumer": 0.0}
TOUCHPOINT_KINDS = ("qbr", "meeting", "training", "check_in")
DEPARTMENTS = ("engineering", "operations", "finance", "sales", "marketing", "it", "product",
               "customer_success")
INDUSTRIES = ("software", "fintech", "healthcare", "retail", "manufacturing", "media",
              "education", "logistics")
_NAME_WORDS = (("Blue", "North", "Bright", "Iron", "Silver", "Rapid", "Green", "Summit", "Clear",
                "Atlas"),
               ("Labs", "Systems", "Works", "Analytics", "Logistics", "Health", "Retail", "Media",
                "Capital", "Cloud"))
_TIERS = {"enterprise": "enterprise", "mid_market": "business", "smb": "starter"}

_NO_DATE = np.iinfo(np.int64).min  # becomes NaT
_NEVER = np.iinfo(np.int64).max // 4  # churn day of accounts that have not churned
_MAX_SEATS = 9_999  # user_id = account_id * 10000 + k

# Health dynamics (log-odds scale). Observables are functions of the absolute health around
# _H_REF, so a segment with a lower base health also looks worse.
_H_REF = 1.2
_ACCOUNT_SD = 0.35
_SLOW_PHI, _SLOW_SD = 0.95, 0.15
_FAST_PHI, _FAST_SD = 0.5, 0.25
_SHOCK_DECAY = 0.7
SHOCK_KINDS = ("champion_left", "p1_outage", "payment_failure")
_SHOCK_SIZE = {"champion_left": 1.0, "p1_outage": 0.8, "payment_failure": 0.9}
# Months after a shock's month that the account reacts to it: a failed payment falls due the
# month after its invoice, and is felt the month after that.
_SHOCK_FELT_AFTER = {"champion_left": 1, "p1_outage": 1, "payment_failure": 2}
_NO_CHAMPION_PENALTY = 0.5
_FRONT_LOAD = {"saas": 0.0, "monthly": 1.0, "transactional": 0.6}  # young accounts' deficit
_FRONT_LOAD_MONTHS = 3.0
_QUIET_USAGE = 0.25  # usage of quiet accounts relative to others
_HIDDEN_PHI = 0.9  # monthly persistence of the unobserved drivers
_HIDDEN_SHOCK_SIZE = 1.5
_SEASON_HEALTH = np.array([-0.05, 0.05, 0.05, 0.05, 0.0, 0.0, -0.05, -0.1, 0.0, 0.05, 0.0, -0.1])
_SEASON_USAGE = np.array([0.95, 1.0, 1.0, 1.0, 1.0, 0.97, 0.9, 0.85, 1.0, 1.0, 1.0, 0.8])
# Disengagement: an account slides into a decline with a monthly hazard that grows as its health
# falls (x e^{-K (h - base)}, so shocks trigger it); while declining, its health drops a further
# _DECLINE_STEP a month down to _DECLINE_MAX, until it churns or is won back.
_DECLINE_K = 2.0
_DECLINE_STEP = 1.25
_DECLINE_MAX = 2.5
_DECLINE_MAX_ONSET = 0.5
_RECOVERED_DECAY = 0.6  # a won-back account's depth shrinks by this factor a month
# Renewal decisions weigh recent months: churn depends on an EWMA of health with this weight
# on the current month.
_MEMORY_WEIGHT = 0.2
# Churn is decided _NOTICE_MONTHS before the renewal it takes effect at (a non-renewal notice;
# monthly plans run down for as long before cancelling); meanwhile the account's health sits at
# least _LEAVING_DEPTH below usual (usage collapses, payments slip, the relationship cools).
_NOTICE_MONTHS = 3
_LEAVING_DEPTH = 3.0
_LEAVING_ENGAGEMENT = 0.2  # leavers' usage and touchpoints beyond what their health implies
_BURN_IN_MONTHS = 12  # health runs this long before the world starts (declines in progress)
_CALIBRATION_PATHS, _CALIBRATION_MONTHS, _CALIBRATION_SEED = 3000, 36, 20_240_101
_CALIBRATION_STEPS = 18
_BASELINE_SHARE = 0.5

# Per-segment behaviour, keyed by segment name.
_SPONSOR_SHARE = {"enterprise": 0.9, "mid_market": 0.8, "smb": 0.5, "consumer": 0.0}
_TICKETS_PER_MONTH = {"enterprise": 1.2, "mid_market": 0.5, "smb": 0.2, "consumer": 0.05}
_SURVEYS_PER_MONTH = {"enterprise": 0.35, "mid_market": 0.2, "smb": 0.12, "consumer": 0.04}
_TOUCHPOINT_P = {  # monthly probability per kind (qbr: per quarter month), at full engagement
    "enterprise": (0.9, 0.9, 0.15, 0.3),
    "mid_market": (0.6, 0.25, 0.08, 0.35),
    "smb": (0.03, 0.03, 0.05, 0.12),
    "consumer": (0.0, 0.0, 0.0, 0.0),
}
_SEVERITY_P = np.array([0.02, 0.15, 0.45, 0.38])
_RESOLUTION_MEDIAN_DAYS = np.array([0.7, 2.0, 4.0, 6.0])
_TERM_24_SHARE = 0.05
_HISTORY_DAYS = 3 * 365


@dataclass(frozen=True)
class World:
    """A generated world: the contract tables, the per account-month ground truth, the period."""

    tables: dict[str, pd.DataFrame]
    ground_truth: pd.DataFrame
    start_date: dt.date
    end_date: dt.date  # last day covered (inclusive)
    seed: int | None = None
    business: str = "saas"
    difficulty: str = "realistic"


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`synthesize` wrote: row counts, yearly churn per segment, period, paths."""

    row_counts: dict[str, int]
    churn_rate_by_segment: dict[str, float]
    start_date: dt.date
    end_date: dt.date
    out_dir: Path
    paths: dict[str, Path]


# --------------------------------------------------------------------------- small helpers


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _day(date: dt.date) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def _date(day: int) -> dt.date:
    return np.datetime64(int(day), "D").astype(dt.date)


def _month_of(day: int | np.ndarray) -> np.ndarray:
    """Months since 1970-01 of integer days."""
    return np.asarray(day, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(
        np.int64)


def _month_day(month: int | np.ndarray, dom: np.ndarray | int) -> np.ndarray:
    """Day number of day-of-month ``dom`` (clipped to the month's length) in ``month``."""
    month = np.asarray(month, dtype=np.int64)
    first = month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    nxt = (month + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + np.minimum(dom, nxt - first) - 1


def period_starts(start_date: dt.date, months: int) -> np.ndarray:
    """Day numbers of the ``months + 1`` period boundaries ``start_date + m months``."""
    start = _day(start_date)
    dom = int(start - _month_day(_month_of(start), 1)) + 1
    return _month_day(_month_of(start) + np.arange(months + 1), dom)


def world_end_date(config: SynthConfig) -> dt.date:
    """Last day covered by the world: ``start_date + months - 1 day``."""
    return _date(int(period_starts(config.start_date, config.months)[-1]) - 1)


def _dates(days: np.ndarray) -> np.ndarray:
    """Integer days (``_NO_DATE`` for null) as ``datetime64[ms]``."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ms]")


def _within(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniform random day in ``[lo, hi)`` per row (``lo`` when the range is empty)."""
    span = np.maximum(hi - lo, 1)
    return lo + np.floor(rng.random(len(lo)) * span).astype(np.int64)


def _positions(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated (the position of a row within its group)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def _scheduled(anchor_month: np.ndarray, anchor_dom: np.ndarray, every: np.ndarray, k_min: int,
               p0: int, p1: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether a date ``anchor + k months`` (k >= k_min, k % every == 0) lies in [p0, p1)."""
    has = np.zeros(len(anchor_month), dtype=bool)
    day = np.zeros(len(anchor_month), dtype=np.int64)
    for month in sorted({int(_month_of(p0)), int(_month_of(p1 - 1))}):
        k = month - anchor_month
        candidate = _month_day(month, anchor_dom)
        ok = (k >= k_min) & (k % every == 0) & (candidate >= p0) & (candidate < p1) & ~has
        day = np.where(ok, candidate, day)
        has |= ok
    return has, day


# --------------------------------------------------------------------------- churn calibration


@dataclass
class _Health:
    """The latent health process of a set of accounts (log-odds scale), advanced month by month.

    ``level`` (segment base + account effect) is fixed; the AR(1) parts, the decaying shock load,
    the disengagement depth and the renewal memory move.
    """

    level: np.ndarray
    base: np.ndarray  # the segment's base health (onset hazards are relative to it)
    onset: np.ndarray  # disengagement hazard at health == base
    slow: np.ndarray
    fast: np.ndarray
    load: np.ndarray
    depth: np.ndarray
    declining: np.ndarray
    leaving: np.ndarray  # decided to churn, serving notice
    memory: np.ndarray
    silent: np.ndarray  # leavers who keep using the product as usual until the end
    hidden: np.ndarray  # the part of health nobody observes (moves the renewal decision only)
    hidden_load: np.ndarray
    hidden_sd: float = 0.0
    hidden_shock_rate: float = 0.0
    leaving_depth: float = _LEAVING_DEPTH

    @classmethod
    def start(cls, base: np.ndarray, effect: np.ndarray, onset: np.ndarray,
              rng: np.random.Generator, knobs: DifficultyKnobs | None = None,
              silent: np.ndarray | None = None) -> _Health:
        """Stationary AR parts, no shock load, nobody declining yet."""
        n = len(base)
        slow = rng.normal(0.0, _SLOW_SD / np.sqrt(1 - _SLOW_PHI**2), n)
        fast = rng.normal(0.0, _FAST_SD / np.sqrt(1 - _FAST_PHI**2), n)
        level = base + effect
        hidden_sd = float(knobs.hidden_drivers or 0.0) if knobs is not None else 0.0
        hidden = (rng.normal(0.0, hidden_sd, n) if hidden_sd > 0 else np.zeros(n))
        return cls(level=level, base=base, onset=onset, slow=slow, fast=fast, load=np.zeros(n),
                   depth=np.zeros(n), declining=np.zeros(n, dtype=bool),
                   leaving=np.zeros(n, dtype=bool), memory=level + slow + fast + hidden,
                   silent=np.zeros(n, dtype=bool) if silent is None else silent,
                   hidden=hidden, hidden_load=np.zeros(n), hidden_sd=hidden_sd,
                   hidden_shock_rate=float(knobs.hidden_shock_rate or 0.0) if knobs else 0.0,
                   leaving_depth=_LEAVING_DEPTH * (float(knobs.leaving_signal)
                                                   if knobs is not None else 1.0))

    def fresh(self, who: np.ndarray) -> None:
        """Accounts that are not customers yet start without a decline under way."""
        self.declining &= ~who
        self.depth = np.where(who, 0.0, self.depth)
        self.memory = np.where(who, self.level + self.slow + self.fast + self.hidden,
                               self.memory)

    def usual(self, calendar_month: int, no_champion: np.ndarray) -> np.ndarray:
        """Health before disengagement."""
        return (self.level + self.slow + self.fast + _SEASON_HEALTH[calendar_month] - self.load
                - _NO_CHAMPION_PENALTY * no_champion)

    def advance(self, calendar_month: int, shock_load: np.ndarray, no_champion: np.ndarray,
                recovery: float, rng: np.random.Generator,
                offset: np.ndarray | float = 0.0) -> np.ndarray:
        """One month: AR steps, shocks, disengagement onset / win-back; returns the health
        the account shows (the hidden part moves only its renewal memory)."""
        n = len(self.level)
        eps = rng.standard_normal((2, n))
        u = rng.random((2, n))
        self.slow = _SLOW_PHI * self.slow + _SLOW_SD * eps[0]
        self.fast = _FAST_PHI * self.fast + _FAST_SD * eps[1]
        self.load = _SHOCK_DECAY * self.load + shock_load
        if self.hidden_sd > 0 or self.hidden_shock_rate > 0:
            h = rng.standard_normal((2, n))
            self.hidden = (_HIDDEN_PHI * self.hidden
                           + self.hidden_sd * np.sqrt(1 - _HIDDEN_PHI**2) * h[0])
            hit = rng.random(n) < self.hidden_shock_rate
            self.hidden_load = _SHOCK_DECAY * self.hidden_load + _HIDDEN_SHOCK_SIZE * hit
        usual = self.usual(calendar_month, no_champion) - offset
        hazard = np.minimum(_DECLINE_MAX_ONSET,
                            self.onset * np.exp(-_DECLINE_K * (usual - self.base)))
        begins = ~self.declining & (u[0] < hazard)
        won_back = self.declining & (u[1] < recovery)
        self.declining = (self.declining | begins) & ~won_back
        self.depth = np.where(self.declining, np.minimum(self.depth + _DECLINE_STEP, _DECLINE_MAX),
                              _RECOVERED_DECAY * self.depth)
        loud = self.leaving & ~self.silent
        health = usual - np.where(loud, np.maximum(self.depth, self.leaving_depth), self.depth)
        felt = health + self.hidden - self.hidden_load
        self.memory = (1 - _MEMORY_WEIGHT) * self.memory + _MEMORY_WEIGHT * felt
        return health


def _shock_load(rates: dict[str, float], u: np.ndarray, has_champion: np.ndarray) -> np.ndarray:
    """Shock load of a month from uniforms ``u`` (one row per shock kind), calibration only."""
    load = np.zeros(u.shape[1])
    for i, (name, size) in enumerate(_SHOCK_SIZE.items()):
        hit = u[i] < rates.get(name, 0.0)
        if name == "champion_left":
            hit &= has_champion
        load += size * hit
    return load


def _calibration_paths(config: SynthConfig, base: float, onset: float,
                       seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """A segment's health paths under a simplified champion process: the renewal memory
    (paths x months) and the mean of e^{-K (usual health - base)} per month."""
    rng = np.random.default_rng(seed)
    n = _CALIBRATION_PATHS
    rates = config.shock_rates
    bases = np.full(n, base)
    health = _Health.start(bases, rng.normal(0.0, _ACCOUNT_SD, n), np.full(n, onset), rng,
                           config.knobs)
    has_champion = np.ones(n, dtype=bool)
    memory = np.zeros((n, _CALIBRATION_MONTHS))
    usual = np.zeros(_CALIBRATION_MONTHS)
    for m in range(_BURN_IN_MONTHS + _CALIBRATION_MONTHS):
        u = rng.random((4, n))
        load = _shock_load(rates, u[:3], has_champion)
        left = has_champion & (u[0] < rates.get("champion_left", 0.0))
        has_champion = (has_champion & ~left) | (~has_champion & (u[3] < 0.3))
        health.advance(m % 12, load, ~has_champion, config.decline_recovery, rng)
        if m >= _BURN_IN_MONTHS:
            memory[:, m - _BURN_IN_MONTHS] = health.memory
            usual[m - _BURN_IN_MONTHS] = float(health.usual(m % 12, ~has_champion).mean())
    return memory, usual


def _churn_per_year(intercept: float, slope: float, memory: np.ndarray, renews: np.ndarray,
                    unexplained: float) -> float:
    """Churn events per customer-year over memory paths renewing where ``renews`` holds, each
    path leaving at its first churn."""
    p = 1 - (1 - _sigmoid(intercept - slope * memory)) * (1 - unexplained)
    q = np.where(renews, p, 0.0)
    alive = np.cumprod(1 - q, axis=1)
    before = np.hstack([np.ones((len(q), 1)), alive[:, :-1]])
    events = float((before * q).sum())
    return 12 * events / (float(before.sum()) + _NOTICE_MONTHS * events)  # + notice served


# --------------------------------------------------------------------------- world set-up


@dataclass(frozen=True)
class _Accounts:
    """Static per-account attributes (index i is account_id i + 1)."""

    segment: np.ndarray  # int index into _Segments.names
    created: np.ndarray
    sub_start: np.ndarray
    anchor_month: np.ndarray
    anchor_dom: np.ndarray
    term: np.ndarray
    bill_every: np.ndarray
    plan: np.ndarray  # index into plan names
    price: np.ndarray  # ARR per seat
    effect: np.ndarray
    base: np.ndarray
    intercept: np.ndarray
    slope: np.ndarray  # of the churn decision on recent health
    onset: np.ndarray  # disengagement hazard at the segment's base health
    unexplained: np.ndarray  # churn probability per renewal that no signal explains
    survey_propensity: np.ndarray
    initial_seats: np.ndarray
    industry: np.ndarray
    name_words: np.ndarray  # (2, n) indexes into _NAME_WORDS
    usage_scale: np.ndarray  # how much the account uses the product, whatever its health
    leaving_signal: float  # 1: a loud leaver's usage collapses fully; 0: not at all
    business: str
    purchase_rate: np.ndarray  # transactional: purchases a month at usual health
    silent: np.ndarray  # once leaving, keeps using the product as usual until the end
    basket: np.ndarray  # transactional: mean amount of a purchase
    shift_month: int = -1  # month index from which churn behaviour shifts (-1: never)
    shifted: np.ndarray | float = 0.0  # churn probability per renewal added by the shift


@dataclass(frozen=True)
class _Segments:
    names: tuple[str, ...]
    share: np.ndarray
    seats_lo: np.ndarray
    seats_hi: np.ndarray
    arr_per_seat: np.ndarray
    monthly_share: np.ndarray
    base: np.ndarray
    contacts_lo: np.ndarray
    contacts_hi: np.ndarray
    churn_target: np.ndarray

    def table(self, values: dict[str, float | tuple[float, ...]]) -> np.ndarray:
        """A per-segment array of a behaviour constant keyed by segment name (consumer
        segments of the monthly and transactional shapes use the ``consumer`` entry)."""
        return np.array([values.get(name, values["consumer"]) for name in self.names],
                        dtype=np.float64)

    def slope_factor(self, spread: float) -> np.ndarray:
        """Per segment: how steeply churn follows health, first segment x(1 + spread) down
        to the last x(1 - spread)."""
        k = len(self.names)
        if k == 1:
            return np.ones(1)
        return 1.0 + spread * (1.0 - 2.0 * np.arange(k) / (k - 1))


def _segments(config: SynthConfig) -> _Segments:
    profiles = config.segment_profiles()
    names = tuple(s for s in BUSINESS_SEGMENTS[config.business] if s in profiles)
    prof = [profiles[s] for s in names]
    return _Segments(
        names=names,
        share=np.array([p.share for p in prof]),
        seats_lo=np.array([p.seats[0] for p in prof]),
        seats_hi=np.array([p.seats[1] for p in prof]),
        arr_per_seat=np.array([p.arr_per_seat for p in prof]),
        monthly_share=np.array([p.monthly_plan_share for p in prof]),
        base=np.array([p.base_health for p in prof]),
        contacts_lo=np.array([p.contacts[0] for p in prof]),
        contacts_hi=np.array([p.contacts[1] for p in prof]),
        churn_target=np.array([sum(p.annual_churn) / 2 for p in prof]),
    )


def plan_names(segments: _Segments) -> tuple[str, ...]:
    """Plan names: ``<tier>_monthly`` / ``<tier>_annual`` per segment, in segment order."""
    return tuple(f"{_TIERS.get(s, s)}_{b}" for s in segments.names
                 for b in ("monthly", "annual"))


_RENEWALS_PER_YEAR = (12.0, 1.0, 0.5)  # term index: monthly, annual, biennial


@dataclass(frozen=True)
class _Calibration:
    """Per segment: decline-onset hazard at base health and churn-decision intercept."""

    onset: np.ndarray
    intercept: np.ndarray
    slope: np.ndarray


def _plan_mix_churn(config: SynthConfig, base: float, onset: float, intercept: float,
                    slope: float, share: np.ndarray, seed: np.random.SeedSequence) -> float:
    """Churn events per customer-year of a segment with plan-term shares ``share`` (monthly,
    annual, biennial), over calibration paths with decline-onset hazard ``onset``."""
    memory, _ = _calibration_paths(config, base, onset, seed)
    return _memory_churn(config, memory, intercept, slope, share, seed)


def _memory_churn(config: SynthConfig, memory: np.ndarray, intercept: float, slope: float,
                  share: np.ndarray, seed: np.random.SeedSequence) -> float:
    """Churn events per customer-year of renewal-memory paths under a plan-term mix."""
    phase = np.random.default_rng(seed).integers(0, 24, len(memory))[:, None]
    months = np.arange(memory.shape[1])[None, :]
    total = 0.0
    for t, per_year in enumerate(_RENEWALS_PER_YEAR):
        if share[t] > 0:
            every = round(12 / per_year)
            renews = (months + phase) % every == every - 1
            unexplained = 1 - (1 - config.unexplained_churn) ** (1 / per_year)
            total += share[t] * _churn_per_year(intercept, slope, memory, renews, unexplained)
    return total


def _shock_churn_per_year(config: SynthConfig, share: np.ndarray) -> float:
    """Approximate short-notice churn events per customer-year caused by shocks: monthly shock
    rate x probability of leaving x chance that a renewal falls within the reaction window."""
    per_month = sum(config.shock_rates.get(k, 0.0) * config.shock_churn.get(k, 0.0)
                    for k in SHOCK_KINDS)
    within = sum(share[t] * min(_NOTICE_MONTHS, 12 / per_year) / (12 / per_year)
                 for t, per_year in enumerate(_RENEWALS_PER_YEAR))
    return 12 * per_month * within


def _calibrate(config: SynthConfig, segs: _Segments) -> _Calibration:
    """Churn intercepts and decline-onset hazards per segment, from health paths simulated
    with fixed seeds (so they depend on the config only, not on its seed).

    The intercept puts the even-odds point of a renewal decision ``churn_depth`` below the
    segment's mean usual health; the onset hazard is then found by bisection (on its log) so
    that the segment's plan mix churns at the centre of its ``annual_churn`` range.
    """
    onset = np.zeros(len(segs.names))
    intercept = np.zeros(len(segs.names))
    slope = config.churn_health_slope * segs.slope_factor(config.knobs.segment_spread)
    for s in range(len(segs.names)):
        base, target = float(segs.base[s]), float(segs.churn_target[s])
        seed = np.random.SeedSequence([_CALIBRATION_SEED, s])
        calm, usual = _calibration_paths(config, base, 0.0, seed)
        intercept[s] = slope[s] * (float(usual.mean()) - config.churn_depth)
        monthly = float(segs.monthly_share[s])
        share = np.array([monthly, (1 - monthly) * (1 - _TERM_24_SHARE),
                          (1 - monthly) * _TERM_24_SHARE])
        # what shocks make leave at short notice comes off the target the declines must hit
        target = max(0.1 * target, target - _shock_churn_per_year(config, share))
        # a flat slope churns a lot even without declines: lower the intercept until churn
        # without declines is at most _BASELINE_SHARE of the target
        lo, hi = intercept[s] - 20.0, intercept[s]
        if _memory_churn(config, calm, hi, float(slope[s]), share, seed) > (
                _BASELINE_SHARE * target):
            for _ in range(_CALIBRATION_STEPS):
                mid = (lo + hi) / 2
                rate = _memory_churn(config, calm, mid, float(slope[s]), share, seed)
                lo, hi = (mid, hi) if rate < _BASELINE_SHARE * target else (lo, mid)
            intercept[s] = (lo + hi) / 2
        lo, hi = -12.0, 0.0
        for _ in range(_CALIBRATION_STEPS):
            mid = (lo + hi) / 2
            rate = _plan_mix_churn(config, base, float(np.exp(mid)), float(intercept[s]),
                                   float(slope[s]), share, seed)
            lo, hi = (mid, hi) if rate < target else (lo, mid)
        onset[s] = float(np.exp((lo + hi) / 2))
    return _Calibration(onset=onset, intercept=intercept, slope=slope)


def _init_accounts(config: SynthConfig, segs: _Segments, rng: np.random.Generator,
                   start: int, end: int) -> _Accounts:
    n = config.accounts
    existing = rng.random(n) < config.existing_share
    history = int(config.history_years * 365)
    created = np.where(existing, start - rng.integers(1, history + 1, n),
                       start + rng.integers(0, end - start + 1, n))
    created = np.sort(created, kind="stable")  # account ids follow creation order
    existing = created < start
    delay = np.where(existing, 0, rng.integers(0, 8, n))
    sub_start = np.minimum(created + delay, end)
    seg = rng.choice(len(segs.names), size=n, p=segs.share / segs.share.sum())
    monthly = rng.random(n) < segs.monthly_share[seg]
    biennial = ~monthly & (rng.random(n) < _TERM_24_SHARE)
    term = np.where(monthly, 1, np.where(biennial, 24, 12))
    price = segs.arr_per_seat[seg] * rng.lognormal(0.0, 0.15, n) * np.where(monthly, 1.2, 1.0)
    seats = rng.integers(segs.seats_lo[seg], segs.seats_hi[seg] + 1)
    t_index = np.where(monthly, 0, np.where(biennial, 2, 1))
    calibration = _calibrate(config, segs)
    per_year = np.array(_RENEWALS_PER_YEAR)[t_index]
    unexplained = 1 - (1 - config.unexplained_churn) ** (1 / per_year)
    anchor_month = _month_of(sub_start)
    propensity = np.where(rng.random(n) < 0.35, 0.0, rng.uniform(0.5, 1.5, n))
    knobs = config.knobs
    u = rng.random((2, n))
    usage_scale = (np.exp(knobs.usage_spread * rng.standard_normal(n)
                          - knobs.usage_spread**2 / 2)
                   * np.where(u[0] < knobs.quiet_accounts, _QUIET_USAGE, 1.0))
    silent = u[1] < knobs.silent_churners
    ppm = segs.table({**_PURCHASES_PER_MONTH, "consumer": 1.0})
    return _Accounts(
        segment=seg, created=created, sub_start=sub_start, anchor_month=anchor_month,
        anchor_dom=sub_start - _month_day(anchor_month, 1) + 1, term=term,
        bill_every=np.where(monthly, 1, 3), plan=2 * seg + (~monthly).astype(np.int64),
        price=price, effect=rng.normal(0.0, _ACCOUNT_SD, n), base=segs.base[seg],
        intercept=calibration.intercept[seg], unexplained=unexplained,
        slope=calibration.slope[seg], onset=calibration.onset[seg],
        survey_propensity=propensity, initial_seats=seats,
        industry=rng.integers(0, len(INDUSTRIES), n),
        name_words=rng.integers(0, len(_NAME_WORDS[0]), (2, n)),
        usage_scale=usage_scale, silent=silent, leaving_signal=float(knobs.leaving_signal),
        basket=segs.arr_per_seat[seg] / 12 / ppm[seg] * rng.lognormal(-0.1, 0.45, n),
        business=config.business, purchase_rate=ppm[seg] * rng.lognormal(-0.08, 0.4, n),
        shift_month=-1 if config.churn_shift_month is None else config.churn_shift_month,
        shifted=1 - (1 - config.churn_shift_rate) ** (1 / per_year),
    )


@dataclass
class _Contacts:
    """Growing contact arrays; ``end`` holds ``_NO_DATE`` while the contact is still there."""

    account: np.ndarray
    role: np.ndarray
    department: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def add(self, account: np.ndarray, role: np.ndarray, department: np.ndarray,
            start: np.ndarray) -> np.ndarray:
        """Append contacts; return their indexes."""
        first = len(self.account)
        self.account = np.concatenate([self.account, account])
        self.role = np.concatenate([self.role, role])
        self.department = np.concatenate([self.department, department])
        self.start = np.concatenate([self.start, start])
        self.end = np.concatenate([self.end, np.full(len(account), _NO_DATE)])
        return np.arange(first, len(self.account))


_CHAMPION, _SPONSOR, _ADMIN, _USER = (ROLES.index(r) for r in
                                      ("champion", "executive_sponsor", "admin", "user"))


def _initial_contacts(acc: _Accounts, segs: _Segments, rng: np.random.Generator, start: int,
                      end: int) -> tuple[_Contacts, np.ndarray]:
    """Every account's first contacts; returns them and each account's champion index."""
    n = len(acc.created)
    seg = acc.segment
    counts = rng.integers(segs.contacts_lo[seg], segs.contacts_hi[seg] + 1)
    owner = np.repeat(np.arange(n), counts)
    pos = _positions(counts)
    sponsor = rng.random(n) < segs.table(_SPONSOR_SHARE)[seg]
    role = np.where(rng.random(len(owner)) < 0.3, _ADMIN, _USER)
    role = np.where((pos == 1) & sponsor[owner], _SPONSOR, role)
    role = np.where(pos == 0, _CHAMPION, role)
    created = acc.created[owner]
    # existing accounts: contacts joined at some point of their history; new ones: soon after
    span = np.where(created < start, (start - created) // 2, 30)
    started = created + np.floor(rng.random(len(owner)) * span).astype(np.int64)
    started = np.where(pos == 0, created, np.minimum(started, end))
    department = rng.integers(0, len(DEPARTMENTS), len(owner))
    contacts = _Contacts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                         np.zeros(0, np.int64), np.zeros(0, np.int64))
    index = contacts.add(owner, role, department, started)
    champion = np.full(n, -1, dtype=np.int64)
    champion[owner[pos == 0]] = index[pos == 0]
    return contacts, champion


@dataclass
class _State:
    """Mutable per-account state carried from month to month."""

    seats: np.ndarray
    arr: np.ndarray
    row_start: np.ndarray
    health: _Health
    churned: np.ndarray
    churn_day: np.ndarray
    champion: np.ndarray
    replace_at: np.ndarray  # month index of a scheduled champion replacement, -1 if none
    leave_month: np.ndarray  # month index of the renewal a leaving account churns at, else -1
    last_shock: np.ndarray  # (shock kind, account): month index of its latest shock
    contacts: _Contacts
    seen: np.ndarray  # the health the tables show: delayed and noisy (realistic difficulty)
    seen_memory: np.ndarray  # its recent average (what a CSM's score follows)


def _init_state(acc: _Accounts, contacts: _Contacts, champion: np.ndarray, config: SynthConfig,
                first_calendar_month: int, rng: np.random.Generator) -> _State:
    """Initial state; health runs ``_BURN_IN_MONTHS`` first so that declines are under way."""
    n = len(acc.created)
    seats = acc.initial_seats.astype(np.int64)
    health = _Health.start(acc.base, acc.effect, acc.onset, rng, config.knobs, acc.silent)
    everyone = np.ones(n, dtype=bool)
    for m in range(-_BURN_IN_MONTHS, 0):
        load = _shock_load(config.shock_rates, rng.random((3, n)), everyone)
        health.advance((first_calendar_month + m) % 12, load, ~everyone,
                       config.decline_recovery, rng)
    return _State(
        seats=seats, arr=np.round(seats * acc.price, 2), row_start=acc.sub_start.copy(),
        health=health, churned=np.zeros(n, dtype=bool), churn_day=np.full(n, _NEVER),
        champion=champion, replace_at=np.full(n, -1, dtype=np.int64),
        leave_month=np.full(n, -1, dtype=np.int64), contacts=contacts,
        last_shock=np.full((len(SHOCK_KINDS), n), -99, dtype=np.int64),
        seen=health.memory.copy(), seen_memory=health.memory.copy(),
    )


# --------------------------------------------------------------------------- one month


@dataclass(frozen=True)
class _Month:
    index: int
    p0: int  # first day of the period
    p1: int  # first day of the next period
    end: int  # last day of the world
    calendar_month: int  # 0..11
    notice_p0: int  # first day of the period _NOTICE_MONTHS ahead
    notice_p1: int
    upcoming: tuple[int, ...] = ()  # first days of this and the next _NOTICE_MONTHS + 1 periods

    @property
    def days(self) -> int:
        """Length of the period in days."""
        return self.p1 - self.p0


Batch = dict[str, np.ndarray]


@dataclass
class _Collector:
    """Per-table lists of array batches, concatenated once at the end."""

    batches: dict[str, list[Batch]] = field(default_factory=dict)

    def add(self, table: str, batch: Batch) -> None:
        """Keep one batch of rows for ``table``."""
        self.batches.setdefault(table, []).append(batch)

    def concat(self, table: str) -> Batch:
        """All batches of ``table`` as one dict of arrays."""
        parts = self.batches.get(table, [])
        if not parts:
            return {}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _update_health(st: _State, month: _Month, shocks: dict[str, np.ndarray], recovery: float,
                   rng: np.random.Generator, offset: np.ndarray | float = 0.0) -> np.ndarray:
    """Advance every account's health by a month with this month's shocks; return it."""
    load = np.zeros(len(st.champion))
    for name, happened in shocks.items():
        load = load + _SHOCK_SIZE[name] * happened
    return st.health.advance(month.calendar_month, load, st.champion < 0, recovery, rng, offset)


def _shown_health(st: _State, health: np.ndarray, knobs: DifficultyKnobs,
                  rng: np.random.Generator) -> np.ndarray:
    """The health this month's tables show: last month's shown health weighted by
    ``observation_lag``, plus noise of sd ``observation_noise`` (both 0 on ``easy``)."""
    lag, noise = float(knobs.observation_lag), float(knobs.observation_noise)
    seen = (1 - lag) * health + lag * st.seen
    if noise > 0:
        seen = seen + noise * rng.standard_normal(len(health))
    st.seen = seen
    st.seen_memory = (1 - _MEMORY_WEIGHT) * st.seen_memory + _MEMORY_WEIGHT * seen
    return seen


def _tenure_offset(acc: _Accounts, month: _Month, front_load: float) -> np.ndarray | float:
    """How much lower a young account's health runs (consumer churn is front-loaded)."""
    if front_load <= 0:
        return 0.0
    age_months = np.maximum(month.p0 - acc.sub_start, 0) / 30.4
    return front_load * np.exp(-age_months / _FRONT_LOAD_MONTHS)


@dataclass(frozen=True)
class _Rates:
    """Config-derived constants the monthly steps need."""

    champion_left: float
    p1_outage: float
    payment_failure: float
    churn_slope: float
    recovery: float
    shock_churn: dict[str, float] = field(default_factory=dict)
    knobs: DifficultyKnobs = field(default_factory=DifficultyKnobs)
    front_load: float = 0.0


def _champion_changes(acc: _Accounts, st: _State, month: _Month, alive: np.ndarray,
                      lo: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Champion departures (a shock) and replacements; returns who lost their champion."""
    n = len(alive)
    u = rng.random((3, n))
    left = alive & (st.champion >= 0) & (u[0] < rate)
    gone = st.champion[left]
    st.contacts.end[gone] = _within(rng, np.maximum(lo[left], st.contacts.start[gone]),
                                    np.full(len(gone), month.p1))
    st.champion[left] = -1
    # the new champion arrives 1-4 months later, less likely when the account is unhealthy
    health_proxy = st.health.level + st.health.slow - st.health.depth
    replaced = u[1] < 0.35 + 0.55 * _sigmoid(1.5 * (health_proxy - _H_REF))
    delay = rng.integers(1, 5, n)
    st.replace_at = np.where(left, np.where(replaced, month.index + delay, -1), st.replace_at)
    arrive = alive & (st.champion < 0) & ~left & (
        (st.replace_at == month.index) | ((st.replace_at < 0) & (u[2] < 0.04)))
    owners = np.flatnonzero(arrive)
    index = st.contacts.add(owners, np.full(len(owners), _CHAMPION),
                            rng.integers(0, len(DEPARTMENTS), len(owners)),
                            _within(rng, lo[owners], np.full(len(owners), month.p1)))
    st.champion[owners] = index
    st.replace_at[owners] = -1
    return left


def _subscription_rows(acc: _Accounts, st: _State, mask: np.ndarray, end: np.ndarray) -> Batch:
    idx = np.flatnonzero(mask)
    return {"account": idx, "start": st.row_start[idx], "end": end[idx], "arr": st.arr[idx],
            "seats": st.seats[idx], "plan": acc.plan[idx], "term": acc.term[idx]}


def _churn_decisions(acc: _Accounts, st: _State, month: _Month, alive: np.ndarray, slope: float,
                     rng: np.random.Generator) -> None:
    """Accounts with a renewal ``_NOTICE_MONTHS`` ahead decide on it from their recent health
    (its EWMA): p = sigmoid(intercept - slope * memory). Leavers serve notice until then."""
    ahead, _ = _scheduled(acc.anchor_month, acc.anchor_dom, acc.term, 1, month.notice_p0,
                          month.notice_p1)
    deciding = alive & ahead & (st.leave_month < 0)
    p = _sigmoid(acc.intercept - acc.slope * st.health.memory)
    leave = deciding & (rng.random(len(alive)) < p)
    st.leave_month = np.where(leave, month.index + _NOTICE_MONTHS, st.leave_month)
    st.health.leaving |= leave


def _shock_decisions(acc: _Accounts, st: _State, month: _Month, alive: np.ndarray,
                     shock_churn: dict[str, float], rng: np.random.Generator) -> None:
    """Short-notice churn after a shock: once an account feels a shock (the month after a
    champion leaves or a P1 outage, the month after a failed payment falls due), it gives
    notice with probability ``shock_churn[kind]`` when its next renewal falls 1 to
    ``_NOTICE_MONTHS`` months later, and leaves at that renewal."""
    undecided = alive & (st.leave_month < 0)
    p_stay = np.ones(len(alive))
    for k, kind in enumerate(SHOCK_KINDS):
        felt = st.last_shock[k] == month.index - _SHOCK_FELT_AFTER[kind]
        p_stay *= np.where(felt, 1.0 - shock_churn.get(kind, 0.0), 1.0)
    leave = undecided & (rng.random(len(alive)) >= p_stay)
    renewal = np.full(len(alive), -1, dtype=np.int64)
    for k in range(len(month.upcoming) - 2, 0, -1):  # the earliest renewal wins
        has, _ = _scheduled(acc.anchor_month, acc.anchor_dom, acc.term, 1, month.upcoming[k],
                            month.upcoming[k + 1])
        renewal = np.where(has, month.index + k, renewal)
    leave &= renewal >= 0
    st.leave_month = np.where(leave, renewal, st.leave_month)
    st.health.leaving |= leave


def _renewals(acc: _Accounts, st: _State, month: _Month, due: np.ndarray, day: np.ndarray,
              health: np.ndarray, rng: np.random.Generator, out: _Collector) -> np.ndarray:
    """Churn or renew accounts whose renewal falls in this month; some change seats.

    Leavers whose notice ends churn; a few others churn for reasons no signal shows. A churn
    or a seat change ends the current subscription row on the renewal day; a change starts
    the next row the same day. Returns who churned.
    """
    u = rng.random((3, len(due)))
    p_unexplained = acc.unexplained
    if 0 <= acc.shift_month <= month.index:  # the behaviour shift: churn without a signal
        p_unexplained = 1 - (1 - acc.unexplained) * (1 - acc.shifted)
    unexplained = (st.leave_month < 0) & (u[0] < p_unexplained)
    churn = due & ((st.leave_month == month.index) | unexplained)
    st.churned |= churn
    st.churn_day = np.where(churn, day, st.churn_day)
    rel = health - acc.base
    scale = np.where(acc.term == 1, 1 / 6, 1.0)  # monthly plans renew twelve times a year
    p_up = scale * 0.35 * _sigmoid(2.0 * (rel - 0.3))
    p_down = scale * 0.3 * _sigmoid(-2.0 * (rel + 0.5))
    stay = due & ~churn
    up = stay & (u[1] < p_up)
    down = stay & ~up & (u[1] < p_up + p_down)
    # ARR moves by the drawn factor; seats follow, rounded (at least one seat more or less)
    factor = np.where(up, 1.1 + 0.4 * u[2], 0.9 - 0.3 * u[2])
    grown = np.maximum(np.rint(st.seats * factor), st.seats + 1)
    shrunk = np.minimum(np.rint(st.seats * factor), st.seats - 1)
    new_seats = np.clip(np.where(up, grown, shrunk), 1, _MAX_SEATS).astype(np.int64)
    change = (up | down) & (new_seats != st.seats)
    out.add("subscriptions", _subscription_rows(acc, st, churn | change, day))
    st.row_start = np.where(change, day, st.row_start)
    st.seats = np.where(change, new_seats, st.seats)
    st.arr = np.where(change, np.round(st.arr * factor, 2), st.arr)
    return churn


_PAID, _OPEN, _FAILED, _VOID = range(4)  # order of schema.INVOICE_STATUSES


def _payments(issued: np.ndarray, health: np.ndarray, end: int, rng: np.random.Generator,
              card: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Payment day and status of invoices: mostly on time when healthy, later when not.
    Consumers pay by card (``card``): charged on the day of issue, rarely late, whatever
    their health (a declined card is a payment failure)."""
    n = len(issued)
    due = issued + 30
    if card:
        late = rng.random(n) < 0.02
        paid = issued + np.where(late, 30 + rng.integers(1, 20, n), 0)
        status = np.where(paid <= end, _PAID, _OPEN)
        return np.where(paid > end, _NO_DATE, paid), status
    on_time = rng.random(n) < _sigmoid(2.0 + 1.5 * (health - _H_REF))
    early = rng.integers(0, 16, n)
    late = np.ceil(rng.lognormal(np.log(6.0) + 0.5 * np.maximum(0.0, _H_REF - health), 0.8, n))
    paid = np.where(on_time, due - early, due + late.astype(np.int64))
    void = rng.random(n) < 0.003
    status = np.where(void, _VOID, np.where(paid <= end, _PAID, _OPEN))
    paid = np.where(void | (paid > end), _NO_DATE, paid)
    return paid, status


def _invoices(acc: _Accounts, st: _State, month: _Month, issue: np.ndarray, day: np.ndarray,
              failed: np.ndarray, health: np.ndarray, rng: np.random.Generator) -> Batch:
    """This month's invoices. A failed payment keeps status ``failed``; dunning then collects
    it on a retry 33-45 days after issue (likelier when healthy), or in collections 75-180
    days after issue, or never (its paid date stays empty)."""
    idx = np.flatnonzero(issue)
    issued = day[idx]
    amount = np.round(st.arr[idx] * acc.bill_every[idx] / 12, 2)
    h = health[idx]
    paid, status = _payments(issued, h, month.end, rng, card=acc.business != "saas")
    fail = failed[idx]
    status = np.where(fail, np.where(issued + 30 <= month.end, _FAILED, _OPEN), status)
    u = rng.random((2, len(idx)))
    retry = u[0] < 0.85 * _sigmoid(1.0 + h - _H_REF)
    collected = ~retry & (u[1] < 0.6 * _sigmoid(1.0 + h - _H_REF))
    settled = np.where(retry, issued + 30 + rng.integers(3, 16, len(idx)),
                       np.where(collected, issued + rng.integers(75, 181, len(idx)), _NO_DATE))
    settled = np.where(settled > month.end, _NO_DATE, settled)
    paid = np.where(fail, settled, paid)
    return {"account": idx, "issued": issued, "paid": paid, "amount": amount, "status": status}


def _contact_turnover(st: _State, month: _Month, alive: np.ndarray, lo: np.ndarray,
                      health: np.ndarray, rng: np.random.Generator) -> None:
    """Non-champion contacts leave (more when unhealthy); a few new ones join."""
    c = st.contacts
    candidates = np.flatnonzero((c.end == _NO_DATE) & (c.role != _CHAMPION)
                                & alive[c.account] & (c.start < month.p0))
    h = health[c.account[candidates]]
    p_leave = 0.004 + 0.03 * _sigmoid(-1.5 * (h - _H_REF) - 1.5)
    leave = candidates[rng.random(len(candidates)) < p_leave]
    c.end[leave] = _within(rng, lo[c.account[leave]], np.full(len(leave), month.p1))
    hires = np.flatnonzero(alive & (rng.random(len(alive)) < 0.012))
    role = rng.choice(np.array([_SPONSOR, _ADMIN, _USER]), size=len(hires), p=[0.1, 0.25, 0.65])
    c.add(hires, role, rng.integers(0, len(DEPARTMENTS), len(hires)),
          _within(rng, lo[hires], np.full(len(hires), month.p1)))


def _tickets(acc: _Accounts, segs: _Segments, month: _Month, active: np.ndarray,
             outage: np.ndarray, lo: np.ndarray, hi: np.ndarray, health: np.ndarray,
             rng: np.random.Generator) -> Batch:
    """Support tickets: Poisson per account-month, more when unhealthy, plus outage P1s."""
    frac = np.where(active, (hi - lo) / month.days, 0.0)
    rate = segs.table(_TICKETS_PER_MONTH)[acc.segment] * np.exp(-0.6 * (health - _H_REF)) * frac
    counts = rng.poisson(rate)
    organic = np.repeat(np.arange(len(counts)), counts)
    owner = np.concatenate([organic, np.flatnonzero(outage)])
    severity = np.concatenate([rng.choice(4, size=len(organic), p=_SEVERITY_P),
                               np.zeros(int(outage.sum()), dtype=np.int64)])
    m = len(owner)
    h = health[owner]
    opened = _within(rng, lo[owner], np.maximum(hi[owner], lo[owner] + 1))
    days = rng.lognormal(np.log(_RESOLUTION_MEDIAN_DAYS[severity]) - 0.3 * (h - _H_REF), 0.9)
    closed = opened + np.floor(days).astype(np.int64)
    is_closed = closed <= month.end
    escalated = rng.random(m) < np.where(severity == 0, 0.45, _sigmoid(-2.6 - 0.9 * (h - _H_REF)))
    reopened = is_closed & (rng.random(m) < _sigmoid(-2.8 - 0.7 * (h - _H_REF)))
    score = (3.9 + 0.8 * (h - _H_REF) - 0.6 * escalated - 0.4 * reopened
             + rng.normal(0.0, 0.8, m))
    rated = is_closed & (rng.random(m) >= 0.4)
    return {"account": owner, "opened": opened, "closed": np.where(is_closed, closed, _NO_DATE),
            "severity": severity, "escalated": escalated, "reopened": reopened,
            "csat": np.where(rated, np.clip(np.rint(score), 1, 5), np.nan)}


def _surveys(acc: _Accounts, segs: _Segments, month: _Month, active: np.ndarray,
             lo: np.ndarray, hi: np.ndarray, health: np.ndarray,
             rng: np.random.Generator) -> Batch:
    """NPS responses: a few a year from accounts that answer surveys at all."""
    frac = np.where(active, (hi - lo) / month.days, 0.0)
    lam = (acc.survey_propensity * segs.table(_SURVEYS_PER_MONTH)[acc.segment] * frac
           * (0.6 + 0.4 * _sigmoid(health - _H_REF)))
    owner = np.repeat(np.arange(len(lam)), rng.poisson(lam))
    score = 7.3 + 1.7 * (health[owner] - _H_REF) + rng.normal(0.0, 1.6, len(owner))
    return {"account": owner, "responded": _within(rng, lo[owner], hi[owner]),
            "nps": np.clip(np.rint(score), 0, 10).astype(np.int64)}


def _touchpoints(acc: _Accounts, segs: _Segments, month: _Month, active: np.ndarray,
                 lo: np.ndarray, hi: np.ndarray, health: np.ndarray, leaving: np.ndarray,
                 rng: np.random.Generator) -> Batch:
    """Customer-success touchpoints: fewer when the account is unhealthy or leaving."""
    frac = np.where(active, (hi - lo) / month.days, 0.0)
    base = np.array([_TOUCHPOINT_P.get(s, _TOUCHPOINT_P["consumer"])
                     for s in segs.names])[acc.segment]
    engagement = (_sigmoid(1.0 + 1.5 * (health - _H_REF)) * frac
                  * np.where(leaving, _leaving_engagement(acc), 1.0))
    quarter = (_month_of(month.p0) - acc.anchor_month) % 3 == 0
    p = base * engagement[:, None]
    p[:, TOUCHPOINT_KINDS.index("qbr")] *= quarter
    owner, kind = np.nonzero(rng.random(p.shape) < p)
    return {"account": owner, "occurred": _within(rng, lo[owner], hi[owner]), "kind": kind}


def _metrics(acc: _Accounts, segs: _Segments, st: _State, month: _Month, alive: np.ndarray,
             health: np.ndarray, rng: np.random.Generator) -> Batch:
    """CRM and billing fields measured at irregular times (Poisson arrivals) while an account
    is a customer, from this month's health (the CSM's field from its lagging average) with
    noise: seats in use, weekly API calls, open expansion opportunities and a 1-10 health
    score that only some accounts' CSMs keep."""
    lo = np.maximum(month.p0, acc.sub_start)
    hi = np.minimum(np.minimum(month.p1, st.churn_day), month.end + 1)
    frac = np.where(alive & (hi > lo), (hi - lo) / month.days, 0.0)
    fixed_draw = (np.arange(len(alive)) * 2654435761 % 1000) / 1000  # per account, no rng
    covered = segs.table(_CSM_COVERAGE)[acc.segment] > fixed_draw
    rates = np.array([rate for _, rate in METRICS])[:, None] * frac
    rates[-1] *= covered
    counts = rng.poisson(rates)
    code = np.repeat(np.arange(len(METRICS)), counts.sum(axis=1))
    owner = np.concatenate([np.repeat(np.arange(len(alive)), c) for c in counts])
    day = _within(rng, lo[owner], hi[owner])
    value = np.empty(len(owner))
    for k, rows in enumerate(np.split(owner, np.cumsum(counts.sum(axis=1))[:-1])):
        h, seats = health[rows] - _H_REF, st.seats[rows]
        # leavers have mostly moved on
        calm = np.where(_loud(st, acc)[rows], 1 - 0.65 * acc.leaving_signal, 1.0)
        calm = calm * acc.usage_scale[rows]
        if k == 0:  # seats in use
            active = _utilisation(health[rows], month.calendar_month) * 1.6 * calm
            drawn = rng.binomial(seats, np.clip(active, 0.0, 1.0))
        elif k == 1:  # API calls in the week before: integrations differ a lot by account
            integration = np.exp(3.0 * (rows * 40503 % 1000 / 1000 - 0.5))  # fixed per account
            noise = rng.lognormal(0.0, 0.4, len(rows))
            drawn = rng.poisson(20.0 * seats * integration * np.exp(0.3 * h) * calm * noise)
        elif k == 2:  # open expansion opportunities
            drawn = rng.poisson(0.8 * np.sqrt(seats) * _sigmoid(h - 0.5))
        else:  # the CSM's 1-10 score follows the account's recent average health
            score = 6.0 + 1.5 * (st.seen_memory[rows] - _H_REF)
            drawn = np.clip(np.rint(score + rng.normal(0.0, 1.2, len(rows))), 1, 10)
        value[code == k] = drawn
    return {"account": owner.astype(np.int32), "day": day.astype(np.int32),
            "metric": code.astype(np.int8), "value": value}


def _leaving_engagement(acc: _Accounts) -> float:
    """Usage of an account serving notice relative to what its health implies."""
    return 1.0 - acc.leaving_signal * (1.0 - _LEAVING_ENGAGEMENT)


def _utilisation(health: np.ndarray, calendar_month: int) -> np.ndarray:
    """Share of seats active in a week."""
    return _SEASON_USAGE[calendar_month] * (0.08 + 0.5 * _sigmoid(1.5 * (health - _H_REF)))


def _week_events(acc: _Accounts, week_start: int, end: int, alive: np.ndarray,
                 churn_day: np.ndarray, health: np.ndarray, leaving: np.ndarray,
                 seats: np.ndarray, calendar_month: int, rng: np.random.Generator) -> Batch:
    """A week of events: the helpful usage rows, then the harmful rows."""
    a = np.maximum(week_start, acc.sub_start)
    b = np.minimum(np.minimum(week_start + 7, churn_day), end + 1)
    idx = np.flatnonzero(alive & (b > a))
    types = event_types(acc.business)
    helpful = sum(t.direction == "helpful" for t in types)
    if acc.business == "transactional":
        used = _week_purchases(acc, a, b, idx, health, leaving, calendar_month, types, rng)
    else:
        used = _week_usage(acc, a, b, idx, health, leaving, seats, calendar_month, helpful,
                           rng)
    harm = _week_harm(a, b, idx, health, leaving, seats, types, helpful, rng)
    out = {k: np.concatenate([used[k], harm[k]]) for k in used if k in harm}
    if "amount" in used:
        out["amount"] = np.concatenate([used["amount"], np.full(len(harm["account"]), np.nan)])
    return out


def _week_harm(a: np.ndarray, b: np.ndarray, idx: np.ndarray, health: np.ndarray,
               leaving: np.ndarray, seats: np.ndarray, types: tuple[EventType, ...],
               first: int, rng: np.random.Generator) -> Batch:
    """Harmful events of a week: Poisson per account and type, rising as health falls and
    while a (loud) leaver serves notice; each by one of the account's users."""
    frac = (b[idx] - a[idx]) / 7
    h = np.clip(health[idx] - _H_REF, -2.5, 2.5)
    harmful = types[first:]
    rates = np.stack([t.weekly_rate * np.exp(-t.slope * h)
                      * np.where(leaving[idx], t.leaving_boost, 1.0) * frac for t in harmful])
    counts = rng.poisson(rates)  # (type, account)
    code = np.repeat(np.arange(first, first + len(harmful)), counts.sum(axis=1))
    owner = np.concatenate([np.repeat(idx, c) for c in counts])
    m = len(owner)
    day = a[owner] + np.floor(rng.random(m) * (b[owner] - a[owner])).astype(np.int64)
    user = 1 + np.floor(rng.random(m) * seats[owner]).astype(np.int64)
    return {"account": owner, "day": day, "type": code.astype(np.int8),
            "user": (owner + 1) * 10_000 + user, "quantity": np.ones(m)}


def _week_purchases(acc: _Accounts, a: np.ndarray, b: np.ndarray, idx: np.ndarray,
                    health: np.ndarray, leaving: np.ndarray, calendar_month: int,
                    types: tuple[EventType, ...], rng: np.random.Generator) -> Batch:
    """A shop's helpful events of a week: purchases (Poisson at the customer's own rate,
    lower when unhealthy, with an amount) and the browsing that goes with them."""
    frac = (b[idx] - a[idx]) / 7
    drive = (2.0 * _sigmoid(1.5 * (health[idx] - _H_REF)) * acc.usage_scale[idx]
             * np.where(leaving[idx], _leaving_engagement(acc), 1.0)
             * _SEASON_USAGE[calendar_month])
    burst = rng.lognormal(-_BURST_SD**2 / 2, _BURST_SD, len(idx))  # shopping comes in bursts
    lam = acc.purchase_rate[idx] * 12 / 52 * drive * frac * burst
    helpful = [t for t in types if t.direction == "helpful"]
    counts = rng.poisson(np.stack([t.weekly_rate * lam for t in helpful]))
    code = np.repeat(np.arange(len(helpful)), counts.sum(axis=1))
    owner = np.concatenate([np.repeat(idx, c) for c in counts])
    m = len(owner)
    day = a[owner] + np.floor(rng.random(m) * (b[owner] - a[owner])).astype(np.int64)
    buy = code == 0
    items = 1.0 + rng.poisson(0.8, m)
    amount = np.where(buy, np.round(acc.basket[owner] * rng.lognormal(-0.08, 0.4, m), 2),
                      np.nan)
    return {"account": owner, "day": day, "type": code.astype(np.int8),
            "user": (owner + 1) * 10_000 + 1, "quantity": np.where(buy, items, 1.0),
            "amount": amount}


def _week_usage(acc: _Accounts, a: np.ndarray, b: np.ndarray, idx: np.ndarray,
                health: np.ndarray, leaving: np.ndarray, seats: np.ndarray,
                calendar_month: int, n_types: int, rng: np.random.Generator) -> Batch:
    """One row per (account, active user) in the week; accounts serving notice have mostly
    moved on. Its type: low health, mostly the first (logins)."""
    p = np.minimum(1.0, _utilisation(health[idx], calendar_month) * (b[idx] - a[idx]) / 7
                   * np.where(leaving[idx], _leaving_engagement(acc), 1.0)
                   * acc.usage_scale[idx])
    s = seats[idx]
    keep = rng.random(int(s.sum())) < np.repeat(p, s)
    owner = np.repeat(idx, s)[keep]
    user = _positions(s)[keep] + 1
    m = len(owner)
    h = health[owner]
    day = a[owner] + np.floor(rng.random(m) * (b[owner] - a[owner])).astype(np.int64)
    gamma = 1.8 * np.exp(-0.6 * (h - _H_REF))  # low health: mostly logins
    etype = np.minimum(np.floor(n_types * rng.random(m) ** gamma), n_types - 1)
    quantity = 1.0 + rng.poisson(1.0 + 5.0 * _sigmoid(h - _H_REF))
    return {"account": owner, "day": day, "type": etype.astype(np.int8),
            "user": (owner + 1) * 10_000 + user, "quantity": quantity.astype(np.float64)}


# --------------------------------------------------------------------------- the simulation


@dataclass
class _Result:
    acc: _Accounts
    segs: _Segments
    st: _State
    out: _Collector
    bounds: np.ndarray


def _month_step(acc: _Accounts, segs: _Segments, st: _State, month: _Month, rates: _Rates,
                rng: np.random.Generator, out: _Collector) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one month for every account; returns (customer this month, health)."""
    alive = ~st.churned & (acc.sub_start < month.p1)
    lo = np.maximum(month.p0, acc.sub_start)
    renew_has, renew_day = _scheduled(acc.anchor_month, acc.anchor_dom, acc.term, 1,
                                      month.p0, month.p1)
    bill_has, bill_day = _scheduled(acc.anchor_month, acc.anchor_dom, acc.bill_every, 0,
                                    month.p0, month.p1)
    bill = alive & bill_has
    left = _champion_changes(acc, st, month, alive, lo, rates.champion_left, rng)
    u = rng.random((2, len(alive)))
    outage = alive & (u[0] < rates.p1_outage)
    # quarterly payers can only fail on invoice months: scale so the monthly rate holds
    failed = bill & (u[1] < np.minimum(1.0, rates.payment_failure * acc.bill_every))
    shocks = {"champion_left": left, "p1_outage": outage, "payment_failure": failed}
    _churn_decisions(acc, st, month, alive, rates.churn_slope, rng)
    _shock_decisions(acc, st, month, alive, rates.shock_churn, rng)
    for k, kind in enumerate(SHOCK_KINDS):
        st.last_shock[k] = np.where(shocks[kind], month.index, st.last_shock[k])
    st.health.fresh(acc.sub_start >= month.p0)
    true_health = _update_health(st, month, shocks, rates.recovery, rng,
                                 _tenure_offset(acc, month, rates.front_load))
    health = _shown_health(st, true_health, rates.knobs, rng)  # what every table shows
    churn = _renewals(acc, st, month, alive & renew_has, renew_day, health, rng, out)
    issue = bill & ((bill_day < st.churn_day) | failed)
    out.add("invoices", _invoices(acc, st, month, issue, bill_day, failed, health, rng))
    idx = np.flatnonzero(alive)
    felt = true_health + st.health.hidden - st.health.hidden_load
    out.add(GROUND_TRUTH, {"account": idx, "month": np.full(len(idx), month.p0),
                           "health": felt[idx], "champion_left": left[idx],
                           "p1_outage": outage[idx], "payment_failure": failed[idx],
                           "churned": churn[idx]})
    _contact_turnover(st, month, alive, lo, health, rng)
    hi = np.minimum(month.p1, st.churn_day)
    active = alive & (hi > lo)
    out.add("tickets", _tickets(acc, segs, month, active, outage, lo, hi, health, rng))
    out.add("surveys", _surveys(acc, segs, month, active, lo, hi, health, rng))
    out.add("touchpoints", _touchpoints(acc, segs, month, active, lo, hi, health,
                                        _loud(st, acc), rng))
    return alive, health


def _loud(st: _State, acc: _Accounts) -> np.ndarray:
    """Accounts serving notice whose behaviour shows it (not the silent churners)."""
    return st.health.leaving & ~acc.silent


def _simulate(config: SynthConfig, on_events: Callable[[int, Batch], None],
              progress: Progress | None = None) -> _Result:
    """Run the monthly simulation; hand each month's usage events to ``on_events``."""
    config = config.resolved()
    world_seed, event_seed, metric_seed = np.random.SeedSequence(config.seed).spawn(3)
    rng = np.random.default_rng(world_seed)
    event_rng = np.random.default_rng(event_seed)
    metric_rng = np.random.default_rng(metric_seed)  # the other tables do not depend on it
    bounds = period_starts(config.start_date, config.months)
    ahead = period_starts(config.start_date, config.months + _NOTICE_MONTHS + 1)
    start, end = int(bounds[0]), int(bounds[-1]) - 1
    segs = _segments(config)
    acc = _init_accounts(config, segs, rng, start, end)
    contacts, champion = _initial_contacts(acc, segs, rng, start, end)
    st = _init_state(acc, contacts, champion, config, int(_month_of(start) % 12), rng)
    rates = _Rates(champion_left=config.shock_rates.get("champion_left", 0.0),
                   p1_outage=config.shock_rates.get("p1_outage", 0.0),
                   payment_failure=config.shock_rates.get("payment_failure", 0.0),
                   churn_slope=config.churn_health_slope, recovery=config.decline_recovery,
                   shock_churn=dict(config.shock_churn), knobs=config.knobs,
                   front_load=_FRONT_LOAD[config.business])
    weeks = start + 7 * np.arange(-(-(end - start + 1) // 7))
    week_period = np.searchsorted(bounds, weeks, side="right") - 1
    out = _Collector()

    def emit(period: int, alive: np.ndarray, health: np.ndarray, leaving: np.ndarray,
             seats: np.ndarray) -> None:
        calendar_month = int(_month_of(int(bounds[period])) % 12)
        batches = [_week_events(acc, int(w), end, alive, st.churn_day, health, leaving, seats,
                                calendar_month, event_rng)
                   for w in weeks[week_period == period]]
        on_events(period, {k: np.concatenate([b[k] for b in batches]) for k in batches[0]})

    previous: tuple[np.ndarray, ...] | None = None
    for m in range(config.months):
        p0 = int(bounds[m])
        month = _Month(index=m, p0=p0, p1=int(bounds[m + 1]), end=end,
                       calendar_month=int(_month_of(p0) % 12),
                       notice_p0=int(ahead[m + _NOTICE_MONTHS]),
                       notice_p1=int(ahead[m + _NOTICE_MONTHS + 1]),
                       upcoming=tuple(int(d) for d in ahead[m:m + _NOTICE_MONTHS + 2]))
        alive, health = _month_step(acc, segs, st, month, rates, rng, out)
        out.add("metrics", _metrics(acc, segs, st, month, alive, health, metric_rng))
        if previous is not None:  # weeks of last month may reach into this month's churn
            emit(m - 1, *previous)
        previous = (alive, health, _loud(st, acc), st.seats.copy())
        log.debug("month %d/%d: %d customers", m + 1, config.months, int(alive.sum()))
        if progress is not None:
            progress("simulate", m + 1, config.months)
    assert previous is not None
    emit(config.months - 1, *previous)
    return _Result(acc=acc, segs=segs, st=st, out=out, bounds=bounds)


# --------------------------------------------------------------------------- tables


def _ids(idx: np.ndarray) -> np.ndarray:
    return idx.astype(np.int64) + 1


_OWNERS = ("Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan")
_OWNERS_PER_SEGMENT = 2  # CSMs per segment (segment s gets names 2s, 2s + 1 of _OWNERS, wrapping)


def _owners(acc: _Accounts) -> np.ndarray:
    """The customer-success manager of each account: one of its segment's CSMs, by id."""
    pick = acc.segment * _OWNERS_PER_SEGMENT + np.arange(len(acc.segment)) % _OWNERS_PER_SEGMENT
    return np.array(_OWNERS)[pick % len(_OWNERS)]


def _accounts_frame(acc: _Accounts, segs: _Segments) -> pd.DataFrame:
    n = len(acc.created)
    first = np.array(_NAME_WORDS[0])[acc.name_words[0]]
    second = np.array(_NAME_WORDS[1])[acc.name_words[1]]
    name = pd.Series(first) + " " + pd.Series(second) + " " + pd.Series(np.arange(1, n + 1)).map(
        "{:06d}".format)
    return pd.DataFrame({
        ACCOUNT_ID: _ids(np.arange(n)), "name": name.to_numpy(), "owner": _owners(acc),
        "segment": np.array(segs.names)[acc.segment],
        "industry": np.array(INDUSTRIES)[acc.industry], "created_at": _dates(acc.created),
    })


def _subscriptions_frame(res: _Result) -> pd.DataFrame:
    acc, st = res.acc, res.st
    closed = res.out.concat("subscriptions")
    still = _subscription_rows(acc, st, ~st.churned, np.full(len(st.churned), _NO_DATE))
    rows = {k: np.concatenate([closed[k], still[k]]) if closed else still[k] for k in still}
    order = np.lexsort((rows["start"], rows["account"]))
    rows = {k: v[order] for k, v in rows.items()}
    return pd.DataFrame({
        ACCOUNT_ID: _ids(rows["account"]),
        "subscription_id": np.arange(1, len(order) + 1, dtype=np.int64),
        "start_date": _dates(rows["start"]), "end_date": _dates(rows["end"]),
        "arr": rows["arr"].astype(np.float64), "seats": rows["seats"].astype(np.int64),
        "plan": np.array(plan_names(res.segs))[rows["plan"]],
        "term_months": rows["term"].astype(np.int64),
    })


def _contacts_frame(c: _Contacts) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(c.account), "contact_id": np.arange(1, len(c.account) + 1,
                                                             dtype=np.int64),
        "role": np.array(ROLES)[c.role], "department": np.array(DEPARTMENTS)[c.department],
        "started_at": _dates(c.start), "ended_at": _dates(c.end),
    })


def _invoices_frame(b: Batch) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]),
        "invoice_id": np.arange(1, len(b["account"]) + 1, dtype=np.int64),
        "issued_at": _dates(b["issued"]), "due_at": _dates(b["issued"] + 30),
        "paid_at": _dates(b["paid"]), "amount": b["amount"].astype(np.float64),
        "status": np.array(INVOICE_STATUSES)[b["status"]],
    })


def _tickets_frame(b: Batch) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]),
        "ticket_id": np.arange(1, len(b["account"]) + 1, dtype=np.int64),
        "opened_at": _dates(b["opened"]), "closed_at": _dates(b["closed"]),
        "severity": np.array(SEVERITIES)[b["severity"]],
        "escalated": b["escalated"].astype(bool), "reopened": b["reopened"].astype(bool),
        "csat": b["csat"].astype(np.float64),
    })


def _events_frame(b: Batch, names: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]), "occurred_at": _dates(b["day"]),
        "event_type": np.array(names)[b["type"]], "user_id": b["user"].astype(np.int64),
        "quantity": b["quantity"],
    })
    if "amount" in b:
        frame["amount"] = b["amount"].astype(np.float64)
    return frame


def _events_arrow(b: Batch, names: tuple[str, ...]) -> pa.Table:
    """A month of events as an Arrow table (dates as date32) without a pandas detour."""
    types = pa.DictionaryArray.from_arrays(pa.array(b["type"], pa.int8()),
                                           pa.array(names)).dictionary_decode()
    columns = {
        ACCOUNT_ID: pa.array(_ids(b["account"])),
        "occurred_at": pa.array(b["day"].astype(np.int32), pa.date32()),
        "event_type": types, "user_id": pa.array(b["user"].astype(np.int64)),
        "quantity": pa.array(b["quantity"]),
    }
    if "amount" in b:
        columns["amount"] = pa.array(b["amount"], from_pandas=True)
    return pa.table(columns)


def _ground_truth_frame(b: Batch, segs: _Segments, acc: _Accounts) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]), "month": _dates(b["month"]),
        "latent_health": b["health"].astype(np.float64),
        "champion_left": b["champion_left"].astype(bool),
        "p1_outage": b["p1_outage"].astype(bool),
        "payment_failure": b["payment_failure"].astype(bool),
        "churned": b["churned"].astype(bool),
        "segment": np.array(segs.names)[acc.segment[b["account"]]],
    })


# Contract tables each business shape writes (events always; a shop has no subscriptions).
BUSINESS_TABLES = {
    "saas": tuple(TABLES),
    "monthly": ("accounts", "subscriptions", "events", "invoices", "tickets", "surveys"),
    "transactional": ("accounts", "events", "tickets", "surveys"),
}


def _tables(res: _Result) -> dict[str, pd.DataFrame]:
    """Every table the business writes except events, in contract column order."""
    written = BUSINESS_TABLES[res.acc.business]
    out = res.out
    surveys, touch = out.concat("surveys"), out.concat("touchpoints")
    metrics = out.concat("metrics")
    frames = {
        "accounts": _accounts_frame(res.acc, res.segs),
        "subscriptions": _subscriptions_frame(res),
        "contacts": _contacts_frame(res.st.contacts),
        "invoices": _invoices_frame(out.concat("invoices")),
        "tickets": _tickets_frame(out.concat("tickets")),
        "surveys": pd.DataFrame({ACCOUNT_ID: _ids(surveys["account"]),
                                 "responded_at": _dates(surveys["responded"]),
                                 "nps": surveys["nps"].astype(np.int64)}),
        "touchpoints": pd.DataFrame({ACCOUNT_ID: _ids(touch["account"]),
                                     "occurred_at": _dates(touch["occurred"]),
                                     "kind": np.array(TOUCHPOINT_KINDS)[touch["kind"]]}),
        "metrics": pd.DataFrame({ACCOUNT_ID: _ids(metrics["account"]),
                                 "measured_at": _dates(metrics["day"]),
                                 "metric": pd.Categorical.from_codes(
                                     metrics["metric"], [n for n, _ in METRICS]),
                                 "value": metrics["value"]}),
    }
    return {name: frame[list(TABLES[name].column_names)] for name, frame in frames.items()
            if name in written}


def generate_world(config: SynthConfig) -> World:
    """Generate the whole world in memory (fine for the small worlds of tests and demos).

    The same ``config`` (seed included) gives identical tables.
    """
    config = config.resolved()
    events: list[Batch] = []
    res = _simulate(config, lambda _period, batch: events.append(batch))
    tables = _tables(res)
    names = tuple(t.name for t in event_types(config.business))
    tables["events"] = _events_frame(
        {k: np.concatenate([b[k] for b in events]) for k in events[0]}, names)
    ordered = {name: tables[name] for name in BUSINESS_TABLES[config.business]}
    truth = _ground_truth_frame(res.out.concat(GROUND_TRUTH), res.segs, res.acc)
    return World(tables=ordered, ground_truth=truth, start_date=_date(int(res.bounds[0])),
                 end_date=_date(int(res.bounds[-1]) - 1), seed=config.seed,
                 business=config.business, difficulty=config.difficulty)


def annual_churn_rates(ground_truth: pd.DataFrame) -> dict[str, float]:
    """Yearly logo churn per segment (and ``all``): churn events / customer-years exposed.

    Exposure counts every account-month in which the account was a customer.
    """
    rates: dict[str, float] = {}
    groups = ground_truth.groupby("segment", sort=True)["churned"]
    for segment, churned in groups:
        rates[str(segment)] = float(churned.sum()) / (len(churned) / 12)
    total = len(ground_truth)
    rates["all"] = float(ground_truth["churned"].sum()) / (total / 12) if total else 0.0
    return rates


# --------------------------------------------------------------------------- writing


def _date_columns(table: str) -> list[str]:
    if table == GROUND_TRUTH:
        return ["month"]
    return [c.name for c in TABLES[table].columns if c.kind in (Kind.DATE, Kind.TIMESTAMP)]


def _arrow(frame: pd.DataFrame, table: str) -> pa.Table:
    """``frame`` as Arrow with date columns as date32 and no pandas metadata."""
    data = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    for name in _date_columns(table):
        i = data.schema.get_field_index(name)
        data = data.set_column(i, name, data.column(name).cast(pa.date32()))
    return data


def _clear_alternatives(out_dir: Path, table: str, keep: Path) -> None:
    """Remove an older copy of ``table`` in another layout so loaders see only the new one."""
    for candidate in (out_dir / f"{table}.parquet", out_dir / f"{table}.csv", out_dir / table):
        if candidate == keep or not candidate.exists():
            continue
        log.info("removing stale %s", candidate)
        if candidate.is_dir():
            shutil.rmtree(candidate)
        else:
            candidate.unlink()


def _write_frame(frame: pd.DataFrame, table: str, out_dir: Path, fmt: Format) -> Path:
    target = out_dir / f"{table}.{fmt}"
    _clear_alternatives(out_dir, table, target)
    if fmt == "csv":
        return write_csv(frame, target)
    with atomic_path(target) as tmp:
        pq.write_table(_arrow(frame, table), tmp)
    return target


def _write_manifest(config_like: dict[str, object], out_dir: Path) -> Path:
    return write_text(json.dumps(config_like, indent=2, sort_keys=True) + "\n",
                      out_dir / MANIFEST)


def _manifest(seed: int | None, accounts: int, months: int, start: dt.date, end: dt.date,
              rows: dict[str, int], fmt: Format, business: str = "saas",
              difficulty: str = "realistic") -> dict[str, object]:
    """world.json: what was generated, and the ground truth of each event type's direction
    (``harmful`` ones rise as health falls; never a model input)."""
    return {"seed": seed, "accounts": accounts, "months": months,
            "start_date": start.isoformat(), "end_date": end.isoformat(),
            "format": fmt, "row_counts": rows, "business": business,
            "difficulty": difficulty, "tables": list(rows),
            "event_types": event_directions(business)}


def write_world(world: World, out_dir: Path, fmt: Format = "parquet") -> dict[str, Path]:
    """Write every contract table as ``<out_dir>/<table>.<fmt>``, the ground truth as
    ``ground_truth.parquet`` (always Parquet, kept apart from the model inputs by name) and a
    ``world.json`` manifest; return table -> path (ground truth included)."""
    out_dir = Path(out_dir)
    for absent in set(TABLES) - set(world.tables):
        _clear_alternatives(out_dir, absent, out_dir / "-")  # not part of this world
    paths = {name: _write_frame(frame, name, out_dir, fmt) for name, frame in world.tables.items()}
    paths[GROUND_TRUTH] = _write_frame(world.ground_truth, GROUND_TRUTH, out_dir, "parquet")
    rows = {name: len(frame) for name, frame in world.tables.items()}
    after = world.end_date + dt.timedelta(days=1)
    months = (after.year - world.start_date.year) * 12 + after.month - world.start_date.month
    _write_manifest(_manifest(world.seed, len(world.tables["accounts"]), months,
                              world.start_date, world.end_date, rows, fmt, world.business,
                              world.difficulty), out_dir)
    return paths


class _EventParts:
    """Writes each month's events as ``part-NNNN.<fmt>`` into a folder."""

    def __init__(self, folder: Path, fmt: Format, names: tuple[str, ...]) -> None:
        self.folder = folder
        self.fmt = fmt
        self.names = names
        self.rows = 0

    def __call__(self, period: int, batch: Batch) -> None:
        data = _events_arrow(batch, self.names)
        path = self.folder / f"part-{period:04d}.{self.fmt}"
        if self.fmt == "csv":
            pacsv.write_csv(data, path)
        else:
            pq.write_table(data, path)
        self.rows += data.num_rows


def synthesize(config: SynthConfig, out_dir: Path,
               progress: Progress | None = None) -> WorldSummary:
    """Generate the world and write it to ``out_dir``, streaming events month by month.

    Events go to ``<out_dir>/events/part-NNNN.<fmt>`` (one file per month) so memory stays
    bounded; the other tables, ``ground_truth.parquet`` and ``world.json`` as in
    :func:`write_world`. ``progress(step, done, total)`` is called as the work advances.
    """
    config = config.resolved()
    out_dir = Path(out_dir)
    fmt: Format = config.format
    events_dir = out_dir / "events"
    _clear_alternatives(out_dir, "events", events_dir)
    for absent in set(TABLES) - set(BUSINESS_TABLES[config.business]):
        _clear_alternatives(out_dir, absent, out_dir / "-")  # not part of this world
    with atomic_path(events_dir) as tmp:
        tmp.mkdir()
        parts = _EventParts(tmp, fmt, tuple(t.name for t in event_types(config.business)))
        res = _simulate(config, parts, progress)
    tables = _tables(res)
    truth = _ground_truth_frame(res.out.concat(GROUND_TRUTH), res.segs, res.acc)
    paths: dict[str, Path] = {}
    for i, (name, frame) in enumerate(tables.items()):
        paths[name] = _write_frame(frame, name, out_dir, fmt)
        if progress is not None:
            progress("write", i + 1, len(tables) + 1)
    paths["events"] = events_dir
    paths[GROUND_TRUTH] = _write_frame(truth, GROUND_TRUTH, out_dir, "parquet")
    if progress is not None:
        progress("write", len(tables) + 1, len(tables) + 1)
    written = BUSINESS_TABLES[config.business]
    rows = {name: len(tables[name]) if name in tables else parts.rows for name in written}
    start, end = _date(int(res.bounds[0])), _date(int(res.bounds[-1]) - 1)
    _write_manifest(_manifest(config.seed, config.accounts, config.months, start, end, rows,
                              fmt, config.business, config.difficulty), out_dir)
    churn = annual_churn_rates(truth)
    log.info("synthetic world %s..%s: %s rows of events, churn %s", start, end,
             f"{parts.rows:,}", {k: round(v, 3) for k, v in churn.items()})
    return WorldSummary(row_counts=rows, churn_rate_by_segment=churn, start_date=start,
                        end_date=end, out_dir=out_dir,
                        paths={name: paths[name] for name in (*written, GROUND_TRUTH)})
