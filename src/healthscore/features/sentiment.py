"""Sentiment features from NPS survey responses (all history before the snapshot).

No response yet is NULL ("unknown"), never NPS 0.
"""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature
from healthscore.features.sql import Renderer

SENTIMENT = Dimension.SENTIMENT


@feature(family="surveys", dimension=SENTIMENT, direction=Direction.HIGHER_IS_HEALTHIER,
         unit="score 0-10", explain="Latest NPS response {value:.0f} / 10")
def latest_nps(sql: Renderer) -> str:
    """The most recent NPS response (0-10) before the snapshot; unknown if none."""
    return sql.nth_latest("t.nps", "t.responded_at", 1)


@feature(family="surveys", dimension=SENTIMENT, direction=Direction.HIGHER_IS_HEALTHIER,
         unit="points", explain="NPS changed by {value:+.0f} points since the previous response")
def nps_change(sql: Renderer) -> str:
    """Latest NPS response minus the one before it; unknown with fewer than two."""
    return (f"{sql.nth_latest('t.nps', 't.responded_at', 1)} - "
            f"{sql.nth_latest('t.nps', 't.responded_at', 2)}")


@feature(family="surveys", dimension=SENTIMENT, direction=Direction.HIGHER_IS_RISKIER,
         unit="days", explain="{value:.0f} days since the last NPS response")
def days_since_last_survey() -> str:
    """Days since the most recent NPS response; unknown if none."""
    return "min(s.snapshot_date - t.responded_at)"
