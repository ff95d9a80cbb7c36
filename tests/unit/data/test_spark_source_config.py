"""Delta and Spark catalog sources in the config: accepted as `format: delta` + `path` and
`table` alone, refused without a path or with an engine other than Spark (one error naming
the table, exit 2; no Spark needed to say so)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from healthscore.data.settings import TableSource
from healthscore.pipeline.cli import cli


def test_a_catalog_table_and_a_delta_folder_are_sources_only_spark_reads(tmp_path) -> None:
    catalog = TableSource(table="crm.accounts")
    delta = TableSource(path=tmp_path, format="delta")
    assert catalog.read_by_spark and delta.read_by_spark
    assert not TableSource(path=tmp_path).read_by_spark
    assert not TableSource(duckdb=tmp_path / "x.duckdb", table="accounts").read_by_spark
    assert catalog.describe() == "Spark catalog table crm.accounts"


def test_delta_needs_a_path() -> None:
    with pytest.raises(ValidationError, match="format: delta reads a Delta table's folder"):
        TableSource(table="crm.events", format="delta")


def test_a_catalog_table_with_the_duckdb_engine_is_one_error(tmp_path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"workdir: {tmp_path / 'out'}\ndata:\n  dir: {tmp_path}\n  tables:\n"
                      "    events:\n      table: analytics.events\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "validate"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert ("data.tables.events: a Spark catalog table analytics.events is read by Spark; "
            "set features.engine: spark") in text
    assert "Traceback" not in result.output
