"""The interface every churn model shares, and what a model knows about its inputs.

Every model maps a feature frame to a *raw score* ``z`` (log-odds for logistic and LightGBM,
the rule-based health score for the scorecard), has a monotone ``raw_to_proba(z)``, and can
split ``z`` exactly into per-feature contributions: ``z = base + contributions.sum(axis=1)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.errors import ModelError


@dataclass(frozen=True)
class FeatureInfo:
    """What a model needs to know about an input column."""

    name: str
    dimension: str
    direction: int  # +1 higher is healthier, -1 lower is healthier, 0 none (declared or learned)
    categorical: bool
    monotone: int = 0  # LightGBM constraint on "higher is healthier": only earned declarations


class ChurnModel(ABC):
    """Common interface: fit on train (validation for tuning), raw score, contributions."""

    name: str = "model"

    def __init__(self, features: list[FeatureInfo], seed: int = 0) -> None:
        self.features = features
        self.seed = seed
        self.levels_: dict[str, list[str]] | None = None
        self.offsets_: pd.Series | None = None

    @property
    def feature_names(self) -> list[str]:
        """Input columns, in order."""
        return [f.name for f in self.features]

    def _check_fitted(self) -> None:
        if self.levels_ is None:
            raise ModelError(f"the {self.name} model is used before fit(); call fit first")

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise ModelError(f"the feature frame lacks {len(missing)} model input(s): {missing}")

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select and type the input columns; categories fixed to the training levels."""
        self._check_columns(frame)
        columns: dict[str, pd.Series | pd.Categorical] = {}
        for f in self.features:
            values = frame[f.name]
            if f.categorical:
                levels = self.levels_[f.name] if self.levels_ else None
                text = values.astype("string").astype(object)
                if levels is not None:  # a level unseen in training is missing (pandas 4
                    text = text.where(text.isin(levels))  # refuses it in a Categorical)
                columns[f.name] = pd.Categorical(text, categories=levels)
            elif values.dtype != np.float64:
                columns[f.name] = pd.to_numeric(values, errors="coerce").astype(float)
            else:  # already float: shared, not copied (copy-on-write keeps ``frame`` intact)
                columns[f.name] = values
        return pd.DataFrame(columns, index=frame.index, copy=False)

    def fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray,
            offset: np.ndarray | None = None, offset_val: np.ndarray | None = None
            ) -> ChurnModel:
        """Fit on the training rows; the validation rows may be used for tuning/stopping.

        ``offset`` / ``offset_val``: a fixed log-odds term per row added to the model's raw
        score while fitting (the survival model's baseline hazard per interval); the fitted
        raw score leaves it out. Row labels (the frames' index) must identify the rows.
        """
        self._check_columns(x)
        self.offsets_ = None
        if offset is not None:
            both = pd.concat([pd.Series(np.asarray(offset, float), index=x.index),
                              pd.Series(np.asarray(offset_val, float), index=x_val.index)])
            self.offsets_ = both[~both.index.duplicated()]
        self.levels_ = {
            f.name: sorted(x[f.name].dropna().astype(str).unique().tolist())
            for f in self.features if f.categorical
        }
        prepared = self.prepare(x)
        # the refit passes its rows as both (nothing left to validate on): prepare them once
        prepared_val = prepared if x_val is x else self.prepare(x_val)
        self._fit(prepared, np.asarray(y, dtype=int), prepared_val, np.asarray(y_val, dtype=int))
        self.offsets_ = None  # fitting data: not part of the fitted model
        return self

    def offset_of(self, x: pd.DataFrame) -> np.ndarray | None:
        """The fitting offset of the rows of ``x`` (None when fitted without offsets)."""
        if self.offsets_ is None:
            return None
        return self.offsets_.reindex(x.index).to_numpy(dtype=float)

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        """The model's raw score for each row."""
        self._check_fitted()
        return self._raw(self.prepare(x))

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        """Uncalibrated churn probability."""
        return self.raw_to_proba(self.raw_score(x))

    def contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]:
        """(base, phi) with raw_score = base + phi.sum(axis=1); phi has one column per feature."""
        self._check_fitted()
        return self._contributions(self.prepare(x))

    @abstractmethod
    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray
             ) -> None: ...

    @abstractmethod
    def _raw(self, x: pd.DataFrame) -> np.ndarray: ...

    @abstractmethod
    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        """Map raw scores to (uncalibrated) churn probabilities."""

    @abstractmethod
    def _contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]: ...

    def params(self) -> dict[str, object]:
        """Parameters worth logging."""
        return {}
