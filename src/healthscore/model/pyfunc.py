"""The MLflow pyfunc wrapper of the health model (imports mlflow: load it lazily).

Input: a feature frame (the model's input columns; extra columns are ignored, except the id
column, ``account_id`` or a feature table's own, which comes back first in the output).
Output per row, all primitive columns so ``spark_udf`` can return them as a struct:
churn_probability, health (= 100 (1 - p), one decimal), band, base_health, the top risk
drivers and strengths (feature, dimension, value, points, reason), points per dimension,
the dominant actionable risk dimension with its playbook, and points_json; for a survival
model every horizon's probability and the expected months; for a model carrying an expansion
readiness model, expansion_score (0-100) and its top drivers.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from healthscore.model.artifact import HealthModel
from healthscore.model.bands import healthiest_band
from healthscore.model.explain import (
    DEFAULT_PLAYBOOK_MIN_POINTS,
    DEFAULT_PLAYBOOKS,
    explain,
    material_playbooks,
)


class HealthScorePyfunc(mlflow.pyfunc.PythonModel):
    """Works through mlflow.pyfunc.load_model, `mlflow models predict` and spark_udf."""

    def __init__(self, health_model: HealthModel) -> None:
        self.health_model = health_model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Score and explain a feature frame: the model's own bands (frozen in at training,
        the ones `healthscore score` and the validation report use), the default playbooks."""
        frame = pd.DataFrame(model_input).reset_index(drop=True)
        out = explain(self.health_model, frame, playbooks=dict(DEFAULT_PLAYBOOKS))
        out.insert(1, "health", out["model_health"])
        segments = frame["segment"].to_numpy() if "segment" in frame else None
        out.insert(2, "band", self.health_model.band(out["health"].to_numpy(), segments))
        healthiest = healthiest_band(self.health_model.health_bands)
        out["playbook"] = material_playbooks(out, out["band"].to_numpy() == healthiest,
                                             DEFAULT_PLAYBOOK_MIN_POINTS)
        out = out.drop(columns=["model_health"])
        for column in dict.fromkeys([self.health_model.info.get("id_column"), "account_id"]):
            if column and column in frame.columns:  # the rows' ids come back with them
                out.insert(0, column, frame[column].to_numpy())
                break
        return out
