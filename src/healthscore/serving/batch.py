"""Batch scoring as of a date: features for every active account, scores, drivers, trends,
alerts, files and the score history, all or nothing.

Safe for cron: no prompts; re-running a date replaces that date's outputs and history rows; a
run that fails leaves the previous outputs intact (files are written to temporary siblings and
renamed only after the history transaction has committed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from healthscore import tracking
from healthscore.data.dataset import Dataset
from healthscore.errors import ParameterError
from healthscore.features.engine import build_feature_matrix
from healthscore.features.settings import FeatureConfig, SparkSettings
from healthscore.io import TEMP_MARK, atomic_path, sweep_stale_temps, writable_dir
from healthscore.model.artifact import FeatureMeta, HealthModel
from healthscore.progress import Progress
from healthscore.serving.drift import check_drift
from healthscore.serving.history import PRIMARY, SHADOW, open_history
from healthscore.serving.portfolio import crm_export, render_portfolio
from healthscore.serving.scorer import check_hard_stops, read_overrides, score_accounts
from healthscore.serving.settings import ScoringConfig
from healthscore.serving.trends import history_since, trends_and_alerts

log = logging.getLogger(__name__)


@dataclass
class ScoringResult:
    """What a scoring run produced."""

    as_of: dt.date
    scores: pd.DataFrame
    model: dict[str, str]
    paths: dict[str, Path]
    seconds: dict[str, float] = field(default_factory=dict)
    shadow: pd.DataFrame | None = None
    history: str = ""
    band_order: list[str] = field(default_factory=list)  # the model's bands, lowest first


def config_hash(*sections) -> str:
    """Short hash of the config sections that shape the scores (where scoring runs,
    ``scoring.engine``, does not: the scores are equal)."""
    digest = hashlib.blake2b(digest_size=8)
    for section in sections:
        exclude = {"engine"} if isinstance(section, ScoringConfig) else None
        digest.update(section.model_dump_json(exclude=exclude).encode())
    return digest.hexdigest()


def check_as_of(as_of: dt.date, dataset: Dataset) -> None:
    """A score as of a date needs data up to the day before it, and some data before it."""
    latest = dataset.end_date + dt.timedelta(days=1)
    first = dataset.con.execute("SELECT min(start_date) FROM subscriptions").fetchone()[0]
    if as_of > latest or (first is not None and as_of <= first):
        raise ParameterError("--as-of", f"a date after {first} and on or before {latest} (the "
                             f"data runs {first} .. {dataset.end_date}; features use data "
                             "before the scoring date)", as_of.isoformat())


@dataclass
class _Scored:
    scores: pd.DataFrame
    model: HealthModel
    meta: dict[str, str]
    features: pd.DataFrame


def reason_labels(features: Sequence[FeatureMeta]) -> dict[str, str]:
    """Each feature's description for the alert reasons; a description several features
    share (a template's per-event-type features) gets its feature's suffix, so the reasons
    tell them apart ("Usage events of one event type ... (export_all_data)")."""
    texts = [m.description.rstrip(".") for m in features]
    shared = {t for t in texts if texts.count(t) > 1}
    return {m.name: f"{t} ({m.name.split('__', 1)[-1]})" if t in shared else t
            for m, t in zip(features, texts, strict=True)}


def account_labels(dataset: Dataset) -> pd.DataFrame:
    """account_id, name and owner of every account (empty text where unknown)."""
    frame = dataset.con.execute("SELECT account_id, name, owner FROM accounts").df()
    for column in ("name", "owner"):
        frame[column] = frame[column].astype("string").fillna("").astype(object)
    return frame


def with_account_labels(scores: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with the accounts' name and owner after ``account_id`` (same row order)."""
    keyed = labels.set_index(labels["account_id"].astype(str))
    ids = scores["account_id"].astype(str)
    out = scores.drop(columns=[c for c in ("name", "owner") if c in scores])
    at = out.columns.get_loc("account_id") + 1
    for offset, column in enumerate(("name", "owner")):
        values = keyed[column].reindex(ids).fillna("").to_numpy(object)
        out.insert(at + offset, column, values)
    return out


def features_as_of(dataset: Dataset, features: FeatureConfig, as_of: dt.date,
                   cache_dir: Path | None) -> pd.DataFrame:
    """The feature rows of every account active at ``as_of`` (one snapshot)."""
    frame = build_feature_matrix(dataset, features, dates=[as_of], cache_dir=cache_dir).frame
    if frame.empty:
        raise ParameterError("--as-of", "a date on which some account is active",
                             as_of.isoformat())
    return frame


def load_model(model_uri: str, seconds: dict[str, float], role: str = PRIMARY,
               ) -> tuple[HealthModel, dict[str, str]]:
    """The health model behind ``model_uri`` and its registry description."""
    started = time.perf_counter()
    model = tracking.load_health_model(model_uri)
    meta = tracking.describe_model(model_uri)
    seconds["load_model" + _suffix(role)] = time.perf_counter() - started
    return model, meta | {"horizon_days": str(model.horizon_days)}


def _suffix(role: str) -> str:
    return "" if role == PRIMARY else f" ({role})"


def score_with(model: HealthModel, meta: dict[str, str], frame: pd.DataFrame,
               scoring: ScoringConfig, as_of: dt.date, overrides: pd.DataFrame | None,
               hash_: str, seconds: dict[str, float], progress: Progress | None = None,
               role: str = PRIMARY, spark: SparkSettings | None = None,
               target: Path | None = None) -> _Scored:
    """Score the feature rows of ``as_of`` with one model (timings added to ``seconds``).

    ``spark``: score on Spark (the session these settings describe, or the active one), the
    executors writing the scores as Parquet to the directory ``target``."""
    suffix = _suffix(role)
    started = time.perf_counter()
    if spark is not None:
        from healthscore.serving.spark import score_on_spark

        if target is None:
            raise ValueError("scoring on Spark needs the directory its executors write to")
        scores = score_on_spark(model, frame, scoring, as_of, target, overrides,
                                settings=spark)
    else:
        scores = score_accounts(model, frame, scoring, as_of, overrides)
    seconds["score_and_explain" + suffix] = time.perf_counter() - started
    _step(progress, "score and explain" + suffix)
    scores["model_name"] = meta["name"]
    scores["model_version"] = meta["version"]
    scores["run_id"] = meta["run_id"]
    scores["config_hash"] = hash_
    scores["scored_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
    return _Scored(scores, model, meta, frame)


_STEPS = ("load model", "features", "score and explain", "trends", "write")


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None and name in _STEPS:
        progress(f"score: {name}", _STEPS.index(name) + 1, len(_STEPS))


def run_batch(dataset: Dataset, features: FeatureConfig, scoring: ScoringConfig, workdir: Path,
              as_of: dt.date, model_uri: str | None = None, shadow_uri: str | None = None,
              progress: Progress | None = None, spark: SparkSettings | None = None,
              ) -> ScoringResult:
    """Score as of ``as_of``, add trends and alerts, write files and history atomically.

    Files: ``<out>/DATE.parquet`` (every column), ``DATE.csv`` (CRM import), ``DATE.html``
    (portfolio report) and with a shadow model ``DATE.shadow.parquet``; scored on Spark
    (``spark`` given) also ``DATE.spark``, the executors' Parquet directory. They are staged
    beside their targets, the history transaction commits, then they are renamed into place:
    a failure at any step leaves the previous outputs and history as they were.
    """
    check_as_of(as_of, dataset)
    return score_rows(lambda: features_as_of(dataset, features, as_of, workdir / "cache"),
                      config_hash(features, scoring), scoring, workdir, as_of, model_uri,
                      shadow_uri, progress, account_labels(dataset), spark)


def score_rows(rows_of: Callable[[], pd.DataFrame], hash_: str, scoring: ScoringConfig,
               workdir: Path, as_of: dt.date, model_uri: str | None = None,
               shadow_uri: str | None = None, progress: Progress | None = None,
               accounts: pd.DataFrame | None = None, spark: SparkSettings | None = None,
               ) -> ScoringResult:
    """Score the feature rows ``rows_of()`` returns (one per account, as of ``as_of``): the
    scoring run of :func:`run_batch` for rows from anywhere (a feature table too). ``accounts``
    (account_id, name, owner) adds the accounts' names and owners; ``spark`` scores on Spark
    (see :mod:`healthscore.serving.spark`)."""
    with contextlib.ExitStack() as staging:
        return _score_rows(rows_of, hash_, scoring, workdir, as_of, model_uri, shadow_uri,
                           progress, accounts, spark, staging)


def _spark_staging(out: Path, day: str, stack: contextlib.ExitStack) -> Path:
    """A folder beside the outputs for the executors' Parquet (removed when the run ends;
    one a killed run left is swept by the next)."""
    folder = Path(tempfile.mkdtemp(prefix=f".{day}.spark.{TEMP_MARK}{os.getpid()}.", dir=out))
    stack.callback(shutil.rmtree, folder, True)
    return folder


def _score_rows(rows_of: Callable[[], pd.DataFrame], hash_: str, scoring: ScoringConfig,
                workdir: Path, as_of: dt.date, model_uri: str | None,
                shadow_uri: str | None, progress: Progress | None,
                accounts: pd.DataFrame | None, spark: SparkSettings | None,
                staging: contextlib.ExitStack) -> ScoringResult:
    out = scoring.output_dir or workdir / "scores"
    writable_dir(workdir, "workdir")
    writable_dir(out, "scoring.output_dir" if scoring.output_dir else "workdir")
    sweep_stale_temps(out)  # what killed runs left
    history = open_history(scoring.history, workdir)
    history.check()  # a bad URL or a database that is down fails before any work
    overrides = read_overrides(scoring.overrides) if scoring.overrides else None
    seconds: dict[str, float] = {}
    model, meta = load_model(model_uri or scoring.model, seconds)
    check_hard_stops(scoring.hard_stops, model.feature_names)
    _step(progress, "load model")
    started = time.perf_counter()
    frame = rows_of()
    seconds["features"] = time.perf_counter() - started
    _step(progress, "features")
    day = as_of.isoformat()
    written = _spark_staging(out, day, staging) if spark is not None else None
    primary = score_with(model, meta, frame, scoring, as_of, overrides, hash_, seconds,
                         progress, spark=spark,
                         target=written / PRIMARY if written is not None else None)
    if accounts is not None:
        primary.scores = with_account_labels(primary.scores, accounts)
    started = time.perf_counter()
    check_drift(primary.model, primary.features, scoring.drift,
                health=primary.scores["model_health"].to_numpy(float))
    seconds["drift_check"] = time.perf_counter() - started
    started = time.perf_counter()
    since = history_since(history.dates(), as_of, scoring.alerts)
    past = history.read(since=since or as_of, until=as_of - dt.timedelta(days=1))
    seconds["history_read"] = time.perf_counter() - started
    started = time.perf_counter()
    band_order = [b.name for b in primary.model.health_bands]
    labels = reason_labels(primary.model.features)
    trend = trends_and_alerts(primary.scores, past, as_of, scoring.alerts, band_order, labels)
    scores = pd.concat([primary.scores, trend.drop(columns="account_id")], axis=1)
    seconds["trends"] = time.perf_counter() - started
    _step(progress, "trends")
    shadow = None
    if shadow_uri:
        # the same feature rows: both models see the accounts exactly alike
        shadow_model, shadow_meta = load_model(shadow_uri, seconds, SHADOW)
        shadow = score_with(shadow_model, shadow_meta, frame, scoring, as_of, overrides, hash_,
                            seconds, role=SHADOW, spark=spark,
                            target=written / SHADOW if written is not None else None).scores
    paths = {"scores": out / f"{day}.parquet", "crm_csv": out / f"{day}.csv",
             "report": out / f"{day}.html"}
    if shadow is not None:
        paths["shadow"] = out / f"{day}.shadow.parquet"
    if written is not None:
        paths["spark_scores"] = out / f"{day}.spark"
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(path)) for name, path in paths.items()}
        if written is not None:  # the executors' Parquet directory, renamed with the files
            os.replace(written / PRIMARY, tmp["spark_scores"])
        scores.to_parquet(tmp["scores"], index=False)
        crm_export(scores).to_csv(tmp["crm_csv"], index=False)
        seconds["write_files"] = time.perf_counter() - started
        started = time.perf_counter()
        tmp["report"].write_text(render_portfolio(scores, as_of, band_order, primary.meta))
        seconds["portfolio_page"] = time.perf_counter() - started
        started = time.perf_counter()
        if shadow is not None:
            shadow.to_parquet(tmp["shadow"], index=False)
        history.replace(as_of, {PRIMARY: scores} | ({SHADOW: shadow} if shadow is not None
                                                     else {}))
    seconds["history_write"] = time.perf_counter() - started
    _step(progress, "write")
    log.info("scored %d accounts as of %s with %s v%s", len(scores), as_of,
             primary.meta["name"], primary.meta["version"])
    return ScoringResult(as_of, scores, primary.meta, paths, seconds, shadow, history.location,
                         band_order)
