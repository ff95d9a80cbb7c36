"""Support features from tickets.

``closed_at`` is masked unless before the snapshot; ``escalated``, ``reopened`` and ``csat``
are known once the ticket closes, so they count only tickets closed before the snapshot.
"""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature

R = Direction.HIGHER_IS_RISKIER
H = Direction.HIGHER_IS_HEALTHIER
SUPPORT = Dimension.SUPPORT
HIGH = "t.severity IN ('P1', 'P2')"


def _opened_in_last(days: int) -> str:
    return f"t.opened_at >= s.snapshot_date - {days}"


def _closed_in_last(days: int) -> str:
    return f"t.closed_at >= s.snapshot_date - {days}"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} support tickets in the last 30 days")
def tickets_30d() -> str:
    """Tickets opened in the 30 days before the snapshot."""
    return f"count(*) FILTER (WHERE {_opened_in_last(30)})"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} support tickets in the last 90 days")
def tickets_90d() -> str:
    """Tickets opened in the 90 days before the snapshot."""
    return f"count(*) FILTER (WHERE {_opened_in_last(90)})"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} P1/P2 tickets in the last 30 days")
def high_severity_tickets_30d() -> str:
    """P1 or P2 tickets opened in the 30 days before the snapshot."""
    return f"count(*) FILTER (WHERE {HIGH} AND {_opened_in_last(30)})"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} P1/P2 tickets in the last 90 days")
def high_severity_tickets_90d() -> str:
    """P1 or P2 tickets opened in the 90 days before the snapshot."""
    return f"count(*) FILTER (WHERE {HIGH} AND {_opened_in_last(90)})"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} P1 (critical) tickets in the last 30 days")
def p1_tickets_30d() -> str:
    """P1 tickets opened in the 30 days before the snapshot (outages, data loss)."""
    return f"count(*) FILTER (WHERE t.severity = 'P1' AND {_opened_in_last(30)})"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} open P1 tickets")
def open_p1_tickets() -> str:
    """P1 tickets opened in the year before the snapshot and not closed before it."""
    return "count(*) FILTER (WHERE t.severity = 'P1' AND t.closed_at IS NULL)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} open P1/P2 tickets")
def open_high_severity_tickets() -> str:
    """P1 or P2 tickets opened in the year before the snapshot and not closed before it."""
    return f"count(*) FILTER (WHERE {HIGH} AND t.closed_at IS NULL)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="days",
         explain="Median ticket resolution {value:.1f} days over the last 180 days")
def median_resolution_days_180d() -> str:
    """Median days from opening to closing of tickets closed in the last 180 days."""
    return f"median(t.closed_at - t.opened_at) FILTER (WHERE {_closed_in_last(180)})"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} reopened tickets in the last 90 days")
def reopened_tickets_90d() -> str:
    """Tickets closed in the last 90 days that had been reopened."""
    return f"count(*) FILTER (WHERE t.reopened AND {_closed_in_last(90)})"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} escalated tickets in the last 90 days")
def escalations_90d() -> str:
    """Tickets closed in the last 90 days that had been escalated."""
    return f"count(*) FILTER (WHERE t.escalated AND {_closed_in_last(90)})"


@feature(family="tickets", dimension=SUPPORT, direction=H, unit="score 1-5",
         explain="Support CSAT {value:.1f} / 5 over the last 180 days")
def mean_csat_180d() -> str:
    """Mean CSAT (1-5) of tickets closed in the last 180 days; unknown without ratings."""
    return f"avg(t.csat) FILTER (WHERE {_closed_in_last(180)})"
