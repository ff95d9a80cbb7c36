"""features.directions (per feature, template or event type, checked with suggestions) and the
per-event-type columns chosen from the rows before the test period."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pytest
from tiny_world import END, dates, tiny_frames

from healthscore.data.dataset import dataset_from_frames
from healthscore.errors import ConfigError
from healthscore.features.engine import (
    build_feature_matrix,
    candidate_features,
    declared_directions,
    per_type_cutoff,
    with_directions,
)
from healthscore.features.registry import Direction
from healthscore.features.settings import FeatureConfig, MetricFeatures


def test_event_type_columns_are_learned_unless_declared() -> None:
    dataset = dataset_from_frames(tiny_frames(), END)
    specs = {s.name: s for s in candidate_features(dataset, MetricFeatures())}
    assert specs["events_30d_by_type__report"].direction is Direction.LEARNED
    declared = {s.name: s for s in with_directions(
        list(specs.values()), {"report": "lower_is_healthier",
                               "events_change_30d_by_type__login": "higher_is_healthier",
                               "events_30d_by_type": "higher_is_healthier"})}
    # an event type covers all its per-type columns; a column name beats a template name
    assert declared["events_30d_by_type__report"].direction is Direction.LOWER_IS_HEALTHIER
    assert declared["events_change_30d_by_type__report"].direction is \
        Direction.LOWER_IS_HEALTHIER
    assert declared["events_30d_by_type__login"].direction is Direction.HIGHER_IS_HEALTHIER
    assert declared["events_30d_by_type__login"].direction_source == "config"
    assert declared["events_change_30d_by_type__login"].direction is \
        Direction.HIGHER_IS_HEALTHIER


def test_unknown_declared_names_fail_with_suggestions() -> None:
    names = [("events_30d_by_type__unfriend", "events_30d_by_type", "unfriend"),
             ("days_past_due", None, None)]
    with pytest.raises(ConfigError) as caught:
        declared_directions(names, {"unfrend": "lower_is_healthier",
                                    "days_past_du": "lower_is_healthier"})
    text = str(caught.value)
    assert caught.value.exit_code == 2
    assert "features.directions.unfrend" in text and "did you mean 'unfriend'" in text
    assert "features.directions.days_past_du" in text and "'days_past_due'" in text


def test_old_direction_spellings_still_read() -> None:
    assert Direction("higher_is_riskier") is Direction.LOWER_IS_HEALTHIER
    assert Direction("neutral") is Direction.LEARNED
    assert Direction.LOWER_IS_HEALTHIER.sign == -1 and Direction.LEARNED.sign == 0


def with_late_event_type() -> dict[str, pd.DataFrame]:
    """The tiny world plus an event type that first occurs in 2024-10."""
    frames = tiny_frames()
    late = pd.DataFrame({"account_id": [1, 1], "occurred_at": dates("2024-10-02", "2024-11-03"),
                         "event_type": ["unfriend", "unfriend"], "user_id": [10, 10],
                         "quantity": [1.0, 1.0]})
    frames["events"] = pd.concat([frames["events"], late], ignore_index=True)
    return frames


def test_per_type_columns_come_from_rows_before_the_test_period(caplog) -> None:
    dataset = dataset_from_frames(with_late_event_type(), END)
    cutoff = dt.date(2024, 6, 1)
    with caplog.at_level(logging.WARNING):
        matrix = build_feature_matrix(dataset, FeatureConfig(), types_before=cutoff)
    names = matrix.feature_names
    assert "events_30d_by_type__login" in names
    assert not any("unfriend" in n for n in names)  # first seen after the cut-off
    assert "unfriend" in caplog.text and "no per-type columns" in caplog.text
    everything = build_feature_matrix(dataset, FeatureConfig())
    assert "events_30d_by_type__unfriend" in everything.feature_names
    # config names the types explicitly: the column set is exactly those
    chosen = build_feature_matrix(dataset, FeatureConfig(event_types=["unfriend"]),
                                  types_before=cutoff)
    assert {n for n in chosen.feature_names if "_by_type__" in n} == {
        "events_30d_by_type__unfriend", "events_change_30d_by_type__unfriend"}


def test_the_cutoff_is_the_start_of_the_test_period() -> None:
    schedule = [dt.date(2024, m, 1) for m in range(1, 13)]
    # labels observed for snapshots up to end - (90 + 30 - 1) days: 2024-09-01 is the last
    cutoff = per_type_cutoff(schedule, dt.date(2024, 12, 31), 90, 30, 90)
    assert cutoff == dt.date(2024, 9, 1) - dt.timedelta(days=90)
    assert per_type_cutoff(schedule[:1], dt.date(2024, 1, 2), 90, 30, 90) is None
