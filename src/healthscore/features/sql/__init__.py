"""The feature build's SQL renderer: what engines spell differently, in one place per engine.

Feature declarations and families write portable SQL (aggregates with ``FILTER``, ``CASE``,
date arithmetic in days, explicit ``GROUP BY`` lists) and call a :class:`Renderer` for the
constructs that differ between engines: a temp table, a day series, a 64-bit flag, the value at
the maximum of another column, months added to a date, all columns but some, and the as-of
join of a running-totals family. :mod:`healthscore.features.sql.duckdb` renders them for
DuckDB, :mod:`healthscore.features.sql.spark` for Spark SQL (where a day is a day number).
Quoting and literals come from :mod:`healthscore.sql` in the renderer's dialect.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from healthscore.sql import Dialect, identifier, literal


class Renderer(ABC):
    """The constructs whose spelling depends on the engine."""

    dialect: Dialect

    def literal(self, value: object) -> str:
        """A literal in this dialect (see :func:`healthscore.sql.literal`)."""
        return literal(value, self.dialect)

    def identifier(self, name: str) -> str:
        """A quoted identifier in this dialect."""
        return identifier(name, self.dialect)

    @abstractmethod
    def create_table(self, name: str, select: str) -> str:
        """A statement materialising ``select`` as the build's temp table ``name``."""

    @abstractmethod
    def day_series(self, start: str, stop: str) -> str:
        """A select-list expression yielding one row per day from ``start`` to ``stop``
        (inclusive), as a DATE."""

    @abstractmethod
    def bit(self, position: str) -> str:
        """A 64-bit integer with only bit ``position`` (0..63) set; ``bit_or`` of these is a
        set of up to 64 flags, ``bit_count`` its size."""

    @abstractmethod
    def arg_max(self, value: str, key: str) -> str:
        """The aggregate: ``value`` of the row with the largest ``key``."""

    @abstractmethod
    def add_months(self, day: str, months: str) -> str:
        """``day`` plus a whole number of ``months`` (clamped to the month's end), a DATE."""

    @abstractmethod
    def months_between(self, start: str, end: str) -> str:
        """Whole month boundaries crossed from ``start`` to ``end`` (calendar months)."""

    @abstractmethod
    def int_div(self, numerator: str, denominator: str) -> str:
        """Integer division, rounding down."""

    @abstractmethod
    def all_columns_except(self, alias: str, columns: list[str]) -> str:
        """Every column of ``alias`` but ``columns``, as a select-list item."""

    @abstractmethod
    def latest_row_join(self, left: str, right: str, key: str, left_time: str,
                        right_time: str) -> str:
        """``FROM left s ... JOIN right x``: each row of ``left`` (alias ``s``) joined to the
        row of ``right`` (alias ``x``) with the same ``key`` and the latest ``right_time``
        strictly before ``s.left_time`` (an as-of join); rows without one drop out."""

    @abstractmethod
    def nth_latest(self, value: str, time: str, n: int) -> str:
        """The aggregate: ``value`` (numeric) of the ``n``-th row (1 = the latest) by ``time``
        descending, ties by ``value`` ascending; NULL when there are fewer rows."""

    @abstractmethod
    def date_out(self, day: str) -> str:
        """A day as this engine's build holds it, as a DATE (for the matrix's output)."""

    @abstractmethod
    def text_type(self) -> str:
        """The type name of a text column in a CAST."""


def duckdb_renderer() -> Renderer:
    """The DuckDB renderer (the default engine)."""
    from healthscore.features.sql.duckdb import DuckDBRenderer

    return DuckDBRenderer()


def spark_renderer() -> Renderer:
    """The Spark SQL renderer (``features.engine: spark``)."""
    from healthscore.features.sql.spark import SparkRenderer

    return SparkRenderer()
