"""The simulation: the monthly loop over all accounts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from healthscore.data.settings import SynthConfig
from healthscore.progress import Progress
from healthscore.synth.helpers import _month_of, _scheduled, period_starts
from healthscore.synth.month import (
    Batch,
    _champion_changes,
    _churn_decisions,
    _Collector,
    _contact_turnover,
    _invoices,
    _loud,
    _metrics,
    _Month,
    _Rates,
    _renewals,
    _shock_decisions,
    _shown_health,
    _surveys,
    _tenure_offset,
    _tickets,
    _touchpoints,
    _update_health,
    _week_events,
)
from healthscore.synth.world import _FRONT_LOAD, _NOTICE_MONTHS, GROUND_TRUTH, SHOCK_KINDS
from healthscore.synth.world_setup import (
    _Accounts,
    _init_accounts,
    _init_state,
    _initial_contacts,
    _Segments,
    _segments,
    _State,
)

log = logging.getLogger(__name__)


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

