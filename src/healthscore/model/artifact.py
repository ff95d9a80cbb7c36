"""The health model artifact: a fitted churn model, its calibrator and feature metadata.

Built by training, saved inside the MLflow model, loaded by serving. It never imports
training code directly; the pickled model object carries its own class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from healthscore.features.labels import LabelSpec
from healthscore.model.bands import DEFAULT_BANDS, Band, assign_segment_band

if TYPE_CHECKING:
    from healthscore.model.reference import DriftReference


class RawModel(Protocol):
    """What the artifact needs from a fitted model (see healthscore.training.models)."""

    name: str
    feature_names: list[str]

    def raw_score(self, x: pd.DataFrame) -> np.ndarray: ...

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray: ...

    def contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]: ...


class ProbabilityMap(Protocol):
    """A fitted calibrator."""

    def transform(self, p_raw: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class FeatureMeta:
    """Registry facts about one model input, frozen into the artifact."""

    name: str
    dimension: str
    direction: str
    unit: str
    description: str
    explain: str
    categorical: bool
    parameter: str | None = None
    direction_source: str = "registry"  # registry | config (features.directions) | learned

    def sentence(self, value: Any) -> str:
        """The human sentence for a value of this feature (models trained before flags read
        "yes"/"no" get them too: the template is interpreted here, not frozen)."""
        from healthscore.features.registry import render_sentence

        return render_sentence(self.explain, self.description, value, self.parameter)


@dataclass
class HealthModel:
    """Churn probability p, calibrated; health = 100 (1 - p)."""

    model: RawModel
    calibrator: ProbabilityMap
    features: list[FeatureMeta]
    label: str = "label_churn"
    horizon_days: int = 90
    info: dict[str, Any] = field(default_factory=dict)
    # Binned distributions of the inputs and health on the training rows (model/reference.py).
    # None for models pickled before the field existed: they read this class default.
    reference: DriftReference | None = None
    # The held-out evaluation fit when this model was refit on every labelled row (its test
    # metrics come from it; comparisons on rows the refit saw score with it). None otherwise.
    evaluation: HealthModel | None = None
    # The health bands (training.bands) frozen in at training: the pyfunc, `healthscore score`
    # and the validation report all band health with these. None for models pickled before
    # the field existed: see ``health_bands``.
    bands: tuple[Band, ...] | None = None
    # What the label means (features/labels.py), fixed when the feature matrix was built; None
    # for a bring-your-own feature table and for models pickled before the field existed.
    label_spec: LabelSpec | None = None
    # The expansion readiness model (training.expansion): the same machinery on
    # ``label_expansion``, its p the probability of expanding within its horizon. None when
    # not trained, and for models pickled before the field existed (the class default).
    expansion: HealthModel | None = None
    # Per-segment edges of the same bands (training.band_segments with bands: auto): segment
    # -> bands set from that segment's training population. None when not set, and for models
    # pickled before the field existed; a segment not listed uses ``bands``.
    segment_bands: dict[str, tuple[Band, ...]] | None = None

    @property
    def feature_names(self) -> list[str]:
        """Input columns the model needs, in order."""
        return [f.name for f in self.features]

    @property
    def health_bands(self) -> tuple[Band, ...]:
        """The bands this model's health is put in: its frozen ``bands``, or for a model
        trained before bands were frozen in, :data:`DEFAULT_BANDS` (what its pyfunc used)."""
        return self.bands if self.bands is not None else DEFAULT_BANDS

    def band(self, health: np.ndarray, segments: np.ndarray | None = None) -> np.ndarray:
        """Band name of each health value in this model's :attr:`health_bands`, or with
        ``segments`` (one per value) in its segment's own bands where it has them."""
        return assign_segment_band(health, self.health_bands, segments, self.segment_bands)

    @property
    def kind(self) -> str:
        """scorecard, logistic or lightgbm."""
        return self.model.name

    def calibrated(self, z: np.ndarray) -> np.ndarray:
        """Calibrated churn probability for raw scores."""
        return self.calibrator.transform(self.model.raw_to_proba(np.asarray(z, dtype=float)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability per row."""
        return self.calibrated(self.model.raw_score(frame))

    def health(self, frame: pd.DataFrame) -> np.ndarray:
        """Health 0-100 per row, one decimal."""
        return health_from_probability(self.predict_proba(frame))


def health_from_probability(p: np.ndarray) -> np.ndarray:
    """health = 100 x (1 - p), rounded to one decimal."""
    return np.round(100.0 * (1.0 - np.asarray(p, dtype=float)), 1)


def horizon_columns(model: HealthModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Per row, for a survival model: ``churn_within_<h>d`` for every horizon it answers and
    ``expected_months_24`` (expected months as a customer over the next 24, the restricted
    mean survival time). No columns for a direct classifier (it answers one horizon, given by
    ``churn_probability``)."""
    raw = model.model
    if not hasattr(raw, "proba_within"):
        return pd.DataFrame(index=frame.index)
    z = raw.raw_score(frame)
    columns = {f"churn_within_{h}d": np.round(raw.proba_within(z, h), 4) for h in raw.horizons}
    columns["expected_months_24"] = np.round(raw.restricted_mean_months(z), 1)
    return pd.DataFrame(columns, index=frame.index)
