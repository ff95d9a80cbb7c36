"""The Spark SQL spelling of the constructs :class:`~healthscore.features.sql.Renderer` names.

Calendar days are day numbers inside a Spark build: every contract DATE column is registered
as ``unix_date(column)`` (an INTEGER, days since 1970-01-01; see
:mod:`healthscore.features.spark`), the snapshot dates too, and a date literal is its day
number. The portable SQL of the declarations then means the same on both engines without a
rewrite: ``s.snapshot_date - t.day`` is a number of days (in Spark SQL a DATE minus a DATE
is an INTERVAL, not comparable with an integer), ``s.snapshot_date - 30`` a day,
``median(t.closed_at - t.opened_at)`` a median of days. Only calendar months need real dates
(:meth:`SparkRenderer.add_months`, :meth:`SparkRenderer.months_between`) and the matrix's
``snapshot_date`` leaves the build as a DATE (:meth:`SparkRenderer.date_out`).
"""

from __future__ import annotations

import datetime as dt

from healthscore.features.sql import Renderer
from healthscore.sql import Dialect, literal

EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    """Days from 1970-01-01 to ``day`` (Spark's ``unix_date``)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    return (day - EPOCH).days


class SparkRenderer(Renderer):
    """Spark SQL 3.5+/4: cached temp views, ``sequence``, ``shiftleft``, ``max_by``,
    ``add_months`` over day numbers, ``* EXCEPT`` and an as-of join by the latest key."""

    dialect = Dialect.SPARK

    def literal(self, value: object) -> str:
        """A Spark literal; a date (not a timestamp) is its day number."""
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return str(day_number(value))
        return literal(value, self.dialect)

    def create_table(self, name: str, select: str) -> str:
        """``CACHE TABLE ... AS``: a temp view computed once (the connection materialises it
        and cuts its lineage; see ``healthscore.features.spark.SparkConnection``)."""
        return f"CACHE TABLE {name} AS {select}"

    def day_series(self, start: str, stop: str) -> str:
        """``explode(sequence(...))`` over day numbers."""
        return f"explode(sequence({start}, {stop}))"

    def bit(self, position: str) -> str:
        """A signed 64-bit shift (bit 63 is the sign bit; ``bit_count`` counts it)."""
        return f"shiftleft(CAST(1 AS BIGINT), {position})"

    def arg_max(self, value: str, key: str) -> str:
        """``max_by``."""
        return f"max_by({value}, {key})"

    def add_months(self, day: str, months: str) -> str:
        """``add_months`` on the date of a day number, back to a day number."""
        return (f"unix_date(add_months(date_from_unix_date({day}), "
                f"CAST({months} AS INTEGER)))")

    def months_between(self, start: str, end: str) -> str:
        """Month boundaries crossed: the difference of year * 12 + month (like DuckDB's
        ``date_diff('month', ...)``, not Spark's fractional ``months_between``)."""
        def months(day: str) -> str:
            date = f"date_from_unix_date({day})"
            return f"(year({date}) * 12 + month({date}))"
        return f"({months(end)} - {months(start)})"

    def int_div(self, numerator: str, denominator: str) -> str:
        """Floor division (``div`` truncates towards zero; ``pmod`` makes it floor)."""
        return (f"((({numerator}) - pmod({numerator}, {denominator})) div ({denominator}))")

    def all_columns_except(self, alias: str, columns: list[str]) -> str:
        """``alias.* EXCEPT (...)``."""
        return f"{alias}.* EXCEPT ({', '.join(columns)})"

    def latest_row_join(self, left: str, right: str, key: str, left_time: str,
                        right_time: str) -> str:
        """A range join for the latest ``right_time`` before each left row, then an equality
        join to that row (the rows of ``right`` are unique per key and time)."""
        return f"""FROM {left} s
            JOIN (SELECT l.{key} AS hs_key, l.{left_time} AS hs_time,
                         max(r.{right_time}) AS hs_latest
                  FROM {left} l JOIN {right} r
                    ON r.{key} = l.{key} AND l.{left_time} > r.{right_time}
                  GROUP BY l.{key}, l.{left_time}) a
              ON a.hs_key = s.{key} AND a.hs_time = s.{left_time}
            JOIN {right} x ON x.{key} = s.{key} AND x.{right_time} = a.hs_latest"""

    def nth_latest(self, value: str, time: str, n: int) -> str:
        """``collect_list`` of (time, -value, value) sorted descending, then element ``n``
        (``try_element_at``: NULL past the end, as DuckDB's list index)."""
        rows = (f"sort_array(collect_list(named_struct('k', {time}, 'n', -({value}), "
                f"'v', {value})), false)")
        return f"try_element_at(transform({rows}, r -> r.v), {int(n)})"

    def date_out(self, day: str) -> str:
        """A day number as a DATE."""
        return f"date_from_unix_date({day})"

    def text_type(self) -> str:
        """``STRING``."""
        return "STRING"
