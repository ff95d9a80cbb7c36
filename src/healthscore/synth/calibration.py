"""Churn calibration: the latent health process and the churn it implies on simulated paths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthscore.data.settings import DifficultyKnobs, SynthConfig
from healthscore.synth.helpers import _sigmoid
from healthscore.synth.world import (
    _ACCOUNT_SD,
    _BURN_IN_MONTHS,
    _CALIBRATION_MONTHS,
    _CALIBRATION_PATHS,
    _DECLINE_K,
    _DECLINE_MAX,
    _DECLINE_MAX_ONSET,
    _DECLINE_STEP,
    _FAST_PHI,
    _FAST_SD,
    _HIDDEN_PHI,
    _HIDDEN_SHOCK_SIZE,
    _LEAVING_DEPTH,
    _MEMORY_WEIGHT,
    _NO_CHAMPION_PENALTY,
    _NOTICE_MONTHS,
    _RECOVERED_DECAY,
    _SEASON_HEALTH,
    _SHOCK_DECAY,
    _SHOCK_SIZE,
    _SLOW_PHI,
    _SLOW_SD,
)


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

