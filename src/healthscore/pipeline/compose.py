"""The few functions that wire the stages together; no logic of their own."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore.data.dataset import Dataset, open_dataset
from healthscore.data.settings import DataConfig
from healthscore.features.engine import FeatureMatrix, build_feature_matrix, per_type_cutoff
from healthscore.features.snapshots import data_start, snapshot_dates
from healthscore.pipeline.config import Config
from healthscore.progress import Progress

log = logging.getLogger(__name__)

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
    from healthscore.synth import synthesize

    return synthesize(config.synth, out_dir or data_dir(config), progress=progress)


def open_data(config: Config) -> Dataset:
    """Load and validate the configured input tables."""
    return open_dataset(resolved_data_config(config))


def build_features(config: Config, dataset: Dataset, progress: Progress | None = None,
                   dates: list[dt.date] | None = None) -> FeatureMatrix:
    """Build (or reuse from cache) the feature matrix.

    For the training schedule (``dates`` None) the per-event-type columns come from events
    before the test period the time split will use, so later data cannot change them.
    """
    types_before = None
    if dates is None:
        features = config.features
        schedule = snapshot_dates(features.snapshots, data_start(dataset), dataset.end_date)
        grace = features.churn.grace_days if features.churn.definition == "contract" else 0
        types_before = per_type_cutoff(schedule, dataset.end_date, features.horizon_days,
                                       grace, config.training.split.test_days or 90)
        # an unset test_days is sized to at most 90 days: 90 is the earliest start it can have
    return build_feature_matrix(
        dataset, config.features, dates=dates, cache_dir=config.workdir / "cache",
        progress=progress, types_before=types_before,
    )


def matrix_inputs(matrix: FeatureMatrix) -> tuple[pd.DataFrame, list]:
    """The frame and feature metadata a training run needs from a built matrix."""
    from healthscore.training.train import feature_meta

    return matrix.frame, feature_meta(matrix.features)


def train(config: Config, frame: pd.DataFrame, metas: list, data_fingerprint: str,
          progress: Progress | None = None, claim_champion: bool = True,
          table: FeatureTableInfo | None = None):
    """Fit, evaluate and record every configured model, and write their validation reports.

    The best becomes @challenger, and @champion when there is none and ``claim_champion``.
    A feature table's id column travels in the models (the pyfunc returns it) and its column
    typing report is logged to the session and every model run.
    Returns (TrainingRun, RecordedSession, {model: report path}).
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
    tracking.configure(config.training.tracking, config.workdir / "mlartifacts")
    run = train_and_evaluate(frame, metas, config.training, config.features.horizon_days,
                             config.seed, progress)
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
                             fingerprints, config.workdir / "mlartifacts", claim_champion,
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
    from healthscore.training.train import backtest as run_backtest

    tracking.configure(config.training.tracking, config.workdir / "mlartifacts")
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
    tracking.configure(config.training.tracking, config.workdir / "mlartifacts", create=False)
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
        progress=progress)
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


def retrain(config: Config, frame: pd.DataFrame, metas: list, data_fingerprint: str,
            progress: Progress | None = None):
    """Train, backtest, compare the best model with @champion on the new test period, and
    promote it only when ``training.promotion`` passes (with no champion: the first model that
    passes the absolute checks). Returns a :class:`~healthscore.training.gate.RetrainOutcome`.
    """
    from healthscore import tracking
    from healthscore.training.compare import IncompatibleRunsError
    from healthscore.training.gate import (
        RetrainOutcome,
        evaluate_gate,
        gate_from_comparison,
        identity_check,
        with_check,
    )

    run, session, reports = train(config, frame, metas, data_fingerprint, progress,
                                  claim_champion=False)
    folds, plan = backtest(config, frame, metas, progress)
    model_name = config.training.tracking.model_name
    candidate = session.runs[session.best].run_id
    champion = tracking.alias_version(model_name, tracking.CHAMPION)
    comparison = path = comparison_run = None
    gate, threshold = config.training.promotion, config.training.at_risk_threshold
    if champion is None:
        decision = evaluate_gate(gate, run.results[session.best].test.overall,
                                 health_threshold=threshold)
    else:
        try:
            comparison, path, comparison_run = compare(
                config, [f"@{tracking.CHAMPION}", candidate], progress=progress)
            decision = gate_from_comparison(gate, comparison)
        except IncompatibleRunsError as exc:
            decision = evaluate_gate(gate, run.results[session.best].test.overall,
                                     has_champion=True, incompatible="; ".join(exc.problems),
                                     health_threshold=threshold)
    decision = with_check(decision, identity_check(
        _fingerprints(tracking.run_tags(candidate)),
        _fingerprints(tracking.run_tags(champion[1])) if champion else None))
    version = tracking.promote(model_name, candidate) if decision.passed else None
    tracking.log_artifacts_to_run(session.session_run_id, {
        "retrain/gate.json": json.dumps(decision.as_dict() | {
            "candidate_run": candidate, "champion_before": champion,
            "comparison_run": comparison_run, "promoted_version": version}, indent=1)})
    return RetrainOutcome(run, session, reports, folds, champion, comparison, path,
                          comparison_run, decision, version, plan.summary())


def _fingerprints(tags: dict[str, str]) -> dict[str, str]:
    from healthscore import tracking

    return {"model": tags.get(tracking.TAG_MODEL_FINGERPRINT, ""),
            "data": tags.get(tracking.TAG_DATA_FINGERPRINT, "")}


def check_tracking(config: Config, create: bool) -> None:
    """Fail fast (bad URL, server down, missing store) before loading data or fitting."""
    from healthscore import tracking

    tracking.check_store(tracking.tracking_uri(config.training.tracking),
                         config.workdir / "mlartifacts", create)


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

    tracking.configure(config.training.tracking, config.workdir / "mlartifacts", create=False)
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


def score(config: Config, dataset: Dataset, as_of: dt.date, model_uri: str | None = None,
          shadow_uri: str | None = None, progress: Progress | None = None):
    """Batch-score every active account as of ``as_of`` (see serving.batch)."""
    from healthscore import tracking
    from healthscore.serving.batch import run_batch

    tracking.configure(config.training.tracking, config.workdir / "mlartifacts", create=False)
    return run_batch(dataset, config.features, config.scoring, config.workdir, as_of,
                     model_uri, shadow_uri, progress)


def check_owner(dataset: Dataset, owner: str) -> None:
    """Refuse an owner that no account has (before any scoring work), listing the owners."""
    from healthscore.serving.batch import account_labels

    owners = sorted({o for o in account_labels(dataset)["owner"] if o})
    if owner not in owners:
        raise unknown_owner(owner, owners, "an owner in accounts.owner")


def unknown_owner(owner: str, owners: list[str], expected: str) -> Exception:
    """The error for an ``--owner`` no account has: the owners there are (up to 20) and the
    closest spellings (the same name in other case first, else ``difflib``'s nearest)."""
    import difflib

    from healthscore.errors import ParameterError

    known = ", ".join(owners[:20]) + (" ..." if len(owners) > 20 else "")
    close = [o for o in owners if o.casefold() == owner.casefold()] or difflib.get_close_matches(
        owner, owners, n=2, cutoff=0.6)
    hint = f"Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    where = f"owners: {known}" if owners else "no account has one"
    return ParameterError("--owner", f"{expected} ({where})", owner, hint)


def owner_portfolio(result, owner: str) -> Path:
    """Write the portfolio page of one owner's accounts beside the scoring run's files
    (``DATE.owner-NAME.html``). An owner no account has is a user error that lists the
    owners there are."""
    import re

    from healthscore.io import write_text
    from healthscore.serving.portfolio import render_portfolio

    scores = result.scores
    owners = sorted({o for o in scores["owner"].astype(str) if o})
    mine = scores[scores["owner"].astype(str) == owner]
    if mine.empty:
        raise unknown_owner(owner, owners, "an owner of some scored account (accounts.owner)")
    band_order = result.band_order  # the bands frozen into the model that scored
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", owner).strip("-") or "owner"
    path = result.paths["report"].with_name(f"{result.as_of.isoformat()}.owner-{slug}.html")
    return write_text(render_portfolio(mine, result.as_of, band_order, result.model), path)


def drift(config: Config, dataset: Dataset | None, as_of: dt.date, model_uri: str | None = None,
          rows: pd.DataFrame | None = None,
          ) -> tuple[pd.DataFrame, dict[str, Path], dict[str, str]]:
    """PSI of the model's inputs and health, training rows vs the accounts active at
    ``as_of`` (or the feature-table ``rows`` given); writes ``<workdir>/drift/DATE.csv`` and
    ``DATE.html`` (see serving.drift).

    Returns (drift report, {"csv": path, "html": path}, model description).
    """
    from healthscore import tracking
    from healthscore.io import write_csv, write_text
    from healthscore.serving.batch import check_as_of, features_as_of, load_model
    from healthscore.serving.drift import drift_bins, drift_table, reference_of, render_drift

    if dataset is not None:
        check_as_of(as_of, dataset)
    tracking.configure(config.training.tracking, config.workdir / "mlartifacts", create=False)
    model, meta = load_model(model_uri or config.scoring.model, {})
    reference = reference_of(model)
    frame = rows if rows is not None else features_as_of(dataset, config.features, as_of,
                                                         config.workdir / "cache")
    bins = drift_bins(model, frame)
    report = drift_table(bins, model, config.scoring.drift, len(frame))
    page = render_drift(report, bins, as_of, meta, config.scoring.drift, reference.rows)
    out = config.workdir / "drift"
    paths = {"csv": write_csv(report, out / f"{as_of.isoformat()}.csv"),
             "html": write_text(page, out / f"{as_of.isoformat()}.html")}
    return report, paths, meta


@dataclass
class MonitorOutcome:
    """What ``monitor`` produced: the evaluation (None when no scoring date has matured),
    the files it wrote, the model it reports on and the MLflow run it logged."""

    live: object | None
    paths: dict[str, Path]
    model: dict[str, str]
    scored_dates: list[dt.date]
    window_days: int
    run_id: str = ""


def monitor(config: Config, dataset: Dataset, as_of: dt.date) -> MonitorOutcome:
    """Live accuracy as of ``as_of``: the score history joined with the outcomes that have
    matured (same label definition as training), compared with the validation report; writes
    ``<workdir>/monitor/DATE.html``, ``DATE.csv`` and ``DATE-accounts.csv`` and logs the
    figures to MLflow (a ``monitor`` run and tags on the model version)."""
    from healthscore import tracking
    from healthscore.errors import ParameterError
    from healthscore.features.snapshots import churn_definition
    from healthscore.io import write_csv, write_text
    from healthscore.serving import monitor as mon
    from healthscore.serving.history import open_history
    from healthscore.serving.monitor_page import render_monitor

    latest = dataset.end_date + dt.timedelta(days=1)
    if as_of > latest:
        raise ParameterError("--as-of", f"a date on or before {latest} (the data runs to "
                             f"{dataset.end_date}; outcomes after it are unknown)",
                             as_of.isoformat())
    tracking.configure(config.training.tracking, config.workdir / "mlartifacts", create=False)
    history = open_history(config.scoring.history, config.workdir)
    scored = history.read(until=as_of - dt.timedelta(days=1))
    features = config.features
    grace = features.churn.grace_days if churn_definition(features, dataset) == "contract" else 0
    window = mon.label_window_days(features.horizon_days, grace)
    all_dates = sorted(set(scored["as_of"]))
    dates = mon.matured_dates(all_dates, as_of, window)
    waiting = [d for d in all_dates if d not in dates]
    if not dates:
        return MonitorOutcome(None, {}, {}, all_dates, window)
    rows = scored[scored["as_of"].isin(dates)]
    live_rows = mon.join_outcomes(rows, outcomes_on(config, dataset, dates))
    newest = live_rows[live_rows["as_of"] == max(live_rows["as_of"])]
    model = {key: str(newest[column].iat[0]) for key, column in
             (("name", "model_name"), ("version", "model_version"), ("run_id", "run_id"))}
    promise = validation_promise(model["run_id"], model["version"])
    bands = scoring_bands(model["run_id"], config)
    m = config.monitoring
    thresholds = mon.Thresholds(m.min_recall, m.recall_tolerance, m.max_calibration_ratio,
                                m.recent_dates)
    reasons = driver_sentences(config, dates)
    live = mon.evaluate_live(live_rows, as_of, config.training.at_risk_threshold, bands,
                             thresholds, promise, m.bootstrap, config.seed, reasons, waiting)
    out = config.workdir / "monitor"
    day = as_of.isoformat()
    page = render_monitor(live, model, features.horizon_days, m.listed)
    paths = {"html": write_text(page, out / f"{day}.html"),
             "csv": write_csv(mon.csv_table(live), out / f"{day}.csv"),
             "accounts_csv": write_csv(mon.accounts_csv(live), out / f"{day}-accounts.csv")}
    run_id = log_monitoring(live, model, page)
    return MonitorOutcome(live, paths, model, all_dates, window, run_id)


def outcomes_on(config: Config, dataset: Dataset, dates: list[dt.date]) -> pd.DataFrame:
    """account_id, as_of, churned, observed per active account on each date: the spine's
    label (the definition training uses)."""
    from healthscore.features.snapshots import build_spine

    build_spine(dataset, config.features, dates)
    frame = dataset.con.execute(
        "SELECT CAST(account_id AS VARCHAR) AS account_id, snapshot_date AS as_of, "
        "label_churn AS churned, label_observed AS observed FROM spine").df()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame


def scoring_bands(run_id: str, config: Config) -> list:
    """The bands of the model that scored (frozen into it at training, so a later change of
    ``training.bands`` does not re-band its history); the configured bands, or the defaults
    for ``bands: auto``, when its run cannot be read (logged)."""
    from healthscore import tracking
    from healthscore.errors import ModelError
    from healthscore.model.bands import DEFAULT_BANDS
    from healthscore.training.train import bands_of

    if run_id:
        try:
            return list(tracking.load_health_model(f"runs:/{run_id}/model").health_bands)
        except ModelError as exc:
            log.warning("bands of the scoring model unknown, using the configured ones: %s",
                        exc)
    return list(DEFAULT_BANDS) if config.training.bands == "auto" else bands_of(
        config.training)


def validation_promise(run_id: str, version: str):
    """What the scoring model's validation run promised, or None (logged) without a run."""
    from healthscore import tracking
    from healthscore.errors import ModelError
    from healthscore.serving.monitor import Promise, promised_bands

    if not run_id:
        return None
    try:
        metrics = tracking.run_metrics(run_id)
    except ModelError as exc:
        log.warning("no validation figures to compare with: %s", exc)
        return None
    table = tracking.run_table(run_id, "tables/band_table.csv")
    bands = promised_bands(table) if table is not None else pd.DataFrame(
        columns=["band", "accounts", "churners", "churn_rate", "low", "high"])
    return Promise(run_id, version, metrics, bands)


def driver_sentences(config: Config, dates: list[dt.date]) -> pd.DataFrame | None:
    """The risk sentences of the score files still on disk (as_of, account_id, drivers, and
    the accounts' name and owner when the files have them)."""
    import pyarrow.parquet as pq

    out = config.scoring.output_dir or config.workdir / "scores"
    frames = []
    for day in dates:
        path = out / f"{day.isoformat()}.parquet"
        if not path.exists():
            continue
        cols = ["account_id"] + [f"risk_{k}_{part}" for k in (1, 2, 3)
                                 for part in ("reason", "points")]
        try:
            labels = [c for c in ("name", "owner") if c in pq.read_schema(path).names]
            frame = pd.read_parquet(path, columns=cols + labels)
        except (KeyError, ValueError, OSError) as exc:
            log.warning("score file %s: driver sentences not read (%s)", path, exc)
            continue
        texts = []
        for row in frame.itertuples(index=False):
            parts = [f"{getattr(row, f'risk_{k}_reason')} "
                     f"({_signed(getattr(row, f'risk_{k}_points'))} pts)"
                     for k in (1, 2, 3) if getattr(row, f"risk_{k}_reason")]
            texts.append("; ".join(parts))
        frames.append(pd.DataFrame({"as_of": day, "account_id": frame["account_id"].astype(
            "string").astype(object), "drivers": texts}
            | {c: frame[c].astype("string").fillna("").astype(object).to_numpy()
               for c in labels}))
    return pd.concat(frames, ignore_index=True) if frames else None


def _signed(points: float) -> str:
    return f"{points:+.1f}".replace("-", "−")


def log_monitoring(live, model: dict[str, str], page: str) -> str:
    """Log the live figures as a ``monitor`` run (tagged with the model) and as tags on the
    model version; returns the run id."""
    from healthscore import tracking
    from healthscore.serving.monitor import csv_table, summary_metrics

    tags = {tracking.TAG_KIND: "monitor", "healthscore.model_name": model["name"],
            "healthscore.model_version": model["version"], "healthscore.model_run": model["run_id"],
            "healthscore.monitor_as_of": live.as_of.isoformat(),
            "healthscore.monitor_checks": "; ".join(f"{c.name}: {c.status}"
                                                    for c in live.checks)}
    with tracking.start_run(f"monitor-{live.as_of.isoformat()}", tags):
        run_id = tracking.active_run_id()
        tracking.log_metrics(summary_metrics(live))
        for metric in ("recall", "tnr", "precision", "accuracy", "observed_over_expected"):
            tracking.log_metric_steps(f"live_by_date_{metric}", live.per_date[metric].tolist())
        tracking.log_artifacts({"monitor.html": page,
                                "tables/live_accuracy.csv": csv_table(live).to_csv(index=False)})
    if model["name"] and model["version"]:
        cum = live.cumulative.set_index("metric")
        tracking.tag_version(model["name"], model["version"], {
            "healthscore.live_as_of": live.as_of.isoformat(),
            "healthscore.live_recall": _with_interval(cum.loc["recall"]),
            "healthscore.live_tnr": _with_interval(cum.loc["tnr"]),
            "healthscore.live_accuracy": _with_interval(cum.loc["accuracy"]),
            "healthscore.live_checks": tags["healthscore.monitor_checks"],
            "healthscore.monitor_run": run_id})
    return run_id


def _with_interval(row) -> str:
    import math

    if not math.isfinite(row["value"]):
        return "n/a"
    if not (math.isfinite(row["low"]) and math.isfinite(row["high"])):
        return f"{row['value']:.3f}"
    return f"{row['value']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"

# ------------------------------------------------------------------ bring-your-own features


@dataclass(frozen=True)
class FeatureTableInfo:
    """What training keeps of a feature table besides its rows: the id column's own name
    and the column typing report."""

    id_column: str
    report: pd.DataFrame


def read_feature_table(config: Config, path: Path, id_column: str, label_column: str,
                       date_column: str | None, positive_label: str | None = None,
                       metadata_path: Path | None = None):
    """Read, type and describe a feature table for training (see training.feature_table).

    Returns (PreparedTable, fingerprint of the file, FeatureTableInfo).
    """
    from healthscore.data.loaders import fingerprint_sources
    from healthscore.data.settings import TableSource
    from healthscore.training.feature_table import (
        prepare_feature_table,
        read_feature_metadata,
        read_table,
    )

    metadata = read_feature_metadata(metadata_path) if metadata_path else None
    table = prepare_feature_table(
        read_table(path), id_column, label_column, date_column, str(path),
        config.features.directions, positive_label=positive_label or
        config.training.positive_label, metadata=metadata)
    for note in table.warnings:
        log.info("%s: column %s %s: %s", path, note.column, note.action, note.reason)
    return (table, fingerprint_sources({"features": TableSource(path=path)}),
            FeatureTableInfo(id_column, table.report()))


def feature_table_rows(path: Path, id_column: str, date_column: str | None,
                       as_of: dt.date | None) -> tuple[pd.DataFrame, dt.date]:
    """The rows of a feature table to score or check for drift, in the pipeline's names:
    those dated ``as_of`` (default the newest date) with a date column, else every row
    (``as_of`` default today). Returns (rows, as-of date)."""
    from healthscore.errors import ParameterError
    from healthscore.training.feature_table import (
        FeatureTableError,
        missing_columns_message,
        read_table,
    )

    frame = read_table(path)
    source = str(path)
    missing = [c for c in (id_column, date_column) if c and c not in frame.columns]
    if missing:
        raise FeatureTableError(source, missing_columns_message(frame, missing),
                                "Name them with --id-column and --date-column.")
    rows = frame.rename(columns={id_column: "account_id"})
    if date_column:
        dates = pd.to_datetime(rows.pop(date_column), errors="coerce").dt.date
        day = as_of or max(d for d in dates if d is not None and d == d)
        rows = rows[(dates == day).to_numpy()]
        if rows.empty:
            raise ParameterError("--as-of", f"a date of column {date_column!r} "
                                 f"({min(dates.dropna())} .. {max(dates.dropna())})",
                                 day.isoformat())
    else:
        day = as_of or dt.date.today()
    duplicated = rows["account_id"].duplicated()
    if duplicated.any():
        raise FeatureTableError(source, f"{int(duplicated.sum()):,} id(s) of column "
                                f"{id_column!r} appear more than once"
                                + (f" on {day}" if date_column else "") + ", e.g. "
                                f"{rows.loc[duplicated, 'account_id'].head(3).tolist()}",
                                "A table with one row per customer and date needs "
                                "--date-column.")
    if "arr" not in rows.columns:
        rows = rows.assign(arr=float("nan"))
    return rows.reset_index(drop=True), day


def score_feature_table(config: Config, path: Path, id_column: str, date_column: str | None,
                        as_of: dt.date | None, model_uri: str | None = None,
                        shadow_uri: str | None = None, progress: Progress | None = None):
    """Score a feature table's rows as of a date with the registered model: the same files,
    history, trends and alerts as :func:`score` (see serving.batch)."""
    from healthscore import tracking
    from healthscore.serving.batch import config_hash, score_rows

    tracking.configure(config.training.tracking, config.workdir / "mlartifacts", create=False)
    rows, day = feature_table_rows(path, id_column, date_column, as_of)
    return score_rows(lambda: rows, config_hash(config.scoring), config.scoring,
                      config.workdir, day, model_uri, shadow_uri, progress)
