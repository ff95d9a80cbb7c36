"""Commercial and lifecycle features, read from the spine (already as of the snapshot)."""

from __future__ import annotations

from healthscore.features.families import SPINE_FAMILY
from healthscore.features.registry import Dimension, Direction, Kind, feature

COMMERCIAL = Dimension.COMMERCIAL
SUBSCRIPTIONS = ("subscriptions",)  # contract context: none without a subscriptions table
N = Direction.NEUTRAL


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=Direction.HIGHER_IS_HEALTHIER,
         unit="days", explain="Customer for {value:,.0f} days")
def tenure_days() -> str:
    """Days since the start of the account's current continuous subscription period; without
    subscriptions, since its first activity or creation."""
    return "s.tenure_days"


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=N, unit="days",
         explain="Renewal in {value:.0f} days", requires=SUBSCRIPTIONS)
def days_to_renewal() -> str:
    """Days to the next contract anniversary of the current term."""
    return "s.days_to_renewal"


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=N, unit="months",
         explain="{value:.0f}-month contract", requires=SUBSCRIPTIONS)
def term_months() -> str:
    """Contract length in months of the current subscription."""
    return "s.term_months"


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=N, unit="USD",
         explain="ARR ${value:,.0f}")
def arr() -> str:
    """Annual recurring revenue of the subscriptions active at the snapshot; without
    subscriptions, the amounts of the last 365 days annualised over the customer's tenure
    (at least 90 days)."""
    return "s.arr"


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=N, unit="seats",
         explain="{value:,.0f} licensed seats", requires=SUBSCRIPTIONS)
def seats() -> str:
    """Licensed seats of the subscriptions active at the snapshot."""
    return "s.seats"


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=N, unit="category",
         kind=Kind.CATEGORICAL, explain="Plan {value}", requires=SUBSCRIPTIONS)
def plan() -> str:
    """Plan of the largest active subscription."""
    return "s.plan"


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=N, unit="category",
         kind=Kind.CATEGORICAL, explain="Segment {value}")
def segment() -> str:
    """Customer segment (enterprise, mid_market, smb, ...)."""
    return "s.segment"


@feature(family=SPINE_FAMILY, dimension=COMMERCIAL, direction=N, unit="flag",
         explain="In the renewal window: {value:.0f} (1 = yes)", requires=SUBSCRIPTIONS)
def in_renewal_window() -> str:
    """1 when the next renewal falls in the last quarter of the term, at most 90 days away
    (an annual contract: 90 days; a monthly plan: its last 7 days)."""
    return "CAST(s.in_renewal_window AS INTEGER)"
