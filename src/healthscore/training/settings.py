"""Configuration of splits, models, calibration, validation and tracking."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from healthscore.model.bands import BandConfig, check_tiling, default_bands
from healthscore.settings import Section
from healthscore.tracking import TrackingConfig

ModelName = Literal["scorecard", "logistic", "lightgbm"]
DimensionName = Literal[
    "usage", "engagement", "relationship", "billing", "support", "sentiment", "commercial"
]


class SplitConfig(Section):
    """How the labelled snapshots are split into train | validation | test.

    ``by: auto`` (default) splits by time when the labelled history holds a gapped time split
    (train | gap | validation | gap | test, the test period at the end) and otherwise by
    account (every account's rows in one part, 60/20/20), saying so in the CLI, the report
    and MLflow. ``time`` never falls back (too short a history is an error); ``account``
    always splits by account. Unset ``test_days``/``validation_days`` are sized from the
    labelled history: a quarter of what is left after the two gaps, at most 90 days and at
    least one snapshot interval. Each gap defaults to one label horizon so that no label
    window of an earlier period reaches a later period's snapshots; a smaller gap makes the
    windows overlap, and training warns with the overlap in days.
    """

    by: Literal["auto", "time", "account"] = "auto"
    test_days: Annotated[int, Field(ge=7, le=730)] | None = Field(
        default=None, description="Length of the test period; default: sized from the "
        "labelled history (at most 90 days).")
    validation_days: Annotated[int, Field(ge=7, le=730)] | None = Field(
        default=None, description="Length of the validation period; default: sized like "
        "test_days.")
    gap_days: Annotated[int, Field(ge=0, le=730)] | None = Field(
        default=None, description="Days between periods; default: the label horizon. Below "
        "it, label windows overlap (training warns with the overlap in days).")


class BacktestConfig(Section):
    """Rolling-origin backtest: refit at each origin, evaluate on the following period."""

    folds: Annotated[int, Field(ge=1, le=12)] = 4
    fold_days: Annotated[int, Field(ge=7, le=366)] = 91


class ScorecardConfig(Section):
    """The rule-based baseline: per-feature subscores clamp((v - low)/(high - low), 0, 1),
    averaged per dimension, weighted into health = 100 x sum(w_d x subscore_d)."""

    bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="Per-feature [low, high]; features not listed use training quantiles.",
    )
    quantiles: tuple[float, float] = (0.05, 0.95)
    weights: Literal["learned", "equal"] | dict[DimensionName, float] = "learned"

    @field_validator("quantiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] < value[1] <= 1:
            raise ValueError(f"must be [low, high] with 0 <= low < high <= 1; got {list(value)}")
        return value

    @field_validator("bounds")
    @classmethod
    def _bounds(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        bad = [k for k, (lo, hi) in value.items() if not lo < hi]
        if bad:
            raise ValueError(f"low must be below high for {bad}")
        return value


class LogisticConfig(Section):
    """L2 logistic regression; C is chosen on the validation period by log loss. Each numeric
    column first gets a robust transform fitted on the training rows (log1p for a skewed
    non-negative count, then clipping to the ``clip_quantiles``); the report flags a C that
    lands on an edge of ``c_grid``."""

    c_grid: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    )
    class_weight: Literal["none", "balanced"] = "none"
    transform: Literal["robust", "none"] = Field(
        default="robust",
        description="robust: log1p for non-negative columns with skewness above "
        "`skew_threshold`, then clipping to `clip_quantiles` of the training rows; none: raw "
        "values (only scaled). Raw heavy-tailed counts let a few extreme accounts set the "
        "slope.")
    signs: Literal["directed", "free"] = Field(
        default="directed",
        description="directed: each numeric feature with a direction (declared, or learned on "
        "the training rows beyond noise) gets a coefficient of that sign or 0, so its driver "
        "points never contradict its direction (collinear counts, such as a total and its "
        "event types, otherwise split their effect with arbitrary signs); free: plain L2.")
    skew_threshold: Annotated[float, Field(ge=0)] = 1.0
    clip_quantiles: tuple[float, float] = (0.001, 0.999)

    @field_validator("clip_quantiles")
    @classmethod
    def _clip_ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] < value[1] <= 1:
            raise ValueError(f"must be [low, high] with 0 <= low < high <= 1; got {list(value)}")
        return value


class SearchConfig(Section):
    """The budgeted LightGBM search on the validation period: ``trials`` settings (the first
    is the configured one, the rest drawn by the seed from a small grid over num_leaves,
    max_depth, min_child_samples, learning_rate and colsample_bytree), each fitted on at most
    ``sample_rows`` training rows with early stopping, judged by validation log loss. The
    chosen settings are then fitted on every training row."""

    trials: Annotated[int, Field(ge=0, le=200)] = Field(
        default=6, description="Settings tried; 0 or 1 = no search (the configured ones).")
    sample_rows: Annotated[int, Field(ge=1000)] = Field(
        default=30_000, description="Training rows each trial is fitted on (a fixed sample).")
    max_shap_ms_per_row: Annotated[float, Field(gt=0)] | None = Field(
        default=2.0,
        description="Settings whose estimated TreeSHAP cost exceeds this many ms per row "
        "(on 1 thread; cost ~ trees x leaves x depth^2) are not chosen, so scoring budgets "
        "hold; null = no cap. The measured ms/row of the chosen model is printed.")


class LightGBMConfig(Section):
    """Gradient-boosted trees; modest defaults, early stopping on the validation period."""

    num_leaves: Annotated[int, Field(ge=2, le=4096)] = 15
    max_depth: Annotated[int, Field(ge=-1, le=64)] = Field(
        default=4, description="Shallow trees keep TreeSHAP drivers cheap (cost ~ trees x "
        "leaves x depth^2); depth 6 at learning rate 0.05 scored the same on the 20k world and "
        "explained 4x slower (bench/score.py).")
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    n_estimators: Annotated[int, Field(ge=1, le=20000)] = 400
    min_child_samples: Annotated[int, Field(ge=1)] = 50
    subsample: Annotated[float, Field(gt=0, le=1)] = 0.8
    colsample_bytree: Annotated[float, Field(gt=0, le=1)] = 0.8
    reg_lambda: Annotated[float, Field(ge=0)] = 1.0
    early_stopping_rounds: Annotated[int, Field(ge=1)] = 30
    monotone: Literal["directed", "declared", "always", "off"] = Field(
        default="directed",
        description="directed: a monotone constraint for each declared direction (registry or "
        "features.directions) that the training rows do not contradict beyond noise, and for "
        "each learned direction beyond noise (|z| >= 2), so no driver contradicts the "
        "direction table; a contradicted declaration is warned about and left unconstrained. "
        "declared: only the declared ones (learned features free: on the realistic world "
        "three helpful event types then took health away). always: every declared direction, "
        "contradicted or not (the former default). off: none.")
    num_threads: Annotated[int, Field(ge=1, le=256)] = 2
    search: SearchConfig = Field(default_factory=SearchConfig)

    @field_validator("monotone", mode="before")
    @classmethod
    def _monotone_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # the former true/false spelling
            return "declared" if value else "off"
        return value


class PromotionConfig(Section):
    """The gate `healthscore retrain` applies before its best model replaces the champion.

    Every enabled check must pass. The comparison is on the new run's test period, both models
    scored on the same rows; with no champion yet only the absolute checks (``max_ece``) apply.
    """

    pr_auc: Literal["not_worse", "better", "off"] = Field(
        default="not_worse",
        description="Paired-bootstrap PR-AUC difference vs the champion: not_worse = its "
        "interval does not lie below 0; better = it lies above 0; off = not checked.")
    max_ece: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=0.05, description="Highest expected calibration error allowed; null = off.")
    recall_drop: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=0.02, description="Recall at `at_risk_threshold` may fall at most this far "
        "below the champion's; null = off.")


class SurvivalConfig(Section):
    """The discrete-time survival model (docs/scoring.md): one model, P(churn within h) for
    every horizon, health on a stated horizon. Contract churn only (survival labels)."""

    enabled: bool = Field(
        default=False, description="Fit the survival model beside training.models; it is "
        "compared with them at features.horizon_days on the same test rows and registered if "
        "its validation PR-AUC is the best.")
    score_model: Literal["lightgbm", "logistic"] = Field(
        default="lightgbm", description="The model of the score shared by every interval.")
    horizons: list[int] = Field(
        default_factory=lambda: [30, 90, 180, 365],
        description="Interval edges in days; the model gives P(churn within h) for each.")
    health_horizon_days: Annotated[int, Field(ge=1, le=1095)] = Field(
        default=365, description="Health = 100 (1 - P(churn within this many days)). When "
        "the history cannot teach it, the longest horizon it can is used, and said.")

    @field_validator("horizons")
    @classmethod
    def _horizons(cls, value: list[int]) -> list[int]:
        if not value or len(set(value)) != len(value) or not all(1 <= h <= 1095 for h in value):
            raise ValueError(f"list distinct horizons in [1, 1095] days; got {value}")
        return sorted(value)


class ExpansionConfig(Section):
    """The expansion readiness model (docs/scoring.md): the same machinery as the churn models
    (learned directions, search, calibration, refit) on ``label_expansion``, carried inside
    every churn model of the run; scoring adds ``expansion_score`` = 100 x its probability,
    with its own drivers, and gates the `expansion_play` alert on it."""

    enabled: bool = Field(
        default=False, description="Fit the expansion readiness model in `healthscore train` "
        "(churn label only; rows need `label_expansion`). Off by default: on the demo world "
        "it adds 18-62 % to the training time (docs/scoring.md).")
    model: Literal["lightgbm", "logistic"] = Field(
        default="lightgbm", description="The kind of the expansion readiness model.")


class TrainingConfig(Section):
    """Which models to fit and how they are validated."""

    models: list[ModelName] = Field(default_factory=lambda: ["scorecard", "logistic", "lightgbm"])
    label: Literal["label_churn", "label_expansion"] = "label_churn"
    calibration: Literal["isotonic", "sigmoid", "none"] = "isotonic"
    split: SplitConfig = Field(default_factory=SplitConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    scorecard: ScorecardConfig = Field(default_factory=ScorecardConfig)
    logistic: LogisticConfig = Field(default_factory=LogisticConfig)
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    at_risk_threshold: Annotated[float, Field(gt=0, lt=100)] = 50.0
    bands: list[BandConfig] | Literal["auto"] = Field(
        default_factory=default_bands,
        description="Health bands [low, high) tiling 0-100, frozen into the model: the MLflow "
        "pyfunc, `healthscore score` and the validation report band health with them "
        "(`scoring.band_overrides` apply on top when scoring). Was also `scoring.bands`. "
        "`auto`: the four default band names with edges set from the training population "
        "by lift over its churn rate (see band_lifts), so bands spread on any base rate.")
    band_lifts: list[float] = Field(
        default_factory=lambda: [3.0, 1.5, 1.0],
        description="With `bands: auto`: an account is Critical where its churn probability "
        "is at least the first lift times the training population's mean, At risk at the "
        "second, Moderate at the third, Healthy below; descending.")
    band_rule: Literal["lift", "share"] = Field(
        default="lift", description="With `bands: auto`: `lift` sets the edges by lift over "
        "the population's churn rate (band_lifts); `share` so that fixed shares of the training "
        "population fall in each band (band_shares).")
    band_segments: bool = Field(
        default=False,
        description="With `bands: auto`: set the edges per segment (accounts.segment) from "
        "each segment's own training population, so enterprise accounts are banded against "
        "enterprise risk and SMB against SMB; a segment with fewer than 500 training rows uses "
        "the whole population's edges. Scoring, the pyfunc and the validation report band each "
        "account by its segment's edges.")
    band_shares: list[float] = Field(
        default_factory=lambda: [0.05, 0.15, 0.35],
        description="With `bands: auto` and `band_rule: share`: the cumulative shares of the "
        "training population below each edge (the riskiest 5 % Critical, the next 10 % At "
        "risk, the next 20 % Moderate, the rest Healthy); strictly ascending, inside (0, 1).")
    bootstrap: Annotated[int, Field(ge=0, le=10000)] = 200
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    refit: bool = Field(
        default=True,
        description="After the held-out evaluation, refit the registered model on every "
        "labelled row (up to the newest label) with the chosen settings; its calibrator is "
        "fitted on out-of-fold predictions. Test metrics always come from the evaluation fit.")
    refit_folds: Annotated[int, Field(ge=2, le=10)] = Field(
        default=3, description="Folds (by account) of the out-of-fold predictions the refit "
        "model's calibrator is fitted on.")
    positive_label: str | None = Field(
        default=None, description="Feature tables (`train --features`): the label value that "
        "means churn, for labels other than 0/1, booleans and yes/no/true/false (any case); "
        "every other present value means retained. `--positive-label` overrides it.")
    max_rows: Annotated[int, Field(ge=1000)] | None = Field(
        default=None, description="Train on at most this many rows of the feature matrix or "
        "feature table: above it `train` keeps a sample drawn by `seed`, stratified by "
        "snapshot date and label so each keeps its share of rows (the positive rate stays), "
        "and says so. A Parquet table is then read in two passes (the stratum columns, then "
        "only the chosen rows), never whole. Default: every row.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    survival: SurvivalConfig = Field(default_factory=SurvivalConfig)
    expansion: ExpansionConfig = Field(default_factory=ExpansionConfig)

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one of scorecard, logistic, lightgbm")
        if len(set(value)) != len(value):
            raise ValueError(f"a model is listed twice in {value}")
        return value

    @field_validator("bands")
    @classmethod
    def _bands(cls, value: list[BandConfig] | str) -> list[BandConfig] | str:
        if value != "auto":
            check_tiling(value)
        return value

    @field_validator("band_segments")
    @classmethod
    def _band_segments(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("bands") != "auto":
            raise ValueError("per-segment edges are set from the training population: they "
                             "need `bands: auto` (fixed per-segment bands: "
                             "scoring.band_overrides)")
        return value

    @field_validator("band_shares")
    @classmethod
    def _shares(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or not 0 < value[0] < value[1] < value[2] < 1:
            raise ValueError("three cumulative shares, strictly ascending inside (0, 1); got "
                             f"{value}")
        return value

    @field_validator("band_lifts")
    @classmethod
    def _lifts(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or min(value) <= 0 or sorted(set(value), reverse=True) != value:
            raise ValueError("three positive lifts, strictly descending (Critical, At risk, "
                             f"Moderate); got {value}")
        return value
