"""The DuckDB spelling of the constructs :class:`~healthscore.features.sql.Renderer` names."""

from __future__ import annotations

from healthscore.features.sql import Renderer
from healthscore.sql import Dialect


class DuckDBRenderer(Renderer):
    """DuckDB: temp tables, ``generate_series``, ``UBIGINT`` shifts, ``arg_max``,
    ``to_months``, ``EXCLUDE`` and ``ASOF JOIN``."""

    dialect = Dialect.DUCKDB

    def create_table(self, name: str, select: str) -> str:
        """``CREATE OR REPLACE TEMP TABLE``."""
        return f"CREATE OR REPLACE TEMP TABLE {name} AS {select}"

    def day_series(self, start: str, stop: str) -> str:
        """``unnest(generate_series(...))`` by one day."""
        return f"CAST(unnest(generate_series({start}, {stop}, INTERVAL 1 DAY)) AS DATE)"

    def bit(self, position: str) -> str:
        """An unsigned 64-bit shift."""
        return f"(CAST(1 AS UBIGINT) << ({position}))"

    def arg_max(self, value: str, key: str) -> str:
        """``arg_max``."""
        return f"arg_max({value}, {key})"

    def add_months(self, day: str, months: str) -> str:
        """``to_months`` interval arithmetic."""
        return f"CAST({day} + to_months(CAST({months} AS INTEGER)) AS DATE)"

    def months_between(self, start: str, end: str) -> str:
        """``date_diff('month', ...)``."""
        return f"date_diff('month', {start}, {end})"

    def int_div(self, numerator: str, denominator: str) -> str:
        """``//``."""
        return f"(({numerator}) // ({denominator}))"

    def all_columns_except(self, alias: str, columns: list[str]) -> str:
        """``alias.* EXCLUDE (...)``."""
        return f"{alias}.* EXCLUDE ({', '.join(columns)})"

    def latest_row_join(self, left: str, right: str, key: str, left_time: str,
                        right_time: str) -> str:
        """``ASOF JOIN`` on the key, strictly before the left row's time."""
        return (f"FROM {left} s ASOF JOIN {right} x ON x.{key} = s.{key} "
                f"AND s.{left_time} > x.{right_time}")

    def nth_latest(self, value: str, time: str, n: int) -> str:
        """An ordered ``list`` aggregate, indexed."""
        return f"(list({value} ORDER BY {time} DESC, {value}))[{int(n)}]"

    def date_out(self, day: str) -> str:
        """Already a DATE."""
        return day

    def text_type(self) -> str:
        """``VARCHAR``."""
        return "VARCHAR"
