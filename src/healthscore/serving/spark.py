"""Scoring on Spark (``scoring.engine: spark``): the in-process scorer, run per partition.

The feature rows of a scoring date are staged as Parquet, read by Spark and split into
partitions; every partition runs :func:`healthscore.serving.scorer.score_accounts`
(probability, calibration, health, TreeSHAP drivers in health points, hard stops, manual
overrides, bands, playbooks) inside ``mapInPandas``, so the scoring logic exists once. The
model reaches the executors as a broadcast variable: pickled once by the driver, unpickled
once per Python worker. The executors write the scores and drivers as Parquet (one file per
partition, a directory); the driver reads that directory back for the trends, the portfolio
files and the score history, which stays in its SQL store (see :mod:`healthscore.serving.batch`).

pyspark is imported here only, when a Spark scoring run starts (``pip install
healthscore[spark]``); the session is the one ``features.spark`` describes.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from healthscore.errors import ConfigError
from healthscore.model.artifact import HealthModel
from healthscore.serving.scorer import explain_with_hard_stops, score_accounts
from healthscore.serving.settings import ScoringConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from healthscore.features.settings import SparkSettings

log = logging.getLogger(__name__)
ROW = "_healthscore_row"  # each input row's position: the output is put back in that order
POINTS = "points__"  # prefix of the unrounded per-feature point columns (``points=True``)


def score_partition(model: HealthModel, frame: pd.DataFrame, config: ScoringConfig,
                    as_of: dt.date, overrides: pd.DataFrame | None = None,
                    points: bool = False) -> pd.DataFrame:
    """What one partition computes: :func:`score_accounts` of its rows, and with ``points``
    every model input's and hard-stop feature's unrounded health points (``points__<name>``,
    0 where a hard stop did not bind), the numbers the rounded driver columns come from."""
    scores = score_accounts(model, frame, config, as_of, overrides)
    if not points:
        return scores
    drivers = explain_with_hard_stops(model, frame, config.hard_stops).drivers
    names = list(dict.fromkeys([*model.model.feature_names,
                                *(s.feature for s in config.hard_stops if s.feature in frame)]))
    table = np.zeros((len(frame), len(names)))
    for j, name in enumerate(names):
        if name in drivers.names:
            table[:, j] = drivers.points[:, drivers.names.index(name)]
    extra = pd.DataFrame(table, columns=[POINTS + n for n in names])
    return pd.concat([scores, extra], axis=1)


@dataclass(frozen=True)
class _PartitionScorer:
    """The function ``mapInPandas`` runs on every partition (pickled to the executors)."""

    model: Any  # a pyspark Broadcast of the HealthModel: unpickled once per Python worker
    config: ScoringConfig
    as_of: dt.date
    overrides: pd.DataFrame | None
    dtypes: dict[str, str]  # the driver-side dtypes of the input columns
    columns: list[str]  # the output columns, in the schema's order
    points: bool

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Score each Arrow batch of the partition."""
        model = self.model.value
        for batch in batches:
            if batch.empty:
                continue
            batch = _restore_dtypes(batch.reset_index(drop=True), self.dtypes)
            scored = score_partition(model, batch.drop(columns=ROW), self.config, self.as_of,
                                     self.overrides, self.points)
            scored[ROW] = batch[ROW].to_numpy()
            yield scored[self.columns]


def _restore_dtypes(batch: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """The driver's dtypes back on a batch Arrow handed over (a nullable integer or flag
    arrives as float or object): the scorer sees the rows exactly as in-process."""
    for column, dtype in dtypes.items():
        if dtype != "object" and str(batch[column].dtype) != dtype:
            batch[column] = batch[column].astype(dtype)
    return batch


def _spark_schema(sample: pd.DataFrame) -> Any:
    """The Spark schema of the scored frame ``sample`` (its Arrow types; a column that is
    empty in the sample is text)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StringType, StructField, StructType

    arrow = pa.Schema.from_pandas(sample, preserve_index=False)
    return StructType([
        StructField(field.name, StringType() if pa.types.is_null(field.type)
                    else from_arrow_type(field.type), True)
        for field in arrow])


def score_on_spark(model: HealthModel, frame: pd.DataFrame, config: ScoringConfig,
                   as_of: dt.date, target: Path, overrides: pd.DataFrame | None = None, *,
                   spark: SparkSession | None = None, settings: SparkSettings | None = None,
                   partitions: int | None = None, points: bool = False) -> pd.DataFrame:
    """Score ``frame`` (one row per account) on Spark: :func:`score_partition` per partition
    in ``mapInPandas``, written by the executors as Parquet to the directory ``target``
    (replaced if present; a path every worker can write), read back in ``frame``'s order.

    ``spark``: the session (default: the active one, else one from ``settings``);
    ``partitions``: how many (default the session's default parallelism). Equal to
    :func:`score_partition` of the whole frame (a slow-tier test checks every column).
    """
    from healthscore.features.spark import spark_session

    _require_pyspark()
    spark = spark or spark_session(settings)
    if frame.empty:
        return score_partition(model, frame, config, as_of, overrides, points)
    rows = frame.reset_index(drop=True)
    rows.insert(len(rows.columns), ROW, np.arange(len(rows), dtype=np.int64))
    sample = score_partition(model, rows.head(1).drop(columns=ROW), config, as_of, overrides,
                             points)
    sample[ROW] = rows[ROW].head(1).to_numpy()
    schema = _spark_schema(sample)
    dtypes = {c: str(t) for c, t in rows.dtypes.items()}
    scorer = _PartitionScorer(spark.sparkContext.broadcast(model), config, as_of, overrides,
                              dtypes, list(sample.columns), points)
    staging_root = settings.staging_dir if settings is not None else None
    if staging_root is not None:
        staging_root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="healthscore-score-", dir=staging_root) as tmp:
            staged = Path(tmp) / "rows.parquet"
            rows.to_parquet(staged, index=False)  # read by every worker: no driver round trip
            count = partitions or spark.sparkContext.defaultParallelism
            (spark.read.parquet(str(staged)).repartition(count)
             .mapInPandas(scorer, schema).write.mode("overwrite").parquet(str(target)))
    finally:
        scorer.model.unpersist()
    scored = pd.read_parquet(target)
    scored = scored.sort_values(ROW, ignore_index=True)
    log.info("spark: scored %d accounts in %d partitions into %s", len(scored), count, target)
    return _like(scored.drop(columns=ROW), sample.drop(columns=ROW))


def _require_pyspark() -> None:
    """A missing pyspark is one ConfigError naming ``scoring.engine``."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ConfigError("scoring.engine", [
            f"scoring.engine: spark needs pyspark, which is not installed ({exc}); install it "
            "with `pip install healthscore[spark]` (and a Java 17+ runtime) or set "
            "`scoring.engine: local`"]) from None


def _like(scored: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    """``scored`` with the in-process scorer's dtypes where Parquet changed them (dates read
    back as dates, not timestamps)."""
    for column in scored.columns:
        want = sample[column].dtype
        text = pd.api.types.is_object_dtype(want)
        if text and pd.api.types.is_datetime64_any_dtype(scored[column]):
            scored[column] = scored[column].dt.date
        elif not text and scored[column].dtype != want:
            scored[column] = scored[column].astype(want)
    return scored
