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
    """Where one table comes from. Give exactly one of ``path``, ``duckdb`` or ``url``, or
    ``table`` alone.

    ``path``: a Parquet or CSV file, a folder of them, or a glob; with ``format: delta`` a
    Delta Lake table's folder. ``duckdb`` + ``table``: a table in a DuckDB database file.
    ``url`` + ``query``: a SQL query run through SQLAlchemy. ``table`` alone: a table of the
    Spark session's catalog (metastore, Unity Catalog: ``db.name``). Delta and catalog
    tables need ``features.engine: spark``: Spark reads them (see docs/scale-out.md).
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
    format: Literal["auto", "parquet", "csv", "delta"] = "auto"
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
        if not given and self.table:  # a table of the Spark session's catalog
            given = ["table"]
        if len(given) != 1:
            raise ValueError("give exactly one of path, duckdb or url (or table alone: a "
                             f"table of the Spark catalog); got {given or 'none'}")
        if self.format == "delta" and self.path is None:
            raise ValueError("format: delta reads a Delta table's folder: give its `path`")
        if self.duckdb is not None and not self.table:
            raise ValueError("a duckdb source needs `table`")
        if self.url is not None and not self.query:
            raise ValueError("a url source needs `query`")
        if self.whitespace and self.delimiter is not None:
            raise ValueError("give either `delimiter` or `whitespace: true`, not both")
        csv_options = [k for k in ("delimiter", "whitespace") if getattr(self, k)]
        if not self.header:
            csv_options.append("header")
        if csv_options and (self.path is None or self.format in ("parquet", "delta")):
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

    @property
    def read_by_spark(self) -> bool:
        """Whether only Spark can read this source (a Delta table or a catalog table)."""
        return self.format == "delta" or (self.table is not None and self.path is None
                                          and self.duckdb is None and self.url is None)

    def describe(self) -> str:
        """Where the table comes from, for messages."""
        if self.format == "delta":
            return f"Delta table {self.path}"
        if self.read_by_spark:
            return f"Spark catalog table {self.table}"
        return str(self.path or self.duckdb or "query")


class EngineConfig(Section):
    """DuckDB settings. Past ``memory_limit`` DuckDB spills to ``temp_directory`` instead of
    growing; ``threads`` defaults to every core."""

    memory_limit: str = Field(
        default="2GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB)$",
        description="DuckDB's memory limit; past it DuckDB spills to disk. 2GB builds the "
        "features of 100k accounts x 24 months (in 68 s on 2 cores; 48 s with 12GB, which "
        "spills less). 300k accounts need more: with 2GB that build spilled until the disk "
        "was full; with 12GB it took 152 s and 13.7 GB.")
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


Business = Literal["saas", "monthly", "transactional"]
Difficulty = Literal["realistic", "easy"]

# Segment names per business shape (the accounts' ``segment`` column).
BUSINESS_SEGMENTS: dict[str, tuple[str, ...]] = {
    "saas": SEGMENTS,
    "monthly": ("basic", "standard", "premium"),
    "transactional": ("occasional", "regular", "frequent"),
}


def default_segments(business: Business = "saas", difficulty: Difficulty = "realistic"
                     ) -> dict[str, SegmentProfile]:
    """The segment profiles a business shape uses unless ``synth.segments`` is given. The easy
    SaaS world keeps the wave-1 plan mix (fewer monthly plans: the renewal calendar says more
    about who can churn)."""
    if business == "monthly":  # a consumer app: one monthly plan per tier, 1-3 % churn a month
        return {
            "basic": SegmentProfile(
                share=0.55, seats=(1, 1), arr_per_seat=96, monthly_plan_share=1.0,
                annual_churn=(0.18, 0.40), base_health=0.9, contacts=(1, 1)),
            "standard": SegmentProfile(
                share=0.35, seats=(1, 2), arr_per_seat=156, monthly_plan_share=1.0,
                annual_churn=(0.14, 0.34), base_health=1.1, contacts=(1, 1)),
            "premium": SegmentProfile(
                share=0.10, seats=(1, 5), arr_per_seat=240, monthly_plan_share=1.0,
                annual_churn=(0.10, 0.28), base_health=1.3, contacts=(1, 1)),
        }
    if business == "transactional":  # a shop: customers buy at very different rates
        return {
            "occasional": SegmentProfile(
                share=0.5, seats=(1, 1), arr_per_seat=240, monthly_plan_share=1.0,
                annual_churn=(0.30, 0.60), base_health=0.8, contacts=(1, 1)),
            "regular": SegmentProfile(
                share=0.35, seats=(1, 1), arr_per_seat=900, monthly_plan_share=1.0,
                annual_churn=(0.18, 0.42), base_health=1.1, contacts=(1, 1)),
            "frequent": SegmentProfile(
                share=0.15, seats=(1, 1), arr_per_seat=3000, monthly_plan_share=1.0,
                annual_churn=(0.10, 0.30), base_health=1.4, contacts=(1, 1)),
        }
    easy = difficulty == "easy"
    return {
        "enterprise": SegmentProfile(
            share=0.1, seats=(40, 120), arr_per_seat=1200, monthly_plan_share=0.0,
            annual_churn=(0.03, 0.14), base_health=1.6, contacts=(6, 12),
        ),
        "mid_market": SegmentProfile(
            share=0.3, seats=(10, 40), arr_per_seat=900,
            monthly_plan_share=0.15 if easy else 0.35,
            annual_churn=(0.07, 0.20), base_health=1.2, contacts=(3, 7),
        ),
        "smb": SegmentProfile(
            share=0.6, seats=(2, 10), arr_per_seat=600,
            monthly_plan_share=0.5 if easy else 0.75,
            annual_churn=(0.12, 0.30), base_health=0.9, contacts=(2, 4),
        ),
    }


_SHOCK_RATES: dict[str, dict[str, float]] = {
    "saas": {"champion_left": 0.0035, "p1_outage": 0.002, "payment_failure": 0.002},
    # consumers: no champion; cards get declined more often
    "monthly": {"champion_left": 0.0, "p1_outage": 0.002, "payment_failure": 0.006},
    # a shop: a bad delivery (a P1-like ticket); nobody is invoiced
    "transactional": {"champion_left": 0.0, "p1_outage": 0.004, "payment_failure": 0.0},
}
# The two difficulties: knob values, and the churn settings they imply (label noise, slope
# of churn on health, churn at short notice after a shock).
_EASY_KNOBS = {"hidden_drivers": 0.0, "hidden_shock_rate": 0.0, "observation_noise": 0.0,
               "observation_lag": 0.0, "silent_churners": 0.0, "quiet_accounts": 0.0,
               "usage_spread": 0.0, "segment_spread": 0.0, "leaving_signal": 1.0,
               "unexplained_churn": 0.01, "churn_health_slope": 8.0, "shock_churn": 0.85}
_REALISTIC_KNOBS = {"hidden_drivers": 1.0, "hidden_shock_rate": 0.01, "observation_noise": 0.7,
                    "observation_lag": 0.5, "silent_churners": 0.7, "quiet_accounts": 0.15,
                    "usage_spread": 0.5, "segment_spread": 0.4, "leaving_signal": 0.4,
                    "unexplained_churn": 0.05, "churn_health_slope": 2.5, "shock_churn": 0.25}

# Where a business shape needs other values to be as hard as real data of its kind: a SaaS
# renewal calendar alone says much about who can churn within a horizon, so less of health
# shows there.
_REALISTIC_BY_BUSINESS: dict[str, dict[str, float]] = {
    "saas": {},
    "monthly": {"hidden_drivers": 0.4, "usage_spread": 1.0, "silent_churners": 0.4},
    "transactional": {},
}


def _preset(name: str) -> str:
    """' easy <value>, realistic <value>.': the presets of a knob, for its description."""
    realistic = {b: {**_REALISTIC_KNOBS, **o}[name] for b, o in _REALISTIC_BY_BUSINESS.items()}
    if len(set(realistic.values())) == 1:
        return f" easy {_EASY_KNOBS[name]:g}, realistic {_REALISTIC_KNOBS[name]:g}."
    return (f" easy {_EASY_KNOBS[name]:g}, realistic "
            + ", ".join(f"{v:g} ({b})" for b, v in realistic.items()) + ".")


ShockKind = Literal["champion_left", "p1_outage", "payment_failure"]


class DifficultyKnobs(Section):
    """What makes churn hard to predict. Every knob left unset takes its value from
    ``synth.difficulty`` (``easy``: all off; ``realistic``: tuned so that models reach the
    test ROC-AUC seen on real churn data, 0.78-0.88 for LightGBM)."""

    hidden_drivers: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="Standard deviation (log-odds) of a slowly moving part of "
        "health that nobody observes (budget cuts, a competitor, an acquisition): it moves the "
        "renewal decision but no table." + _preset("hidden_drivers"))
    hidden_shock_rate: Share | None = Field(
        default=None, description="Monthly probability of an unobserved shock (lowers the "
        "renewal decision's health by 1.5, fading)." + _preset("hidden_shock_rate"))
    observation_noise: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="Standard deviation of the month-to-month noise between "
        "health and the health every table shows." + _preset("observation_noise"))
    observation_lag: Share | None = Field(
        default=None, description="Weight of last month's shown health in this month's: "
        "observed behaviour follows health with a delay." + _preset("observation_lag"))
    silent_churners: Share | None = Field(
        default=None, description="Share of accounts that, once they decide to leave, keep "
        "using the product as usual until the end." + _preset("silent_churners"))
    quiet_accounts: Share | None = Field(
        default=None, description="Share of accounts that use the product little (a quarter "
        "of the usual) yet renew like any other." + _preset("quiet_accounts"))
    usage_spread: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="Standard deviation of the log of a per-account usage "
        "intensity unrelated to health." + _preset("usage_spread"))
    segment_spread: Share | None = Field(
        default=None, description="How much the slope of churn on health differs between "
        "segments (first segment x(1+spread) .. last x(1-spread))." + _preset("segment_spread"))
    leaving_signal: Share | None = Field(
        default=None, description="How strongly a leaver's usage collapses while serving "
        "notice (1: to a fifth, as in easy; 0: not at all)." + _preset("leaving_signal"))


class SynthConfig(Section):
    """The synthetic world used by the demo, the tests and the benchmarks."""

    business: Business = Field(
        default="saas", description="Business shape: saas (annual and monthly contracts, "
        "seats, renewals), monthly (a consumer app with a single monthly plan per tier), "
        "transactional (a shop: no subscriptions table, purchases carry an amount on events; "
        "customers silently stop buying).")
    difficulty: Difficulty = Field(
        default="realistic", description="realistic: as hard to predict as real churn data; "
        "easy: the strong-signal world some tests need. Sets every unset knob.")
    knobs: DifficultyKnobs = Field(default_factory=DifficultyKnobs)
    accounts: Annotated[int, Field(ge=10, le=5_000_000)] = 5000
    months: Annotated[int, Field(ge=6, le=120)] = 24
    seed: int = 7
    start_date: dt.date = dt.date(2024, 1, 1)
    existing_share: Share = Field(
        default=0.6, description="Share of accounts already customers at the start."
    )
    format: Literal["parquet", "csv"] = "parquet"
    segments: dict[str, SegmentProfile] | None = Field(
        default=None, description="Segment profiles; default: the business shape's "
        "(saas: enterprise, mid_market, smb; monthly: basic, standard, premium; "
        "transactional: occasional, regular, frequent).")
    unexplained_churn: Share | None = Field(
        default=None, description="Label noise: yearly churn probability that no signal "
        "explains." + _preset("unexplained_churn"))
    shock_rates: dict[ShockKind, Share] | None = Field(
        default=None,
        description="Monthly probability of each shock per account; default per business "
        "(saas: champion_left 0.0035, p1_outage 0.002, payment_failure 0.002).",
    )
    shock_churn: dict[ShockKind, Share] | None = Field(
        default=None,
        description="Probability that a shock makes an account give notice at once for its "
        "next renewal when that falls one to three months later (decided the month after a "
        "champion leaves or a P1 outage, the month after a failed payment's due date). "
        "Each kind:" + _preset("shock_churn"),
    )
    churn_health_slope: Annotated[float, Field(ge=0)] | None = Field(
        default=None,
        description="Slope of the log-odds of deciding to churn at a renewal on recent latent "
        "health (higher: churn is easier to predict); the intercept follows from churn_depth."
        + _preset("churn_health_slope"),
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
    churn_shift_month: Annotated[int, Field(ge=0, le=120)] | None = Field(
        default=None, description="From this month of the world on (0: the first), churn "
        "behaviour shifts: accounts also churn at a renewal with yearly probability "
        "churn_shift_rate whatever their health (a competitor wins healthy customers), so a "
        "model trained before it misses them. For testing monitoring; subscription worlds "
        "only; null: no shift.")
    churn_shift_rate: Share = Field(
        default=0.4, description="Yearly churn probability the shift adds (see "
        "churn_shift_month).")
    history_years: Annotated[float, Field(gt=0, le=20)] = Field(
        default=3.0, description="Existing accounts were created over this many years "
        "before start_date.",
    )

    @field_validator("segments")
    @classmethod
    def _shares_add_up(cls, value: dict[str, SegmentProfile] | None
                       ) -> dict[str, SegmentProfile] | None:
        if value is None:
            return value
        total = sum(p.share for p in value.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"segment shares must add up to 1; got {total:.3f}")
        return value

    @model_validator(mode="after")
    def _known_segments(self) -> SynthConfig:
        if self.segments is None:
            return self
        known = BUSINESS_SEGMENTS[self.business]
        unknown = sorted(set(self.segments) - set(known))
        if unknown:
            raise ValueError(f"segments: unknown segment(s) {unknown} for business "
                             f"{self.business!r}; known: {list(known)}")
        return self

    def segment_profiles(self) -> dict[str, SegmentProfile]:
        """The configured segments, or the business shape's defaults."""
        if self.segments is not None:
            return self.segments
        return default_segments(self.business, self.difficulty)

    def resolved(self) -> SynthConfig:
        """A copy with every difficulty- or business-dependent default filled in."""
        preset = (_EASY_KNOBS if self.difficulty == "easy"
                  else {**_REALISTIC_KNOBS, **_REALISTIC_BY_BUSINESS[self.business]})
        knobs = DifficultyKnobs(**{k: v if v is not None else preset[k]
                                   for k, v in self.knobs.model_dump().items()})
        shock_churn = preset["shock_churn"]
        return self.model_copy(update={
            "knobs": knobs,
            "segments": self.segment_profiles(),
            "unexplained_churn": _first(self.unexplained_churn, preset["unexplained_churn"]),
            "shock_rates": _first(self.shock_rates, dict(_SHOCK_RATES[self.business])),
            "shock_churn": _first(self.shock_churn, dict.fromkeys(
                ("champion_left", "p1_outage", "payment_failure"), shock_churn)),
            "churn_health_slope": _first(self.churn_health_slope,
                                         preset["churn_health_slope"]),
        })


def _first(value, default):
    return default if value is None else value
