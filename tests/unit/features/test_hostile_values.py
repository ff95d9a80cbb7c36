"""Event types and metric names that would break naively quoted SQL build correct features."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from tiny_world import END

from healthscore.data.dataset import dataset_from_frames
from healthscore.features.engine import build_feature_matrix
from healthscore.features.registry import slug
from healthscore.features.settings import FeatureConfig

QUOTE = "it's; DROP TABLE events; --"
UNICODE = "café ☕"
SNAP = dt.date(2024, 3, 1)


def hostile(tiny: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tiny world with two of account 1's event types renamed to hostile strings."""
    events = tiny["events"].copy()
    events["event_type"] = [QUOTE, UNICODE, QUOTE, "login"]
    return {**tiny, "events": events}


def test_per_type_columns_of_hostile_event_types(tiny):
    config = FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)})
    frame = build_feature_matrix(dataset_from_frames(hostile(tiny), END), config).frame
    row = frame[(frame.account_id == 1) & (frame.snapshot_date == SNAP)].iloc[0]
    # account 1's QUOTE events: 03-01 is the snapshot day itself (future), 01-15 is 46 days
    # before it; its UNICODE event of 02-25 (quantity 2) is within the 30 days
    assert row[f"events_30d_by_type__{slug(QUOTE)}"] == 0
    assert row[f"events_30d_by_type__{slug(UNICODE)}"] == 2
    assert row["event_types_30d"] == 1


def test_inactivity_churn_counts_only_hostile_qualifying_types(tiny):
    config = FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)}, horizon_days=30,
                           churn={"definition": "inactivity",
                                  "inactivity_event_types": [UNICODE, "x') OR ('1'='1"]})
    frame = build_feature_matrix(dataset_from_frames(hostile(tiny), END), config).frame
    at = frame[frame.account_id == 1].set_index("snapshot_date")
    # qualifying: the UNICODE event of 02-25 only (the injection-shaped name matches nothing):
    # in the population at 03-01 (02-25 is within 30 days before) and churned (no qualifying
    # event in [03-01, 03-31)); not at 02-01 (its QUOTE event of 01-15 does not qualify)
    assert at.loc[SNAP, "label_churn"]
    assert dt.date(2024, 2, 1) not in at.index
