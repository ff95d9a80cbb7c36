"""World set-up: segments, their calibrated churn, and the accounts, contacts and state at
the start."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthscore.data.schema import ROLES
from healthscore.data.settings import BUSINESS_SEGMENTS, SynthConfig
from healthscore.synth.calibration import _calibration_paths, _churn_per_year, _Health, _shock_load
from healthscore.synth.helpers import _month_day, _month_of, _positions
from healthscore.synth.world import (
    _ACCOUNT_SD,
    _BASELINE_SHARE,
    _BURN_IN_MONTHS,
    _CALIBRATION_SEED,
    _CALIBRATION_STEPS,
    _NAME_WORDS,
    _NEVER,
    _NO_DATE,
    _NOTICE_MONTHS,
    _PURCHASES_PER_MONTH,
    _QUIET_USAGE,
    _SPONSOR_SHARE,
    _TERM_24_SHARE,
    _TIERS,
    DEPARTMENTS,
    INDUSTRIES,
    SHOCK_KINDS,
)


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

