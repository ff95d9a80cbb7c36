"""The documented Python API: what a notebook or an orchestrator calls instead of the CLI.

The workflow, in the order the CLI runs it (each a thin wrapper over
:mod:`healthscore.pipeline.compose`, so a result here equals the command's)::

    from healthscore import api

    config = api.load_config("my.yaml")          # or api.config_from_mapping({...})
    dataset = api.open_data(config)              # loads and validates every table
    matrix = api.build_features(config, dataset)
    training = api.train(config, matrix, dataset)
    scoring = api.score(config, dataset, as_of=datetime.date(2025, 12, 1))
    live = api.monitor(config, dataset)

Beside the workflow it exports the analysis helpers the notebooks use (churn rates, the
threshold table, the comparison tables, driver tables, figures), so nothing outside this module
is needed to explore data, validate a model or compare runs. docs/api.md lists every name; what
is not listed there is internal and may change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.data.dataset import Dataset
from healthscore.features.engine import FeatureMatrix
from healthscore.features.explore import churn_rates, outcome_histogram, outcome_summary
from healthscore.features.snapshots import CONTEXT_COLUMNS, LABEL_COLUMNS
from healthscore.model.artifact import HealthModel
from healthscore.pipeline import compose
from healthscore.pipeline.compose import MonitorOutcome
from healthscore.pipeline.config import Config, config_from_mapping
from healthscore.pipeline.config import load_config as _load_config
from healthscore.report import figure_png
from healthscore.serving.batch import ScoringResult
from healthscore.serving.drivers import account_drivers, driver_importance
from healthscore.serving.scorer import score_accounts
from healthscore.synth import WorldSummary
from healthscore.tracking import RunRecord
from healthscore.training.compare import (
    Comparison,
    band_tables,
    comparison_plots,
    formatted_differences,
    formatted_side_by_side,
    holdout_summary,
    runs_table,
)
from healthscore.training.gate import gate_from_comparison
from healthscore.training.metrics import Evaluation, classification_at_threshold, curves
from healthscore.training.plots import band_churn_figure, calibration_figure, threshold_figure
from healthscore.training.thresholds import threshold_for_capacity, threshold_table

__all__ = [
    # workflow
    "Config", "Dataset", "WorldSummary", "FeatureMatrix", "HealthModel", "ScoringResult",
    "MonitorOutcome", "Training", "ModelRun", "LoadedRun", "Comparison", "Evaluation",
    "load_config", "config_from_mapping", "synthesize_world", "open_data", "build_features",
    "train", "load_run", "evaluate", "score", "monitor", "compare",
    # exploring data
    "CONTEXT_COLUMNS", "LABEL_COLUMNS", "churn_rates", "outcome_summary", "outcome_histogram",
    # validating a model
    "curves", "classification_at_threshold", "threshold_table", "threshold_for_capacity",
    "score_accounts", "driver_importance", "account_drivers",
    # comparing runs
    "runs_table", "formatted_side_by_side", "formatted_differences", "holdout_summary",
    "band_tables", "comparison_plots", "gate_from_comparison",
    # figures
    "figure_png", "band_churn_figure", "calibration_figure", "threshold_figure",
]


def load_config(path: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """The configuration: a YAML file (``None``: the embedded demo defaults), validated.

    Parameters
    ----------
    path
        The YAML file ``healthscore -c`` would read.
    overrides
        Keys merged on top, nested like the file (``{"training": {"bootstrap": 0}}``).

    Raises
    ------
    healthscore.errors.ConfigError
        Naming the file and every bad key path.
    """
    config = _load_config(path)
    if not overrides:
        return config
    merged = _merge(config.model_dump(mode="json", exclude_unset=True), overrides)
    return config_from_mapping(merged, str(path) if path else "<overrides>")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def synthesize_world(config: Config, out_dir: Path | None = None) -> WorldSummary:
    """Generate the configured synthetic world (``config.synth``) into ``out_dir`` (default:
    ``data.dir``, else ``<workdir>/data``); returns the world's summary."""
    return compose.synthesize_world(config, out_dir)


def open_data(config: Config) -> Dataset:
    """Load the configured input tables and validate them against the data contract.

    Raises :class:`healthscore.errors.DataValidationError` listing every violation."""
    return compose.open_data(config)


def build_features(config: Config, dataset: Dataset | None = None,
                   dates: Sequence[dt.date] | None = None) -> FeatureMatrix:
    """The point-in-time feature matrix: one row per account active at each snapshot date
    (``dates``, default the training schedule of ``features.snapshots``), the label columns
    and the leakage audit (``matrix.frame``, ``matrix.features``, ``matrix.leakage``)."""
    dataset = dataset if dataset is not None else open_data(config)
    return compose.build_features(config, dataset, dates=list(dates) if dates else None)


@dataclass
class ModelRun:
    """One trained model of a session: its MLflow run and validation figures."""

    name: str
    run_id: str
    validation_pr_auc: float
    report: Path | None


@dataclass
class Training:
    """What :func:`train` did: each model's run, the best one and the registered version."""

    models: dict[str, ModelRun]
    best: str
    registered_version: str | None
    champion_set: bool
    session_run_id: str

    @property
    def best_run_id(self) -> str:
        """The MLflow run id of the best model (``@challenger``)."""
        return self.models[self.best].run_id

    def table(self) -> pd.DataFrame:
        """One row per model: run id, validation PR-AUC, validation report path."""
        return pd.DataFrame([{"model": m.name, "run": m.run_id,
                              "validation PR-AUC": m.validation_pr_auc, "report": m.report}
                             for m in self.models.values()]).set_index("model")


def train(config: Config, matrix: FeatureMatrix, dataset: Dataset,
          claim_champion: bool = True) -> Training:
    """Fit, evaluate and record every model of ``training.models`` (``healthscore train``).

    A time split with gaps of one label horizon; each model tuned and calibrated on the
    validation period and evaluated once on the test period; everything logged to MLflow,
    a validation report written per model. The best by validation PR-AUC becomes
    ``@challenger``, and ``@champion`` when there is none and ``claim_champion``."""
    frame, metas = compose.matrix_inputs(matrix)
    run, session, reports = compose.train(config, frame, metas, dataset.fingerprint,
                                          claim_champion=claim_champion, labels=matrix.labels)
    models = {name: ModelRun(name, session.runs[name].run_id, result.validation_pr_auc,
                             reports.get(name))
              for name, result in run.results.items()}
    return Training(models, session.best, session.registered_version, session.champion_set,
                    session.session_run_id)


@dataclass
class LoadedRun:
    """A model run read back from MLflow: its record (params, metrics, artifact folder),
    its model, its logged test predictions and test feature rows."""

    run_id: str
    record: RunRecord
    model: HealthModel
    predictions: pd.DataFrame  # account_id, snapshot_date, segment, arr, y, p
    test_rows: pd.DataFrame  # the test period's feature rows, same order


def load_run(config: Config, ref: str) -> LoadedRun:
    """Read a model run back from the tracking store: ``ref`` is a run id or an alias of the
    registered model (``@champion``, ``@challenger``)."""
    from healthscore import tracking
    from healthscore.training.record import TEST_FEATURES, TEST_PREDICTIONS

    compose.use_tracking(config)
    run_id = tracking.resolve_run_id(ref, config.training.tracking.model_name)
    record = tracking.read_run(run_id)
    model = tracking.load_health_model(f"runs:/{run_id}/model")
    predictions = pd.read_parquet(record.artifact_dir / TEST_PREDICTIONS)
    features = record.artifact_dir / TEST_FEATURES
    rows = pd.read_parquet(features) if features.exists() else pd.DataFrame()
    return LoadedRun(run_id, record, model, predictions, rows)


def evaluate(config: Config, predictions: pd.DataFrame, n_boot: int | None = None
             ) -> Evaluation:
    """Evaluate scored rows as training does (``y``, ``p``, optionally ``arr``, ``segment``):
    overall metrics with bootstrap intervals, the band table and per-segment metrics at the
    configured at-risk threshold and bands."""
    from healthscore.training.train import evaluate_predictions

    return evaluate_predictions(predictions, config.training, config.seed, n_boot)


def score(config: Config, dataset: Dataset, as_of: dt.date | None = None,
          model_uri: str | None = None) -> ScoringResult:
    """Score every account active at ``as_of`` (default: the day after the data ends) like
    ``healthscore score``: health, band, drivers, trends, alerts; writes the score file, the
    CRM export and the portfolio page and appends to the score history."""
    day = as_of or dataset.end_date + dt.timedelta(days=1)
    return compose.score(config, dataset, day, model_uri)


def monitor(config: Config, dataset: Dataset, as_of: dt.date | None = None) -> MonitorOutcome:
    """Live accuracy like ``healthscore monitor``: the score history joined with the outcomes
    that have matured by ``as_of`` (default: the day after the data ends).

    ``outcome.live`` is None when no scoring date has matured yet; otherwise it holds the
    per-date and cumulative figures, band churn, calibration, misses and false alarms, and
    ``outcome.live.failed`` the checks outside ``monitoring``'s thresholds."""
    day = as_of or dataset.end_date + dt.timedelta(days=1)
    return compose.monitor(config, dataset, day)


def compare(config: Config, run_refs: Sequence[str]) -> tuple[Comparison, Path, str]:
    """Compare model runs (ids or ``@aliases``; the first is the reference) on the newest
    one's test rows like ``healthscore compare``: returns the comparison, its HTML page and
    the MLflow comparison run id."""
    return compose.compare(config, list(run_refs))
