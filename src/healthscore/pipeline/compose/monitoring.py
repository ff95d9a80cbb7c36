"""The ``monitor`` command: live accuracy from the score history and the outcomes that have
matured, beside what the model's validation run promised; logged to MLflow."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore.data.dataset import Dataset
from healthscore.pipeline.compose.workspace import use_tracking
from healthscore.pipeline.config import Config

log = logging.getLogger(__name__)


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
    use_tracking(config)
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
    thresholds = mon.Thresholds(m.min_recall, m.recall_tolerance, m.recall_share,
                                m.max_calibration_ratio, m.recent_dates)
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
