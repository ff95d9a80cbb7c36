"""The MLflow pyfunc wrapper of the health model (imports mlflow: load it lazily).

Input: a feature frame (the model's input columns; extra columns are ignored).
Output per row: churn_probability, health (= 100 (1 - p), one decimal) and band.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from healthscore.serving.bands import DEFAULT_BANDS, Band, assign_band
from healthscore.serving.model import HealthModel


class HealthScorePyfunc(mlflow.pyfunc.PythonModel):
    """Works through mlflow.pyfunc.load_model, `mlflow models predict` and spark_udf."""

    def __init__(self, health_model: HealthModel) -> None:
        self.health_model = health_model

    @property
    def bands(self) -> list[Band]:
        """Bands frozen into the model at training time."""
        stored = self.health_model.info.get("bands")
        return [Band(*b) for b in stored] if stored else list(DEFAULT_BANDS)  # (name, lo, hi)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Score a feature frame."""
        frame = pd.DataFrame(model_input)
        p = self.health_model.predict_proba(frame)
        health = (100.0 * (1.0 - p)).round(1)
        return pd.DataFrame({"churn_probability": p, "health": health,
                             "band": assign_band(health, self.bands)}, index=frame.index)
