"""Training-side commands: train, backtest, compare runs and the validation report; each
runs the training stage and records it through tracking."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from healthscore.features.labels import LabelSpec
from healthscore.pipeline.compose.inputs import FeatureTableInfo
from healthscore.pipeline.compose.workspace import artifacts_dir, use_tracking
from healthscore.pipeline.config import Config
from healthscore.progress import Progress


def train(config: Config, frame: pd.DataFrame, metas: list, data_fingerprint: str,
          progress: Progress | None = None, claim_champion: bool = True,
          table: FeatureTableInfo | None = None, labels: Mapping[str, LabelSpec] | None = None):
    """Fit, evaluate and record every configured model, and write their validation reports.

    The best becomes @challenger, and @champion when there is none and ``claim_champion``.
    A feature table's id column travels in the models (the pyfunc returns it) and its column
    typing report is logged to the session and every model run.
    ``labels``: what the label columns mean (a feature matrix's ``labels``; None for a
    feature table), carried by every model. Returns (TrainingRun, RecordedSession,
    {model: report path}).
    """
    from healthscore import tracking
    from healthscore.redact import redact_config
    from healthscore.training.record import (
        frame_fingerprint,
        record_session,
        test_frame_for,
        training_rows_of,
    )
    from healthscore.training.train import train_and_evaluate

    # the tracking store is checked (and killed runs swept) before anything is fitted
    use_tracking(config, create=True)
    run = train_and_evaluate(frame, metas, config.training, config.features.horizon_days,
                             config.seed, progress, labels)
    if table is not None:
        for result in run.results.values():
            for model in (result.health_model, result.health_model.evaluation):
                if model is not None:
                    model.info["id_column"] = table.id_column
    frames = {name: test_frame_for(frame, run, result) for name, result in run.results.items()}
    fingerprints = {"inputs": data_fingerprint, "features": frame_fingerprint(frame)}
    settings = redact_config(config.model_dump(mode="json"))
    training_rows = training_rows_of(frame, run, config.training, config.features.horizon_days,
                                     config.seed)
    session = record_session(run, frames, config.training, settings,
                             fingerprints, artifacts_dir(config), claim_champion,
                             training_rows)
    if table is not None:
        typing = {"tables/column_typing.csv": table.report.to_csv(index=False)}
        for run_id in [session.session_run_id, *(r.run_id for r in session.runs.values())]:
            tracking.log_artifacts_to_run(run_id, typing)
    reports = {name: write_validation_report(config, logged.run_id)
               for name, logged in session.runs.items()}
    return run, session, reports


def backtest(config: Config, frame: pd.DataFrame, metas: list,
             progress: Progress | None = None):
    """Rolling-origin backtest; the fold table is also logged to MLflow as its own run, with
    how many folds fit and why the others did not. Returns (fold table, BacktestPlan)."""
    from healthscore import tracking
    from healthscore.training.backtest import backtest as run_backtest

    use_tracking(config, create=True)
    folds, plan = run_backtest(frame, metas, config.training, config.features.horizon_days,
                               config.seed, progress)
    with tracking.start_run("backtest", {tracking.TAG_KIND: "backtest"}):
        tracking.log_params({"folds": len(folds["fold"].unique()),
                             "folds_asked": plan.asked,
                             "models": ",".join(config.training.models)})
        tracking.set_tags({"healthscore.backtest_folds": plan.summary()[:5000]})
        tracking.log_metrics({
            f"fold{int(r.fold)}_{r.model}_{m}": getattr(r, m)
            for r in folds.itertuples() for m in ("roc_auc", "pr_auc", "recall", "ece", "brier")
        })
        tracking.log_artifacts({"tables/backtest.csv": folds.to_csv(index=False)})
    return folds, plan


def compare(config: Config, run_refs: list[str], out: Path | None = None,
            progress: Progress | None = None):
    """Score model runs (ids or @aliases) on the newest one's test rows and compare them.

    The first run is the reference. Writes the HTML comparison (default
    ``<workdir>/reports/compare-<ids>.html``) and logs a comparison run tagged with the run
    ids. Returns (Comparison, HTML path, comparison run id).
    """
    import tempfile

    from healthscore import tracking
    from healthscore.io import write_text
    from healthscore.training import compare as cmp
    use_tracking(config)
    model_name = config.training.tracking.model_name
    run_ids = [tracking.resolve_run_id(ref, model_name) for ref in run_refs]
    with tempfile.TemporaryDirectory() as tmp:
        records = [tracking.read_run(run_id, Path(tmp) / str(i))
                   for i, run_id in enumerate(run_ids)]
        cmp.require_model_runs(records)
        contenders = []
        for i, (name, record) in enumerate(zip(cmp.display_names(run_refs, records), records,
                                               strict=True)):
            model = tracking.load_health_model(f"runs:/{record.run_id}/model")
            contenders.append(cmp.contender(name, record, model))
            if progress:
                progress("compare: load models", i + 1, len(records))
        holdout = cmp.newest(contenders)
        rows = cmp.read_holdout_rows(records[contenders.index(holdout)].artifact_dir, holdout)
    comparison = cmp.compare_runs(
        contenders, rows, health_threshold=config.training.at_risk_threshold,
        bands=holdout.model.health_bands, n_boot=config.training.bootstrap, seed=config.seed,
        progress=progress, segment_bands=getattr(holdout.model, "segment_bands", None))
    page = cmp.render_comparison(comparison)
    out = out or config.workdir / "reports" / f"compare-{'-'.join(r[:8] for r in run_ids)}.html"
    write_text(page, out)
    with tracking.start_run(f"compare-{'-'.join(r[:8] for r in run_ids)}",
                            cmp.comparison_tags(comparison)):
        comparison_run = tracking.active_run_id()
        tracking.log_params(cmp.comparison_params(comparison))
        tracking.log_metrics(cmp.comparison_metrics(comparison))
        tracking.log_artifacts({
            "comparison.html": page,
            "tables/side_by_side.csv": cmp.formatted_side_by_side(comparison).to_csv(index=False),
            "tables/differences.csv": comparison.differences.to_csv(index=False),
            "tables/disagreements.csv": comparison.disagreements.to_csv(index=False),
        })
    return comparison, out, comparison_run


def write_validation_report(config: Config, run_ref: str, out: Path | None = None) -> Path:
    """Render a model run's validation report to HTML (atomically) and log it to the run."""
    import tempfile

    from healthscore import tracking
    from healthscore.io import write_text
    from healthscore.training.report import render_report

    use_tracking(config)
    run_id = tracking.resolve_run_id(run_ref, config.training.tracking.model_name)
    with tempfile.TemporaryDirectory() as tmp:
        run = tracking.read_run(run_id, Path(tmp))
        baseline = next((r for r in tracking.sibling_runs(run)
                         if r.tags.get(tracking.TAG_MODEL) == "scorecard"), None)
        page = render_report(run, baseline, dict(config.scoring.playbooks),
                             config.training.at_risk_threshold)
    out = out or config.workdir / "reports" / f"validation-{run_id}.html"
    write_text(page, out)
    tracking.log_artifacts_to_run(run_id, {"report/validation_report.html": page})
    return out
