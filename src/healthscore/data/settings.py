"""Configuration of the data layer: where each table comes from, and the synthetic world."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from healthscore.data.schema import SEGMENTS, TABLES, WIDE_KEY_COLUMNS
from healthscore.settings import Section

TableName = Literal[
    "accounts", "subscriptions", "events", "contacts", "invoices", "tickets", "surveys",
    "touchpoints", "metrics",
]
ContractColumn = Literal[tuple(sorted({c for t in TABLES.values() for c in t.column_names}))]


class TableSource(Section):
    """Where one table comes from. Give exactly one of ``path``, ``duckdb`` or ``url``.

    ``path``: a Parquet or CSV file, a folder of them, or a glob. ``duckdb`` + ``table``: a
    table in a DuckDB database file. ``url`` + ``query``: a SQL query run through SQLAlchemy.
    ``columns`` maps contract column -> your column name (only the ones that differ).
    ``mrr``: the subscriptions' ``arr`` column holds monthly revenue; it is multiplied by 12.
    ``wide`` (metrics only): the export has one column per metric, listed in
    ``value_columns``, beside ``account_id`` and ``measured_at``; it is melted into the long
    contract shape (metric = the column's name; empty cells are not measurements).
    CSV files: ``delimiter`` (default: detected), ``whitespace: true`` for columns separated
    by runs of spaces or tabs, ``header: false`` when the first line holds data (columns are
    then named column0, column1, ... for the ``columns:`` mapping), ``date_format`` when
    dates are not ISO (e.g. ``"%d/%m/%Y"``; also applied to text dates of any source).
    """

    path: Path | None = None
    format: Literal["auto", "parquet", "csv"] = "auto"
    duckdb: Path | None = None
    table: str | None = None
    url: str | None = None
    query: str | None = None
    columns: dict[ContractColumn, str] = Field(default_factory=dict)
    mrr: bool = False
    wide: bool = False
    value_columns: list[str] = Field(
        default_factory=list,
        description="Wide metrics export: the columns holding metric values (each becomes a "
        "metric named after its column).",
    )
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1,
        description="CSV field separator (one character, e.g. ';' or '\\t'); default: detected.")
    whitespace: bool = Field(
        default=False, description="CSV columns separated by runs of spaces or tabs.")
    header: bool = Field(default=True, description="The CSV's first line names the columns.")
    date_format: str | None = Field(
        default=None, min_length=2, description="strptime format of text dates, e.g. "
        "'%d/%m/%Y' or '%m/%d/%Y %H:%M'; default: ISO (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> TableSource:
        given = [k for k in ("path", "duckdb", "url") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of path, duckdb or url; got {given or 'none'}")
        if self.duckdb is not None and not self.table:
            raise ValueError("a duckdb source needs `table`")
        if self.url is not None and not self.query:
            raise ValueError("a url source needs `query`")
        if self.whitespace and self.delimiter is not None:
            raise ValueError("give either `delimiter` or `whitespace: true`, not both")
        csv_options = [k for k in ("delimiter", "whitespace") if getattr(self, k)]
        if not self.header:
            csv_options.append("header")
        if csv_options and (self.path is None or self.format == "parquet"):
            raise ValueError(f"{', '.join(csv_options)}: CSV options need a CSV `path` source")
        if self.wide and not self.value_columns:
            raise ValueError("a wide source needs `value_columns`: the columns holding the "
                             "metric values")
        if self.value_columns and not self.wide:
            raise ValueError("`value_columns` is only read with `wide: true`")
        repeated = sorted({c for c in self.value_columns if self.value_columns.count(c) > 1})
        if repeated:
            raise ValueError(f"value_columns lists {repeated} more than once")
        return self


class EngineConfig(Section):
    """DuckDB settings. Past ``memory_limit`` DuckDB spills to ``temp_directory`` instead of
    growing; ``threads`` defaults to every core."""

    memory_limit: str = Field(default="2GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB)$")
    threads: Annotated[int, Field(ge=1, le=256)] | None = None
    temp_directory: Path | None = None


class DataConfig(Section):
    """The input tables. ``dir`` holds ``<table>.parquet``/``.csv`` or ``<table>/`` folders;
    entries in ``tables`` override or add sources table by table."""

    dir: Path | None = Path("healthscore-out/data")
    tables: dict[TableName, TableSource] = Field(default_factory=dict)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    end_date: dt.date | None = Field(
        default=None,
        description="Last day covered by the data; default: the day before today. "
        "Dates after it are errors.",
    )

    @field_validator("tables")
    @classmethod
    def _columns_of_their_table(cls, value: dict[str, TableSource]) -> dict[str, TableSource]:
        """A mapping may only name columns of its own table."""
        problems = []
        for name, source in value.items():
            known_cols = set(TABLES[name].column_names)
            if source.wide and name == "metrics":
                known_cols = set(WIDE_KEY_COLUMNS)
            bad = sorted(set(source.columns) - known_cols)
            if bad:
                problems.append(f"{name}.columns maps column(s) {bad} that {name} does not "
                                f"have; its columns: {sorted(known_cols)}")
            if source.wide and name != "metrics":
                problems.append(f"{name}.wide: only the metrics table can be a wide export")
            keys = {source.columns.get(c, c).lower() for c in WIDE_KEY_COLUMNS}
            clash = [c for c in source.value_columns if c.lower() in keys]
            if clash:
                problems.append(f"{name}.value_columns: {clash} are the account id or "
                                "measurement date column, not metric values")
        if problems:
            raise ValueError("; ".join(problems))
        return value


Share = Annotated[float, Field(ge=0, le=1)]


class SegmentProfile(Section):
    """How one segment of the synthetic world looks and behaves."""

    share: Share
    seats: tuple[int, int] = Field(description="Inclusive range of initial seats.")
    arr_per_seat: Annotated[float, Field(gt=0)]
    monthly_plan_share: Share = Field(description="Share of accounts on monthly plans.")
    annual_churn: tuple[float, float] = Field(
        description="Target range of yearly logo churn, checked by the realism tests."
    )
    base_health: float = Field(description="Mean latent health (log-odds scale).")
    contacts: tuple[int, int]

    @field_validator("seats", "contacts")
    @classmethod
    def _ordered_ints(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1]:
            raise ValueError(f"must be [low, high] with 1 <= low <= high; got {list(value)}")
        return value

    @field_validator("annual_churn")
    @classmethod
    def _ordered_rates(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] <= value[1] <= 1:
            raise ValueError(f"must be [low, high] with 0 <= low <= high <= 1; got {list(value)}")
        return value


def _default_segments() -> dict[str, SegmentProfile]:
    return {
        "enterprise": SegmentProfile(
            share=0.1, seats=(40, 120), arr_per_seat=1200, monthly_plan_share=0.0,
            annual_churn=(0.03, 0.14), base_health=1.6, contacts=(6, 12),
        ),
        "mid_market": SegmentProfile(
            share=0.3, seats=(10, 40), arr_per_seat=900, monthly_plan_share=0.15,
            annual_churn=(0.07, 0.20), base_health=1.2, contacts=(3, 7),
        ),
        "smb": SegmentProfile(
            share=0.6, seats=(2, 10), arr_per_seat=600, monthly_plan_share=0.5,
            annual_churn=(0.12, 0.30), base_health=0.9, contacts=(2, 4),
        ),
    }


class SynthConfig(Section):
    """The synthetic SaaS world used by the demo, the tests and the benchmarks."""

    accounts: Annotated[int, Field(ge=10, le=5_000_000)] = 5000
    months: Annotated[int, Field(ge=6, le=120)] = 24
    seed: int = 7
    start_date: dt.date = dt.date(2024, 1, 1)
    existing_share: Share = Field(
        default=0.6, description="Share of accounts already customers at the start."
    )
    format: Literal["parquet", "csv"] = "parquet"
    segments: dict[str, SegmentProfile] = Field(default_factory=_default_segments)
    unexplained_churn: Share = Field(
        default=0.01, description="Yearly churn probability that no signal explains."
    )
    shock_rates: dict[Literal["champion_left", "p1_outage", "payment_failure"], Share] = Field(
        default_factory=lambda: {"champion_left": 0.0035, "p1_outage": 0.002,
                                 "payment_failure": 0.002},
        description="Monthly probability of each shock per account.",
    )
    shock_churn: dict[Literal["champion_left", "p1_outage", "payment_failure"], Share] = Field(
        default_factory=lambda: {"champion_left": 0.85, "p1_outage": 0.85,
                                 "payment_failure": 0.85},
        description="Probability that a shock makes an account give notice at once for its "
        "next renewal when that falls one to three months later (decided the month after a "
        "champion leaves or a P1 outage, the month after a failed payment's due date).",
    )
    churn_health_slope: Annotated[float, Field(ge=0)] = Field(
        default=8.0,
        description="Slope of the log-odds of deciding to churn at a renewal on recent latent "
        "health (higher: churn is easier to predict); the intercept follows from churn_depth.",
    )
    churn_depth: Annotated[float, Field(gt=0)] = Field(
        default=2.0,
        description="How far (log-odds) recent health must fall below the segment's usual "
        "health for churn at a renewal to become likelier than not. Accounts get there "
        "mostly through declines, whose frequency is calibrated to hit annual_churn.",
    )
    decline_recovery: Share = Field(
        default=0.03, description="Monthly probability that a declining account is won back.",
    )
    history_years: Annotated[float, Field(gt=0, le=20)] = Field(
        default=3.0, description="Existing accounts were created over this many years "
        "before start_date.",
    )

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, value: dict[str, SegmentProfile]) -> dict[str, SegmentProfile]:
        unknown = sorted(set(value) - set(SEGMENTS))
        if unknown:
            raise ValueError(f"unknown segment(s) {unknown}; known: {list(SEGMENTS)}")
        total = sum(p.share for p in value.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"segment shares must add up to 1; got {total:.3f}")
        return value
