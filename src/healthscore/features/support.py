"""Support features from tickets.

Family ``tickets`` sees one row per account and snapshot: its ticket totals as of the snapshot
(``families.TICKET_TOTALS``, see ``families.tickets_snapshots_sql``). Tickets count when
opened in the year before the snapshot; ``closed_at`` counts only when before the snapshot,
and ``escalated``, ``reopened`` and ``csat`` are known once the ticket closes, so they count
only tickets closed before the snapshot.
"""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature

R = Direction.HIGHER_IS_RISKIER
H = Direction.HIGHER_IS_HEALTHIER
SUPPORT = Dimension.SUPPORT


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} support tickets in the last 30 days")
def tickets_30d() -> str:
    """Tickets opened in the 30 days before the snapshot."""
    return "max(t.opened_30d)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} support tickets in the last 90 days")
def tickets_90d() -> str:
    """Tickets opened in the 90 days before the snapshot."""
    return "max(t.opened_90d)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} P1/P2 tickets in the last 30 days")
def high_severity_tickets_30d() -> str:
    """P1 or P2 tickets opened in the 30 days before the snapshot."""
    return "max(t.high_opened_30d)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} P1/P2 tickets in the last 90 days")
def high_severity_tickets_90d() -> str:
    """P1 or P2 tickets opened in the 90 days before the snapshot."""
    return "max(t.high_opened_90d)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} P1 (critical) tickets in the last 30 days")
def p1_tickets_30d() -> str:
    """P1 tickets opened in the 30 days before the snapshot (outages, data loss)."""
    return "max(t.p1_opened_30d)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} open P1 tickets")
def open_p1_tickets() -> str:
    """P1 tickets opened in the year before the snapshot and not closed before it."""
    return "max(t.p1_open)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} open P1/P2 tickets")
def open_high_severity_tickets() -> str:
    """P1 or P2 tickets opened in the year before the snapshot and not closed before it."""
    return "max(t.high_open)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="days",
         explain="Median ticket resolution {value:.1f} days over the last 180 days")
def median_resolution_days_180d() -> str:
    """Median days from opening to closing of tickets closed in the last 180 days."""
    return "max(t.resolution_days_median_180d)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} reopened tickets in the last 90 days")
def reopened_tickets_90d() -> str:
    """Tickets closed in the last 90 days that had been reopened."""
    return "max(t.reopened_closed_90d)"


@feature(family="tickets", dimension=SUPPORT, direction=R, unit="tickets", fill=0,
         explain="{value:.0f} escalated tickets in the last 90 days")
def escalations_90d() -> str:
    """Tickets closed in the last 90 days that had been escalated."""
    return "max(t.escalated_closed_90d)"


@feature(family="tickets", dimension=SUPPORT, direction=H, unit="score 1-5",
         explain="Support CSAT {value:.1f} / 5 over the last 180 days")
def mean_csat_180d() -> str:
    """Mean CSAT (1-5) of tickets closed in the last 180 days; unknown without ratings."""
    return "max(t.csat_mean_180d)"
