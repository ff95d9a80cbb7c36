"""Tables only Spark reads, on the Spark engine: a Spark catalog table (`table: db.name`,
its columns mapped like any source) reaches the same typed contract table as the Parquet file
it was made from; a Delta table without Delta Lake in the session is one error naming the
table and what to install (exit 2). Slow tier; skipped without pyspark or Java."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from spark_support import require_spark
from test_validate import END, frames  # noqa: F401 (frames: the fixture)

from healthscore.data.settings import TableSource
from healthscore.pipeline.config import Config

require_spark()

pytestmark = pytest.mark.slow
SPARK = {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "4",
                                        "spark.default.parallelism": "2"}}


def write_world(frames: dict[str, pd.DataFrame], folder) -> None:  # noqa: F811
    folder.mkdir()
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)


def test_a_catalog_table_reaches_the_same_contract_table(frames, tmp_path) -> None:  # noqa: F811
    from healthscore.features.spark import spark_session
    from healthscore.pipeline.compose import open_data

    write_world(frames, tmp_path / "data")
    base = {"workdir": str(tmp_path / "out"), "data": {"dir": str(tmp_path / "data"),
                                                        "end_date": END.isoformat()}}
    duck = open_data(Config.model_validate(base))
    spark = spark_session(Config.model_validate(
        {**base, "features": {"engine": "spark", "spark": SPARK}}).features.spark)
    (spark.read.parquet(str(tmp_path / "data" / "events.parquet"))
     .withColumnRenamed("occurred_at", "event_time")
     .createOrReplaceGlobalTempView("hs_events"))
    source = TableSource(table="global_temp.hs_events", columns={"occurred_at": "event_time"})
    config = Config.model_validate({**base, "features": {"engine": "spark", "spark": SPARK}})
    config = config.model_copy(update={"data": config.data.model_copy(
        update={"tables": {"events": source}})})
    on_spark = open_data(config)
    assert on_spark.tables == duck.tables
    for table in duck.tables:
        a = duck.frame(table).sort_values(list(duck.frame(table).columns), ignore_index=True)
        b = on_spark.frame(table).sort_values(list(a.columns), ignore_index=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert len(on_spark.frame("events")) == len(frames["events"])


def test_a_delta_table_without_delta_lake_is_one_error(frames, tmp_path) -> None:  # noqa: F811
    from healthscore.pipeline.cli import cli

    pytest.importorskip("pyspark")
    try:
        import delta  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("Delta Lake is installed here")
    write_world(frames, tmp_path / "data")
    config = tmp_path / "run.yaml"
    config.write_text(f"workdir: {tmp_path / 'out'}\ndata:\n  dir: {tmp_path / 'data'}\n"
                      f"  end_date: {END}\n  tables:\n    events:\n"
                      f"      path: {tmp_path / 'data'}\n      format: delta\n"
                      "features:\n  engine: spark\n  spark:\n    master: local[2]\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "validate"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"table 'events': Spark cannot read the Delta table {tmp_path / 'data'}" in text
    assert "pip install delta-spark" in text and "Traceback" not in result.output
