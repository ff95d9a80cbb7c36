"""One month of the simulation: health, shocks, churn decisions, renewals, invoices,
tickets, surveys, touchpoints, metrics and the week's usage events."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from healthscore.data.settings import DifficultyKnobs
from healthscore.synth.helpers import _month_of, _positions, _scheduled, _sigmoid, _within
from healthscore.synth.world import (
    _BURST_SD,
    _CSM_COVERAGE,
    _FRONT_LOAD_MONTHS,
    _H_REF,
    _LEAVING_ENGAGEMENT,
    _MAX_SEATS,
    _MEMORY_WEIGHT,
    _NO_DATE,
    _NOTICE_MONTHS,
    _RESOLUTION_MEDIAN_DAYS,
    _SEASON_USAGE,
    _SEVERITY_P,
    _SHOCK_FELT_AFTER,
    _SHOCK_SIZE,
    _SURVEYS_PER_MONTH,
    _TICKETS_PER_MONTH,
    _TOUCHPOINT_P,
    DEPARTMENTS,
    METRICS,
    SHOCK_KINDS,
    TOUCHPOINT_KINDS,
    EventType,
    event_types,
)
from healthscore.synth.world_setup import (
    _ADMIN,
    _CHAMPION,
    _SPONSOR,
    _USER,
    _Accounts,
    _Segments,
    _State,
)


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


def _loud(st: _State, acc: _Accounts) -> np.ndarray:
    """Accounts serving notice whose behaviour shows it (not the silent churners)."""
    return st.health.leaving & ~acc.silent


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

