"""Sentiment features from NPS survey responses (all history before the snapshot).

No response yet is NULL ("unknown"), never NPS 0.
"""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature

SENTIMENT = Dimension.SENTIMENT
BY_RECENCY = "ORDER BY t.responded_at DESC, t.nps"


@feature(family="surveys", dimension=SENTIMENT, direction=Direction.HIGHER_IS_HEALTHIER,
         unit="score 0-10", explain="Latest NPS response {value:.0f} / 10")
def latest_nps() -> str:
    """The most recent NPS response (0-10) before the snapshot; unknown if none."""
    return f"(list(t.nps {BY_RECENCY}))[1]"


@feature(family="surveys", dimension=SENTIMENT, direction=Direction.HIGHER_IS_HEALTHIER,
         unit="points", explain="NPS changed by {value:+.0f} points since the previous response")
def nps_change() -> str:
    """Latest NPS response minus the one before it; unknown with fewer than two."""
    return f"(list(t.nps {BY_RECENCY}))[1] - (list(t.nps {BY_RECENCY}))[2]"


@feature(family="surveys", dimension=SENTIMENT, direction=Direction.HIGHER_IS_RISKIER,
         unit="days", explain="{value:.0f} days since the last NPS response")
def days_since_last_survey() -> str:
    """Days since the most recent NPS response; unknown if none."""
    return "min(s.snapshot_date - t.responded_at)"
