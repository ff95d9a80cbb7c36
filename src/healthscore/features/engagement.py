"""Engagement features from customer-success touchpoints (the year before the snapshot)."""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature

ENGAGEMENT = Dimension.ENGAGEMENT


@feature(family="touchpoints", dimension=ENGAGEMENT, direction=Direction.HIGHER_IS_HEALTHIER,
         unit="touchpoints", fill=0, explain="{value:.0f} CSM touchpoints in the last 90 days")
def touchpoints_90d() -> str:
    """Touchpoints (meetings, QBRs, trainings, ...) in the 90 days before the snapshot."""
    return "count(*) FILTER (WHERE t.occurred_at >= s.snapshot_date - 90)"


@feature(family="touchpoints", dimension=ENGAGEMENT, direction=Direction.HIGHER_IS_RISKIER,
         unit="days", fill=366, explain="{value:.0f} days since the last QBR")
def days_since_last_qbr() -> str:
    """Days since the last QBR; 366 means none in the last year."""
    return "min(s.snapshot_date - t.occurred_at) FILTER (WHERE t.kind = 'qbr')"


@feature(family="touchpoints", dimension=ENGAGEMENT, direction=Direction.HIGHER_IS_RISKIER,
         unit="days", fill=366, explain="{value:.0f} days since the last CSM touchpoint")
def days_since_last_touchpoint() -> str:
    """Days since the last touchpoint of any kind; 366 means none in the last year."""
    return "min(s.snapshot_date - t.occurred_at)"
