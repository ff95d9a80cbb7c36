"""Spark's side of the input data (``features.engine: spark``): the tables only Spark can read,
and the data contract checked by Spark.

Delta tables (``format: delta``) and tables of the Spark catalog (``table: db.name`` alone)
are read by Spark and written as Parquet under the staging folder (by the workers; nothing
passes through the driver), which the data layer then reads like any Parquet source: the
same column mapping, validation and typed views. The Delta reader is Delta Lake's
(``delta-spark``): healthscore does not install it or fetch its jars; a session without it
is one clear error naming the table.

The contract's rules are those of
:mod:`healthscore.data.validate`, written in Spark SQL, run over the raw tables in a Spark
session, listing violations exactly as DuckDB does (table, column, rule, count, up to five
sample rows; exit code 2).

The raw tables (every contract column a source has, renamed, not yet cast) reach Spark as the
temp views ``raw_<table>``, staged as Parquet by DuckDB from the sources it registered (a
source is read where it lies; nothing passes through the driver's memory). pyspark is imported
only when a session starts (:func:`healthscore.features.spark.spark_session`).
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from healthscore.data.loaders import RawTable
from healthscore.data.settings import DataConfig, TableSource
from healthscore.data.validate import validate_raw
from healthscore.errors import ConfigError, DataSourceError, Violation
from healthscore.features.settings import SparkSettings
from healthscore.features.spark import SparkConnection, spark_session, stage_view
from healthscore.sql import Dialect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def stage_raw_tables(con: duckdb.DuckDBPyConnection, raws: Mapping[str, RawTable],
                     spark: SparkSession, staging: Path) -> None:
    """Register DuckDB's ``raw_<table>`` views in Spark under the same names, through Parquet
    files under ``staging`` (a directory every Spark worker can read)."""
    for name, raw in raws.items():
        try:
            stage_view(con, f"SELECT * FROM raw_{name}", staging / f"raw_{name}.parquet",
                       spark, f"raw_{name}")
        except duckdb.Error as exc:  # a corrupt or inconsistent source found while reading it
            raise DataSourceError(f"table {name!r}: cannot read {raw.origin}: "
                                  f"{str(exc).splitlines()[0]}") from None


def spark_violations(con: duckdb.DuckDBPyConnection, raws: Mapping[str, RawTable],
                     end_date: dt.date, settings: SparkSettings | None = None,
                     spark: SparkSession | None = None) -> list[Violation]:
    """Every violation of the data contract in the raw tables of ``con``, checked by Spark
    (the session running, else one from ``settings``); empty when the data is valid."""
    settings = settings or SparkSettings()
    spark = spark or spark_session(settings)
    root = settings.staging_dir
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="healthscore-validate-", dir=root) as staging:
        stage_raw_tables(con, raws, spark, Path(staging))
        connection = SparkConnection(spark)
        try:
            violations = validate_raw(connection, raws, end_date,  # type: ignore[arg-type]
                                      Dialect.SPARK)
        finally:
            for name in raws:
                spark.catalog.dropTempView(f"raw_{name}")
    log.info("data contract checked in Spark: %d violation(s)", len(violations))
    return violations


DELTA_HINT = (
    "install Delta Lake for the Spark session: `pip install delta-spark` and, in "
    "features.spark.conf, spark.jars.packages: io.delta:delta-spark_2.13:<version>, "
    "spark.sql.extensions: io.delta.sql.DeltaSparkSessionExtension, "
    "spark.sql.catalog.spark_catalog: org.apache.spark.sql.delta.catalog.DeltaCatalog "
    "(Databricks has it built in)")


def check_spark_sources(data: DataConfig, engine: str) -> None:
    """A Delta or catalog table with an engine other than Spark is one ConfigError."""
    problems = [f"data.tables.{name}: a {source.describe()} is read by Spark; set "
                "features.engine: spark (or export the table to Parquet)"
                for name, source in data.tables.items() if source.read_by_spark]
    if problems and engine != "spark":
        raise ConfigError("data.tables", problems)


def _source_frame(spark: SparkSession, name: str, source: TableSource):
    """The Spark DataFrame of a Delta or catalog source; a missing reader or table is one
    DataSourceError naming the table."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        if source.format == "delta":
            return spark.read.format("delta").load(str(source.path))
        return spark.table(source.table or "")
    except (PySparkException, Py4JJavaError) as exc:
        text = (str(exc.java_exception.toString()) if isinstance(exc, Py4JJavaError)
                else str(exc)).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        hint = ""
        if source.format == "delta" and ("DATA_SOURCE_NOT_FOUND" in text
                                         or "delta" in first.lower()):
            hint = f"; {DELTA_HINT}"
        raise DataSourceError(f"table {name!r}: Spark cannot read the {source.describe()}: "
                              f"{first}{hint}") from None


def _staging_root(settings: SparkSettings) -> Path:
    """Where staged sources live for this process: under ``staging_dir``, else a temporary
    folder removed at exit (the data layer reads the files until the run ends)."""
    if settings.staging_dir is not None:
        settings.staging_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="healthscore-sources-", dir=settings.staging_dir))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def stage_spark_sources(data: DataConfig, settings: SparkSettings | None = None,
                        spark: SparkSession | None = None) -> DataConfig:
    """``data`` with every Delta or catalog source read by Spark and written as Parquet (its
    column mapping and options kept); unchanged when there is none."""
    wanted = {n: s for n, s in data.tables.items() if s.read_by_spark}
    if not wanted:
        return data
    settings = settings or SparkSettings()
    spark = spark or spark_session(settings)
    root = _staging_root(settings)
    tables = dict(data.tables)
    for name, source in wanted.items():
        target = root / name
        _source_frame(spark, name, source).write.mode("overwrite").parquet(str(target))
        log.info("spark: %s read for table %s, staged at %s", source.describe(), name, target)
        tables[name] = source.model_copy(update={"path": target, "format": "parquet",
                                                 "table": None})
    return data.model_copy(update={"tables": tables})
