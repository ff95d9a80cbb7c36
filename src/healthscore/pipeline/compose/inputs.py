"""Inputs of every command: the synthetic world, the validated data, the feature matrix and
bring-your-own feature tables."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore.data.dataset import Dataset, open_dataset
from healthscore.data.settings import DataConfig
from healthscore.features.engine import FeatureMatrix, build_feature_matrix, per_type_cutoff
from healthscore.features.snapshots import data_start, snapshot_dates
from healthscore.pipeline.compose.workspace import data_dir
from healthscore.pipeline.config import Config
from healthscore.progress import Progress
from healthscore.training.sample import RowSample

log = logging.getLogger(__name__)

MANIFEST = "world.json"


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


def open_data(config: Config, reuse_checks: bool = False) -> Dataset:
    """Load and validate the configured input tables. With ``features.engine: spark`` Spark
    reads the Delta and catalog tables and checks the contract.

    The data fingerprint is cached in ``<workdir>/cache`` when the work dir exists (files
    unchanged since: not read again); ``reuse_checks``: data that passed the contract checks
    unchanged is not checked again (scoring and monitoring; ``validate`` and training always
    check)."""
    data = resolved_data_config(config)
    if any(s.read_by_spark for s in data.tables.values()) or config.features.engine == "spark":
        from functools import partial

        from healthscore.features.spark_data import (
            check_spark_sources,
            spark_violations,
            stage_spark_sources,
        )

        check_spark_sources(data, config.features.engine)
        settings = config.features.spark
        return open_dataset(stage_spark_sources(data, settings),
                            check=partial(spark_violations, settings=settings))
    cache = config.workdir / "cache" if config.workdir.is_dir() else None  # none made here
    return open_dataset(data, cache_dir=cache, reuse_checks=reuse_checks)


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


@dataclass(frozen=True)
class BuiltMatrix:
    """A feature matrix built (or read from the cache), the seconds that took and the Parquet
    file it was written to."""

    matrix: FeatureMatrix
    seconds: float
    path: Path


def write_features(config: Config, dataset: Dataset, out: Path | None = None,
                   progress: Progress | None = None) -> BuiltMatrix:
    """Build the training-schedule matrix and write it: one Parquet file (default
    ``<workdir>/features.parquet``) or, with ``features.matrix_layout: partitioned``, a folder
    partitioned by snapshot date (default ``<workdir>/features/``)."""
    from healthscore.io import copy_file, write_parquet, write_partitioned_parquet

    started = time.perf_counter()
    matrix = build_features(config, dataset, progress)
    seconds = time.perf_counter() - started
    if config.features.partitioned_matrix():
        out = out or config.workdir / "features"
        write_partitioned_parquet(matrix.frame, out, "snapshot_date")
    elif matrix.cache_path is not None and matrix.cache_path.exists():
        # the cache file holds this frame already: copied, not encoded again (at 100k
        # accounts x 24 months a second encoding of 1.57M rows took GBs and seconds)
        out = copy_file(matrix.cache_path, out or config.workdir / "features.parquet")
    else:
        out = out or config.workdir / "features.parquet"
        write_parquet(matrix.frame, out)
    return BuiltMatrix(matrix, seconds, out)


# ------------------------------------------------------------------ bring-your-own features


@dataclass(frozen=True)
class FeatureTableInfo:
    """What training keeps of a feature table besides its rows: the id column's own name
    and the column typing report."""

    id_column: str
    report: pd.DataFrame
    sample: RowSample | None = None  # the rows kept under training.max_rows, if it applied


def read_feature_table(config: Config, path: Path, id_column: str, label_column: str,
                       date_column: str | None, positive_label: str | None = None,
                       metadata_path: Path | None = None):
    """Read, type and describe a feature table for training (see training.feature_table).

    Returns (PreparedTable, fingerprint of the file, FeatureTableInfo).
    """
    from healthscore.data.loaders import fingerprint_sources
    from healthscore.data.settings import TableSource
    from healthscore.training.feature_table import prepare_feature_table, read_feature_metadata
    from healthscore.training.sample import read_capped

    metadata = read_feature_metadata(metadata_path) if metadata_path else None
    frame, sample = read_capped(path, config.training.max_rows, config.seed,
                                [c for c in (date_column, "label_observed", label_column) if c])
    table = prepare_feature_table(
        frame, id_column, label_column, date_column, str(path),
        config.features.directions, positive_label=positive_label or
        config.training.positive_label, metadata=metadata)
    for note in table.warnings:
        log.info("%s: column %s %s: %s", path, note.column, note.action, note.reason)
    return (table, fingerprint_sources({"features": TableSource(path=path)}),
            FeatureTableInfo(id_column, table.report(), sample))


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
