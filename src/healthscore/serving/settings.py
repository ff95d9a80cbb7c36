"""Configuration of scoring: model, bands and their overrides, hard stops, manual overrides,
playbooks, the score history store and outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from healthscore.model.bands import BandConfig, check_tiling
from healthscore.model.explain import DEFAULT_PLAYBOOK_MIN_POINTS, DEFAULT_PLAYBOOKS
from healthscore.settings import Section

DimensionName = Literal[
    "usage", "engagement", "relationship", "billing", "support", "sentiment", "commercial"
]


class BandOverride(Section):
    """Different bands for matching accounts; the first matching override wins."""

    segment: str | None = None
    lifecycle_stage: Literal["onboarding", "adoption", "mature"] | None = None
    in_renewal_window: bool | None = None
    bands: list[BandConfig]

    @model_validator(mode="after")
    def _valid(self) -> BandOverride:
        if self.segment is None and self.lifecycle_stage is None and self.in_renewal_window is None:
            raise ValueError("give at least one of segment, lifecycle_stage, in_renewal_window")
        check_tiling(self.bands)
        return self


class HardStop(Section):
    """A rule applied after the model: when ``feature op value``, health is capped at ``cap``."""

    name: str
    feature: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float
    cap: Annotated[float, Field(ge=0, le=100)]


def _default_hard_stops() -> list[HardStop]:
    return [
        HardStop(name="seriously_past_due", feature="days_past_due", op=">=", value=30, cap=20),
        HardStop(name="open_p1_ticket", feature="open_p1_tickets", op=">", value=0, cap=40),
    ]


def _default_playbooks() -> dict[str, str]:
    return dict(DEFAULT_PLAYBOOKS)


def _renewal_override() -> list[BandOverride]:
    return [BandOverride(in_renewal_window=True, bands=[
        BandConfig(name="Critical", low=0, high=25),
        BandConfig(name="At risk", low=25, high=65),
        BandConfig(name="Moderate", low=65, high=75),
        BandConfig(name="Healthy", low=75, high=100),
    ])]


class AlertConfig(Section):
    """Trend and alert rules applied against the score history."""

    drop_points: Annotated[float, Field(gt=0, le=100)] = Field(
        default=15, description="Alert `health_drop` when health fell by at least this many "
        "points over `drop_days`.")
    drop_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=30, description="The span of `health_drop`.")
    risk_bands: list[str] = Field(
        default_factory=lambda: ["At risk", "Critical"],
        description="Alert `entered_<band>` when an account moves into one of these bands "
        "from a healthier one.")
    renewal_days: Annotated[int, Field(ge=1, le=730)] = Field(
        default=60, description="Alert `renewal_at_risk` when the renewal is at most this many "
        "days away and health is below `renewal_health`.")
    renewal_health: Annotated[float, Field(ge=0, le=100)] = Field(
        default=70, description="The health below which `renewal_at_risk` fires.")
    expansion_health: Annotated[float, Field(ge=0, le=100)] = Field(
        default=80, description="For a model without an expansion readiness model: alert "
        "`expansion_play` when health rises to at least this.")
    expansion_score: Annotated[float, Field(ge=0, le=100)] = Field(
        default=15, description="For a model with an expansion "
        "readiness model (`training.expansion`): alert `expansion_play` (and so the "
        "portfolio's expansion play) when an account enters the healthiest band with an "
        "`expansion_score` (100 x the probability of expanding) of at least this: once per "
        "entry, not on every run while it qualifies.")
    stable_points: Annotated[float, Field(ge=0, le=100)] = Field(
        default=5, description="Momentum is `stable` while the 30-day change stays within "
        "this many points; `improving` / `declining` beyond.")
    reasons: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="Driver changes named per alert.")


class DriftConfig(Section):
    """Population stability (PSI) of the model inputs and health: training rows vs scored rows.

    A feature whose PSI reaches ``watch`` is worth watching, one that reaches ``act`` has moved
    enough that the model may no longer fit (retrain or check the data feed)."""

    watch: Annotated[float, Field(gt=0, le=10)] = Field(
        default=0.1, description="PSI from which a feature is flagged `watch`.")
    act: Annotated[float, Field(gt=0, le=10)] = Field(
        default=0.25, description="PSI from which a feature is flagged `act` (batch scoring "
        "logs a warning).")
    top: Annotated[int, Field(ge=1, le=200)] = Field(
        default=15, description="Most drifted features shown in the PSI plot and printed.")
    histograms: Annotated[int, Field(ge=0, le=12)] = Field(
        default=4, description="Reference-vs-current histograms drawn for the top features.")

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if not self.watch < self.act:
            raise ValueError(f"watch must be below act; got watch {self.watch}, act {self.act}")
        return self


class ScoringConfig(Section):
    """How batch scoring turns a model into health scores a team acts on."""

    model: str = Field(default="models:/healthscore@champion",
                       description="MLflow model URI to score with.")
    band_overrides: list[BandOverride] = Field(
        default_factory=_renewal_override,
        description="Other bands for matching accounts (the model's own, `training.bands` "
        "frozen in at training, elsewhere). Default: in the renewal window, at risk below 65.")
    hard_stops: list[HardStop] = Field(default_factory=_default_hard_stops)
    overrides: Path | None = Field(
        default=None, description="Manual overrides table (CSV/Parquet): account_id, value or "
        "cap, reason, author, expires_at.")
    playbooks: dict[DimensionName, str] = Field(default_factory=_default_playbooks)
    top_risks: Annotated[int, Field(ge=1, le=10)] = 3
    top_strengths: Annotated[int, Field(ge=0, le=10)] = 2
    playbook_min_points: Annotated[float, Field(ge=0, le=100)] = Field(
        default=DEFAULT_PLAYBOOK_MIN_POINTS, description="An account in the healthiest band "
        "gets its dominant risk dimension's playbook only when that dimension costs at least "
        "this many health points (accounts in every other band always get it); 0 gives every "
        "account with a risk its playbook.")
    history: str | None = Field(
        default=None, description="Score history: a SQLAlchemy URL (e.g. "
        "postgresql+psycopg2://user@host/db) or a DuckDB file path; default the DuckDB file "
        "<workdir>/history.duckdb.")
    output_dir: Path | None = Field(default=None, description="Default <workdir>/scores.")
    engine: Literal["auto", "local", "spark"] = Field(
        default="auto", description="Where the rows are scored: `local` (in this process), "
        "`spark` (the same scorer per partition in `mapInPandas` on the `features.spark` "
        "session; the executors also write the scores and drivers as the Parquet directory "
        "<output_dir>/DATE.spark; docs/scale-out.md) or `auto`: spark when `features.engine` "
        "is spark.")
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)


class MonitoringConfig(Section):
    """When ``healthscore monitor`` (live accuracy from the score history and the outcomes
    that have matured since) exits non-zero (code 6) for a scheduler.

    The checks look at the newest ``recent_dates`` matured scoring dates and fail only when
    the whole 95 % interval is on the wrong side, so a small month does not raise an alarm
    by chance."""

    min_recall: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="Live recall (churners flagged at risk) below which monitor "
        "fails; null: the higher of the validation report's recall minus recall_tolerance "
        "and recall_share of it.")
    recall_tolerance: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.15, description="How far (in points) live recall may fall below the "
        "validation report's before monitor fails (used when min_recall is null).")
    recall_share: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.5, description="The share of the validation report's recall that live "
        "recall must keep when that is the higher floor (a low validation recall, where "
        "recall_tolerance would leave none; used when min_recall is null; 0 = off).")
    max_calibration_ratio: Annotated[float, Field(gt=1, le=100)] = Field(
        default=1.5, description="Observed / expected churners (expected: the sum of the "
        "predicted probabilities) may lie between 1/ratio and ratio; outside, monitor fails.")
    recent_dates: Annotated[int, Field(ge=1, le=60)] = Field(
        default=3, description="Newest matured scoring dates the checks look at (all dates "
        "are reported).")
    bootstrap: Annotated[int, Field(ge=0, le=10000)] = Field(
        default=400, description="Bootstrap resamples (of accounts) for the 95 % intervals of "
        "F1 and observed / expected churners (shares use Wilson's interval); 0 = none.")
    listed: Annotated[int, Field(ge=0, le=10000)] = Field(
        default=50, description="Misses and false alarms shown on the page (the CSV has all).")
