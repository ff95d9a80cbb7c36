"""The Spark engine (``features.engine: spark``): the same declarations, run on a Spark session.

The spine, the labels and every SQL family are rendered by
:class:`~healthscore.features.sql.spark.SparkRenderer` and run through
:class:`SparkConnection`, which gives a Spark session the few calls of a DuckDB connection the
build makes (``execute``, ``sql(...).df()``, ``fetchall``). The metrics family runs its
compiled kernel (:func:`healthscore.features.metrics.rows_features`) per group of accounts
inside Spark (``cogroup(...).applyInPandas``). What stays with the validated DuckDB dataset is
small: which families and template columns exist, the snapshot schedule.

Contract tables reach Spark as temp views named after them, DATE columns as day numbers
(``unix_date``; see :mod:`healthscore.features.sql.spark`), from the validated DuckDB views
staged as Parquet (the data layer reads every source as for DuckDB, Delta and catalog tables
once Spark has staged them; the contract is checked in Spark: see
:mod:`healthscore.features.spark_data`). pyspark is imported
here only, when a Spark build starts (``pip install healthscore[spark]``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from healthscore.data.dataset import Dataset
from healthscore.data.schema import TABLES
from healthscore.data.schema import Kind as ColumnKind
from healthscore.errors import ConfigError
from healthscore.features.families import FAMILIES, METRICS_FAMILY
from healthscore.features.metrics import column_map, rows_features
from healthscore.features.registry import FeatureSpec
from healthscore.features.settings import FeatureConfig, MetricFeatures, SparkSettings
from healthscore.features.snapshots import SPINE, build_spine
from healthscore.features.sql.spark import SparkRenderer, day_number
from healthscore.progress import Progress
from healthscore.sql import identifier, literal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DEFAULT_CONF = {
    "spark.sql.ansi.enabled": "false",  # a failed cast or x / 0 is NULL, as in DuckDB
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",  # the CLI draws its own progress
}
METRIC_BUCKETS = 64  # account groups the metrics kernel runs on (one pandas call each)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_CACHE = re.compile(r"^\s*CACHE TABLE (\w+) AS ", re.IGNORECASE)
_DROP = re.compile(r"^\s*DROP (?:TABLE|VIEW) IF EXISTS (\w+)", re.IGNORECASE)


def spark_session(settings: SparkSettings | None = None) -> SparkSession:
    """The active Spark session (spark-submit, Databricks, a notebook), else a new one from
    ``settings`` (master, app name, conf). A missing pyspark is one ConfigError."""
    settings = settings or SparkSettings()
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("features.engine", [
            f"features.engine: spark needs pyspark, which is not installed ({exc}); "
            "install it with `pip install healthscore[spark]` (and a Java 17+ runtime) or "
            "set `engine: duckdb`"]) from None
    active = SparkSession.getActiveSession()
    conf = {**DEFAULT_CONF, **settings.conf}
    if active is not None:
        for key, value in conf.items():
            if key not in settings.conf and key != "spark.ui.showConsoleProgress":
                active.conf.set(key, value)
        return active
    if settings.master.startswith("local"):  # local workers run this interpreter (pyspark
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # reads only the variable)
    builder = SparkSession.builder.master(settings.master).appName(settings.app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class _Rows:
    """The result of :meth:`SparkConnection.execute`: rows fetched on demand."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def fetchall(self) -> list[tuple]:
        """Every row, as tuples."""
        return [tuple(row) for row in self.frame.collect()] if self.frame is not None else []

    def fetchone(self) -> tuple | None:
        """The first row, or None."""
        rows = self.frame.take(1) if self.frame is not None else []
        return tuple(rows[0]) if rows else None

    def df(self) -> pd.DataFrame:
        """Every row as a pandas DataFrame (through Arrow)."""
        return self.frame.toPandas()


class SparkConnection:
    """A Spark session behind the connection calls the feature build makes.

    ``$name`` parameters become Spark's ``:name`` (a date as its day number); a
    ``CACHE TABLE x AS select`` (a build's temp table) is computed at once and registered
    as the temp view ``x`` with its lineage cut (``localCheckpoint``), so that it neither
    recomputes nor breaks when the views it read are dropped."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.tables: dict[str, Any] = {}  # name -> the materialised DataFrame behind the view

    def _release(self, name: str) -> None:
        table = self.tables.pop(name, None)
        if table is not None:
            table.unpersist()

    def close(self) -> None:
        """Free every table this connection materialised (their views are left dangling)."""
        for name in list(self.tables):
            self._release(name)

    def execute(self, sql: str, params: dict[str, object] | None = None) -> _Rows:
        """Run one statement; its rows are read from the returned object."""
        args = None
        if params:
            args = {k: day_number(v) if isinstance(v, dt.date) else v
                    for k, v in params.items()}
            sql = _PARAM.sub(r":\1", sql)
        cached = _CACHE.match(sql)
        if cached:  # computed now and cut from the views it reads (they may be dropped next)
            name = cached.group(1)
            table = self.spark.sql(sql[cached.end():], args=args).localCheckpoint(eager=True)
            self._release(name)
            table.createOrReplaceTempView(name)
            self.tables[name] = table
            return _Rows(None)
        dropped = _DROP.match(sql)
        if dropped:
            self._release(dropped.group(1))
        frame = self.spark.sql(sql, args=args)
        return _Rows(None if dropped else frame)

    def sql(self, sql: str, params: dict[str, object] | None = None) -> _Rows:
        """A query whose result is read with ``.df()``."""
        return self.execute(sql, params)


def _as_day_numbers(table: str, columns: list[str]) -> str:
    """The DuckDB select list handing ``table`` to Spark: DATE columns as day numbers."""
    spec = TABLES[table]
    out = []
    for name in columns:
        quoted = identifier(name)
        if name in spec.column_names and spec.column(name).kind is ColumnKind.DATE:
            out.append(f"CAST({quoted} - DATE '1970-01-01' AS INTEGER) AS {quoted}")
        else:
            out.append(quoted)
    return ", ".join(out)


def stage_view(con: Any, select: str, path: Path, spark: SparkSession, view: str) -> None:
    """Write DuckDB's ``select`` to Parquet at ``path`` (a place every Spark worker can read)
    and register it in Spark as the temp view ``view``: how a relation reaches Spark without
    passing through the driver's memory."""
    con.execute(f"COPY ({select}) TO {literal(str(path))} (FORMAT parquet)")
    spark.read.parquet(str(path)).createOrReplaceTempView(view)


def register_tables(spark: SparkSession, dataset: Dataset, staging: Path) -> None:
    """Register every contract table of ``dataset`` (an absent optional one empty) as a Spark
    temp view of its name, DATE columns as day numbers: DuckDB writes the validated view to
    Parquet under ``staging`` (a directory every Spark worker can read) and Spark reads it,
    so no table passes through the driver's memory."""
    for table in TABLES:
        columns = list(dataset.con.sql(f"SELECT * FROM {identifier(table)} LIMIT 0").columns)
        path = staging / f"{table}.parquet"
        stage_view(dataset.con,
                   f"SELECT {_as_day_numbers(table, columns)} FROM {identifier(table)}",
                   path, spark, table)
        log.info("spark: table %s staged at %s", table, path)


def spark_dataset(dataset: Dataset, staging: Path, settings: SparkSettings | None = None,
                  spark: SparkSession | None = None) -> Dataset:
    """``dataset``'s tables registered in Spark (staged as Parquet under ``staging``), as a
    Dataset whose connection is Spark."""
    spark = spark or spark_session(settings)
    register_tables(spark, dataset, staging)
    return Dataset(con=SparkConnection(spark),  # type: ignore[arg-type]
                   tables=dataset.tables, end_date=dataset.end_date,
                   fingerprint=dataset.fingerprint)


def spark_features(dataset: Dataset, config: FeatureConfig, dates: list[dt.date],
                   specs: list[FeatureSpec], progress: Progress | None = None,
                   spark: SparkSession | None = None) -> pd.DataFrame:
    """The matrix frame of :func:`~healthscore.features.engine.compute_features`, computed
    in Spark: the spine and labels, every family, the metrics kernel."""
    from healthscore.features.engine import compute_features

    render = SparkRenderer()
    root = config.spark.staging_dir
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="healthscore-spark-", dir=root) as staging:
        on_spark = spark_dataset(dataset, Path(staging), config.spark, spark)
        try:
            build_spine(on_spark, config, dates, render)
            # a table per family (materialised, timed): the matrix query then joins tables
            return compute_features(on_spark, specs, progress, config.metrics, render=render,
                                    materialise=True)
        finally:
            on_spark.con.close()  # the spine and the other materialised tables


@dataclass(frozen=True)
class _MetricsJob:
    """What every account group's kernel call needs (shipped to the Spark workers)."""

    snapshot_days: np.ndarray
    colmap: np.ndarray
    names: list[str]
    stale_after_days: int

    def run(self, spine: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
        """The features of one group's spine rows from the group's measurements."""
        accounts = np.unique(spine["account_id"].to_numpy())
        index = np.searchsorted(accounts, spine["account_id"].to_numpy())
        rows = rows[rows["account_id"].isin(accounts)]
        series = (np.searchsorted(accounts, rows["account_id"].to_numpy()) * len(self.colmap)
                  + rows["code"].to_numpy())
        out = rows_features(index, spine["day"].to_numpy(), series, rows["day"].to_numpy(),
                            rows["value"].to_numpy(), len(accounts), self.snapshot_days,
                            self.colmap, self.stale_after_days)
        frame = pd.DataFrame(out, columns=self.names)
        frame.insert(0, "account_id", spine["account_id"].to_numpy())
        frame.insert(1, "day", spine["day"].to_numpy())
        return frame


def spark_metric_features(dataset: Dataset, specs: list[FeatureSpec],
                          config: MetricFeatures) -> pd.DataFrame:
    """The metrics family on Spark: the spine rows and the measurements cogrouped by account
    bucket, the compiled kernel per group (``applyInPandas``); rows in the matrix's order."""
    if not specs:
        return pd.DataFrame(index=pd.RangeIndex(0))
    con: SparkConnection = dataset.con  # type: ignore[assignment]
    spark = con.spark
    metrics, colmap = column_map(specs)
    days = sorted(int(d) for (d,) in con.execute(
        "SELECT snapshot_date FROM snapshot_dates").fetchall())
    job = _MetricsJob(np.asarray(days, dtype=np.int32), colmap, [s.name for s in specs],
                      config.stale_after_days)
    family = FAMILIES[METRICS_FAMILY]
    codes = ", ".join(f"({SparkRenderer().literal(m)}, {i})" for i, m in enumerate(metrics))
    spine = spark.sql(f"SELECT account_id, snapshot_date AS day, "
                      f"pmod(account_id, {METRIC_BUCKETS}) AS bucket FROM {SPINE}")
    rows = spark.sql(f"""
        SELECT m.account_id, CAST(m.{family.time_column} AS INT) AS day,
               CAST(c.code AS INT) AS code, CAST(m.value AS DOUBLE) AS value,
               pmod(m.account_id, {METRIC_BUCKETS}) AS bucket
        FROM ({family.source}) m JOIN (VALUES {codes}) AS c(metric, code) USING (metric)
        WHERE m.{family.time_column} < {max(days)}""")
    schema = (f"account_id {_spark_type(spine, 'account_id')}, day INT, "
              + ", ".join(f"{identifier(n, SparkRenderer.dialect)} DOUBLE" for n in job.names))

    def per_group(spine_rows: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
        if spine_rows.empty:
            return pd.DataFrame({c: [] for c in ["account_id", "day", *job.names]})
        return job.run(spine_rows, measured)

    frame = (spine.groupBy("bucket").cogroup(rows.groupBy("bucket"))
             .applyInPandas(per_group, schema).toPandas())
    frame = frame.sort_values(["day", "account_id"], ignore_index=True)
    return frame[job.names]


def _spark_type(frame: Any, column: str) -> str:
    return str(frame.schema[column].dataType.simpleString())

