"""The few functions that wire the stages together; no logic of their own."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from healthscore.data.dataset import Dataset, open_dataset
from healthscore.data.settings import DataConfig
from healthscore.features.engine import FeatureMatrix, build_feature_matrix
from healthscore.pipeline.config import Config

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
MANIFEST = "world.json"


def data_dir(config: Config) -> Path:
    """Where the demo/synthetic data lives: ``data.dir``, else ``<workdir>/data``."""
    return config.data.dir or config.workdir / "data"


def resolved_data_config(config: Config) -> DataConfig:
    """The data config with ``end_date`` taken from a synthetic world's manifest when unset."""
    data = config.data
    manifest = (data.dir / MANIFEST) if data.dir else None
    if data.end_date is None and manifest is not None and manifest.exists():
        end = dt.date.fromisoformat(json.loads(manifest.read_text())["end_date"])
        log.info("data end date %s read from %s", end, manifest)
        return data.model_copy(update={"end_date": end})
    return data


def synthesize_world(config: Config, out_dir: Path | None = None,
                     progress: Progress | None = None):
    """Generate the configured synthetic world into ``out_dir`` (default: the data dir)."""
    from healthscore.data.synth import synthesize

    return synthesize(config.synth, out_dir or data_dir(config), progress=progress)


def open_data(config: Config) -> Dataset:
    """Load and validate the configured input tables."""
    return open_dataset(resolved_data_config(config))


def build_features(config: Config, dataset: Dataset, progress: Progress | None = None,
                   dates: list[dt.date] | None = None) -> FeatureMatrix:
    """Build (or reuse from cache) the feature matrix."""
    return build_feature_matrix(
        dataset, config.features, dates=dates, cache_dir=config.workdir / "cache",
        progress=progress,
    )


def matrix_inputs(matrix: FeatureMatrix) -> tuple[pd.DataFrame, list]:
    """The frame and feature metadata a training run needs from a built matrix."""
    from healthscore.training.train import feature_meta

    return matrix.frame, feature_meta(matrix.features)


def train(config: Config, frame: pd.DataFrame, metas: list, data_fingerprint: str,
          progress: Progress | None = None):
    """Fit, evaluate and record every configured model, and write their validation reports.

    Returns (TrainingRun, RecordedSession, {model: report path}).
    """
    from healthscore.training.record import frame_fingerprint, record_session, test_frame_for
    from healthscore.training.train import train_and_evaluate

    run = train_and_evaluate(frame, metas, config.training, config.features.horizon_days,
                             config.seed, progress)
    frames = {name: test_frame_for(frame, run, result) for name, result in run.results.items()}
    fingerprints = {"inputs": data_fingerprint, "features": frame_fingerprint(frame)}
    session = record_session(run, frames, config.training, config.model_dump(mode="json"),
                             fingerprints, config.workdir / "mlartifacts")
    reports = {name: write_validation_report(config, logged.run_id)
               for name, logged in session.runs.items()}
    return run, session, reports


def backtest(config: Config, frame: pd.DataFrame, metas: list,
             progress: Progress | None = None) -> pd.DataFrame:
    """Rolling-origin backtest; the fold table is also logged to MLflow as its own run."""
    from healthscore import tracking
    from healthscore.training.train import backtest as run_backtest

    folds = run_backtest(frame, metas, config.training, config.features.horizon_days,
                         config.seed, progress)
    tracking.configure(config.training.tracking, config.workdir / "mlartifacts")
    with tracking.start_run("backtest", {tracking.TAG_KIND: "backtest"}):
        tracking.log_params({"folds": len(folds["fold"].unique()),
                             "models": ",".join(config.training.models)})
        tracking.log_metrics({
            f"fold{int(r.fold)}_{r.model}_{m}": getattr(r, m)
            for r in folds.itertuples() for m in ("roc_auc", "pr_auc", "recall", "ece", "brier")
        })
        tracking.log_artifacts({"tables/backtest.csv": folds.to_csv(index=False)})
    return folds


def tracking_uri(config: Config) -> str:
    """The MLflow tracking URI in force for this config."""
    from healthscore.tracking import tracking_uri as uri

    return uri(config.training.tracking)


def write_validation_report(config: Config, run_ref: str, out: Path | None = None) -> Path:
    """Render a model run's validation report to HTML (atomically) and log it to the run."""
    import tempfile

    from healthscore import tracking
    from healthscore.io import write_text
    from healthscore.training.report import render_report

    tracking.configure(config.training.tracking, config.workdir / "mlartifacts")
    run_id = tracking.resolve_run_id(run_ref, config.training.tracking.model_name)
    with tempfile.TemporaryDirectory() as tmp:
        run = tracking.read_run(run_id, Path(tmp))
        baseline = next((r for r in tracking.sibling_runs(run)
                         if r.tags.get(tracking.TAG_MODEL) == "scorecard"), None)
        page = render_report(run, baseline)
    out = out or config.workdir / "reports" / f"validation-{run_id}.html"
    write_text(page, out)
    tracking.log_artifacts_to_run(run_id, {"report/validation_report.html": page})
    return out
