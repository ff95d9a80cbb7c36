"""Configuration of snapshots, labels and the feature set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from healthscore.settings import Section


class SnapshotSchedule(Section):
    """When snapshots are taken. Defaults: from the first full month after ``warmup_days``
    of data up to the data's end date."""

    start: dt.date | None = None
    end: dt.date | None = None
    every: Literal["month", "week"] = "month"
    warmup_days: Annotated[int, Field(ge=0, le=730)] = 90

    @model_validator(mode="after")
    def _ordered(self) -> SnapshotSchedule:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class ChurnDefinition(Section):
    """What churn means. ``contract``: the last active subscription ends and no new one starts
    within ``grace_days``. ``inactivity``: no qualifying event within the horizon."""

    definition: Literal["contract", "inactivity"] = "contract"
    grace_days: Annotated[int, Field(ge=0, le=365)] = 30
    inactivity_event_types: list[str] = Field(
        default_factory=list, description="Events that count as activity; empty = all."
    )


class FeatureSelection(Section):
    """Which registered features to build: by dimension and/or name, minus ``exclude``.
    Empty ``dimensions`` and ``names`` select everything."""

    dimensions: list[
        Literal["usage", "engagement", "relationship", "billing", "support", "sentiment",
                "commercial"]
    ] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class FeatureConfig(Section):
    """Snapshots, labels, feature selection and caching."""

    snapshots: SnapshotSchedule = Field(default_factory=SnapshotSchedule)
    horizon_days: Annotated[int, Field(ge=1, le=730)] = 90
    churn: ChurnDefinition = Field(default_factory=ChurnDefinition)
    expansion_pct: Annotated[float, Field(gt=0, le=10)] = 0.10
    select: FeatureSelection = Field(default_factory=FeatureSelection)
    leakage_auc_threshold: Annotated[float, Field(gt=0.5, le=1)] = 0.95
    cache_dir: Path | None = Field(
        default=None, description="Where feature matrices are cached; default <workdir>/cache."
    )
