"""Configuration of snapshots, labels and the feature set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

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
    within ``grace_days``. ``inactivity``: no qualifying event within the horizon. Unset: contract
    when a subscriptions table is given, inactivity without one (the CLI says which)."""

    definition: Literal["contract", "inactivity"] | None = None
    grace_days: Annotated[int, Field(ge=0, le=365)] = 30
    inactivity_event_types: list[str] = Field(
        default_factory=list, description="Events that count as activity; empty = all."
    )


DimensionName = Literal["usage", "engagement", "relationship", "billing", "support",
                        "sentiment", "commercial"]
DirectionName = Literal["higher_is_healthier", "lower_is_healthier", "learned"]


class FeatureSelection(Section):
    """Which registered features to build: by dimension and/or name, minus ``exclude``.
    Empty ``dimensions`` and ``names`` select everything."""

    dimensions: list[DimensionName] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class MetricDefinition(Section):
    """How one metric of the ``metrics`` table is read: its dimension, which way is healthy
    (``neutral``: unknown, no monotone constraint), and the words used in explanations."""

    dimension: DimensionName = "usage"
    direction: Literal["higher_is_healthier", "lower_is_healthier", "learned",
                       "higher_is_riskier", "neutral"] = Field(
        default="learned",
        description="learned: from the training rows (no monotone constraint); "
        "higher_is_riskier and neutral are the former names of lower_is_healthier and learned.")
    label: str | None = Field(
        default=None, min_length=1, max_length=80,
        description="What the metric is called in sentences; default: its name, spaced.",
    )
    unit: str = Field(default="value", min_length=1, max_length=40)
    explain: str | None = Field(
        default=None,
        description="Sentence for the latest value, with {value} (e.g. '{value:,.0f} seats in "
        "use'); the sentences of the trend features are built from the label.",
    )

    @field_validator("explain")
    @classmethod
    def _formats_a_value(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "{value" not in value:
            raise ValueError("must contain {value}")
        try:
            value.format(value=1.5)
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"does not format a number: {exc}") from None
        return value


# What the synthetic world's fields mean (synth/world.py METRICS): the demo's definitions.
SYNTHETIC: dict[str, dict[str, str]] = {
    "seats_used": {"direction": "higher_is_healthier", "unit": "seats",
                   "explain": "{value:,.0f} seats in use"},
    "api_calls": {"direction": "higher_is_healthier", "unit": "calls", "label": "API calls"},
    "open_opportunities": {"dimension": "commercial", "direction": "higher_is_healthier",
                           "unit": "opportunities", "label": "Open expansion opportunities"},
    "crm_health_field": {"dimension": "relationship", "direction": "higher_is_healthier",
                         "unit": "score 1-10", "label": "CSM health score"},
}


class MetricFeatures(Section):
    """Trend features from the optional ``metrics`` table (one set per metric, see
    docs/features.md). Metrics not listed in ``definitions`` get the defaults."""

    stale_after_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        default=45,
        description="A measurement older than this (in days, as of the date it is looked up "
        "for) no longer counts as the current value; the stale flag is then 1.",
    )
    max_metrics: Annotated[int, Field(ge=1, le=500)] = Field(
        default=50,
        description="At most this many metrics get features: the defined ones first, then the "
        "most often measured.",
    )
    only_defined: bool = Field(
        default=False, description="Build features only for the metrics listed in definitions."
    )
    definitions: dict[str, MetricDefinition] = Field(
        default_factory=lambda: {name: MetricDefinition(**d) for name, d in SYNTHETIC.items()},
        description="Metric name -> its definition. Default: the synthetic world's fields "
        "(seats_used and api_calls: usage, higher is healthier; open_opportunities: commercial; "
        "crm_health_field: relationship). Definitions you give replace these; a name your data "
        "lacks is then reported with a suggestion.",
    )


class SparkSettings(Section):
    """The Spark session a ``features.engine: spark`` build uses (``pip install
    healthscore[spark]``; under spark-submit or on Databricks the running session is reused
    and ``master`` is ignored)."""

    master: str = Field(
        default="local[*]",
        description="Spark master URL for a session started here, e.g. local[2], "
        "spark://host:7077, yarn.")
    app_name: str = Field(default="healthscore", min_length=1,
                          description="The Spark application name.")
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark settings (spark.executor.memory, spark.sql.shuffle.partitions, "
        "...), applied to the session; healthscore sets spark.sql.ansi.enabled=false (NULL, "
        "as in DuckDB, for a failed cast) and spark.sql.session.timeZone=UTC unless given.")
    staging_dir: Path | None = Field(
        default=None,
        description="Where the validated tables are staged as Parquet for Spark to read (a "
        "directory every worker sees: local disk for a local master, a shared mount on a "
        "cluster); default: a temporary directory, removed after the build.")


class FeatureConfig(Section):
    """Snapshots, labels, feature selection and caching."""

    snapshots: SnapshotSchedule = Field(default_factory=SnapshotSchedule)
    horizon_days: Annotated[int, Field(ge=1, le=730)] = 90
    churn: ChurnDefinition = Field(default_factory=ChurnDefinition)
    expansion_pct: Annotated[float, Field(gt=0, le=10)] = 0.10
    select: FeatureSelection = Field(default_factory=FeatureSelection)
    metrics: MetricFeatures = Field(default_factory=MetricFeatures)
    leakage_auc_threshold: Annotated[float, Field(gt=0.5, le=1)] = 0.95
    directions: dict[str, DirectionName] = Field(
        default_factory=dict,
        description="Declare which way is healthy, per feature (`days_past_due`), per expanded "
        "column (`events_30d_by_type__unfriend`), per template (`events_30d_by_type`) or per "
        "event type (`unfriend`: every per-type column of it): higher_is_healthier, "
        "lower_is_healthier or learned. Declared directions become monotone constraints unless "
        "the training rows contradict them; per-event-type columns and bring-your-own columns "
        "are learned unless declared here. Unknown names fail with a suggestion.")
    event_types: list[str] | None = Field(
        default=None,
        description="The event types that get per-type columns. Default: the most frequent "
        "ones among events dated before the test period, so the column set never depends on "
        "later data; a type that first appears later is reported, not added.")
    cache_dir: Path | None = Field(
        default=None, description="Where feature matrices are cached; default <workdir>/cache."
    )
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Where the spine, labels and features are computed: duckdb (in process) "
        "or spark (the same declarations rendered to Spark SQL; the `spark` section says "
        "which session; see docs/scale-out.md).")
    spark: SparkSettings = Field(default_factory=SparkSettings)
    matrix_layout: Literal["file", "partitioned"] | None = Field(
        default=None,
        description="How build-features writes the matrix: `file` (one Parquet file, "
        "default `<workdir>/features.parquet`) or `partitioned` (a folder with one "
        "`snapshot_date=YYYY-MM-DD/` sub-folder per snapshot, default `<workdir>/features/`, "
        "read as one table by Spark, DuckDB and `train --features`). Default: `partitioned` "
        "with `engine: spark`, else `file`.")

    def partitioned_matrix(self) -> bool:
        """Whether build-features writes the matrix partitioned by snapshot date."""
        return (self.matrix_layout or ("partitioned" if self.engine == "spark" else "file")
                ) == "partitioned"
