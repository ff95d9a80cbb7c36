"""The data contract checked by Spark (``features.engine: spark``): the rules of
:mod:`healthscore.data.validate`, written in Spark SQL, run over the raw tables in a Spark
session, listing violations exactly as DuckDB does (table, column, rule, count, up to five
sample rows; exit code 2).

The raw tables (every contract column a source has, renamed, not yet cast) reach Spark as the
temp views ``raw_<table>``, staged as Parquet by DuckDB from the sources it registered (a
source is read where it lies; nothing passes through the driver's memory). pyspark is imported
only when a session starts (:func:`healthscore.features.spark.spark_session`).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from healthscore.data.loaders import RawTable
from healthscore.data.validate import validate_raw
from healthscore.errors import DataSourceError, Violation
from healthscore.features.settings import SparkSettings
from healthscore.features.spark import SparkConnection, spark_session
from healthscore.sql import Dialect, literal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def stage_raw_tables(con: duckdb.DuckDBPyConnection, raws: Mapping[str, RawTable],
                     spark: SparkSession, staging: Path) -> None:
    """Register DuckDB's ``raw_<table>`` views in Spark under the same names, through Parquet
    files under ``staging`` (a directory every Spark worker can read)."""
    for name, raw in raws.items():
        path = staging / f"raw_{name}.parquet"
        try:
            con.execute(f"COPY (SELECT * FROM raw_{name}) TO {literal(str(path))} "
                        "(FORMAT parquet)")
        except duckdb.Error as exc:  # a corrupt or inconsistent source found while reading it
            raise DataSourceError(f"table {name!r}: cannot read {raw.origin}: "
                                  f"{str(exc).splitlines()[0]}") from None
        spark.read.parquet(str(path)).createOrReplaceTempView(f"raw_{name}")


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
