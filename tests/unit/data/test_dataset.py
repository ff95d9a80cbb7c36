"""The DuckDB connection every stage uses."""

from __future__ import annotations

import duckdb

from healthscore.data import dataset


def test_connect_works_where_duckdb_refuses_the_progress_bar_setting(monkeypatch):
    """In Jupyter without ipywidgets DuckDB raises on `SET enable_progress_bar`."""
    real_connect = duckdb.connect

    class Refusing:
        def __init__(self) -> None:
            self.con = real_connect()

        def execute(self, sql: str):
            if "enable_progress_bar" in sql:
                raise duckdb.InvalidInputException("required package 'ipywidgets' is missing")
            return self.con.execute(sql)

    monkeypatch.setattr(dataset.duckdb, "connect", Refusing)
    con = dataset.connect()
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (
        False,)
