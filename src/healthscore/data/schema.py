"""The data contract: every input table, its columns, types, keys and value rules.

Column names used anywhere else in the package come from here, so a rename is one edit.
See docs/data-contract.md for the prose version of this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """Logical column types; each maps to one DuckDB type used for coercion."""

    ID = "id"  # account/subscription/... identifiers: integer or text, kept as given
    TEXT = "text"
    DATE = "date"
    TIMESTAMP = "timestamp"
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"


DUCKDB_TYPE: dict[Kind, str | None] = {
    Kind.ID: None,  # keep the source type (BIGINT or VARCHAR)
    Kind.TEXT: "VARCHAR",
    Kind.DATE: "DATE",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.FLOAT: "DOUBLE",
    Kind.INT: "BIGINT",
    Kind.BOOL: "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    """One contract column.

    ``required``: must be present in the source. ``nullable``: may hold NULLs.
    ``default``: SQL literal used when an optional column is absent.
    ``min``/``max``: inclusive numeric range. ``not_after_end``: a date that may not lie
    after the data's end date. ``finite``: a number that may not be NaN or infinite.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    default: str | None = None
    min: float | None = None
    max: float | None = None
    not_after_end: bool = False
    allowed: tuple[str, ...] | None = None
    finite: bool = False  # a number must be finite (no NaN or infinity)


@dataclass(frozen=True)
class OrderRule:
    """``later`` must be on or after ``earlier`` wherever both are present."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Table:
    """One contract table: its columns, primary key and time column (its "as-of" date)."""

    name: str
    columns: tuple[Column, ...]
    required: bool
    key: tuple[str, ...]
    time_column: str | None
    order_rules: tuple[OrderRule, ...] = field(default=())
    description: str = ""
    context: tuple[str, ...] = ()  # shown with the keys in every violation's sample rows

    def column(self, name: str) -> Column:
        """Return the contract column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no contract column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of every contract column, in contract order."""
        return tuple(c.name for c in self.columns)


# Column names shared by many tables.
ACCOUNT_ID = "account_id"
SNAPSHOT_DATE = "snapshot_date"
EVENT_TYPE = "event_type"  # what features.event_types and per-type columns refer to

ROLES = ("champion", "executive_sponsor", "admin", "user")
SEVERITIES = ("P1", "P2", "P3", "P4")
INVOICE_STATUSES = ("paid", "open", "failed", "void")
SEGMENTS = ("enterprise", "mid_market", "smb")

ACCOUNTS = Table(
    name="accounts",
    required=True,
    key=(ACCOUNT_ID,),
    time_column="created_at",
    description="One row per customer account.",
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("name", Kind.TEXT, required=False, nullable=True, default="NULL"),
        Column("owner", Kind.TEXT, required=False, nullable=True, default="NULL"),
        Column("segment", Kind.TEXT),
        Column("industry", Kind.TEXT, required=False, nullable=True, default="NULL"),
        Column("created_at", Kind.DATE, not_after_end=True),
    ),
)

SUBSCRIPTIONS = Table(
    name="subscriptions",
    required=False,
    key=("subscription_id",),
    time_column="start_date",
    description=(
        "Contract periods. A seat or price change ends one row and starts the next on the same "
        "day; end_date is NULL while the subscription is active (exclusive: the first day "
        "without coverage). Optional: without it an account is a customer from its first "
        "activity (or created_at) until it churns by inactivity, and revenue comes from "
        "events.amount."
    ),
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("subscription_id", Kind.ID),
        Column("start_date", Kind.DATE, not_after_end=True),
        Column("end_date", Kind.DATE, nullable=True, not_after_end=True),
        Column("arr", Kind.FLOAT, min=0),
        Column("seats", Kind.INT, required=False, nullable=True, default="NULL", min=0),
        Column("plan", Kind.TEXT, required=False, nullable=True, default="NULL"),
        Column("term_months", Kind.INT, required=False, default="12", min=1, max=120),
    ),
    order_rules=(OrderRule("start_date", "end_date"),),
)

EVENTS = Table(
    name="events",
    required=True,
    key=(),  # event logs legitimately repeat rows
    time_column="occurred_at",
    description=(
        "Product usage or purchases: raw events or pre-aggregated daily usage (same shape). "
        "`amount` is the revenue of a row (a purchase's basket value); NULL or absent: no "
        "revenue. A row with an amount counts as a purchase."
    ),
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("occurred_at", Kind.DATE, not_after_end=True),
        Column(EVENT_TYPE, Kind.TEXT),
        Column("user_id", Kind.ID, required=False, nullable=True, default="NULL"),
        Column("quantity", Kind.FLOAT, required=False, default="1", min=0),
        Column("amount", Kind.FLOAT, required=False, nullable=True, default="NULL", min=0,
               finite=True),
    ),
)

CONTACTS = Table(
    name="contacts",
    required=False,
    key=("contact_id",),
    time_column="started_at",
    description="People at the customer and their role; ended_at when they left.",
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("contact_id", Kind.ID),
        Column("role", Kind.TEXT),
        Column("department", Kind.TEXT, required=False, nullable=True, default="NULL"),
        Column("started_at", Kind.DATE, not_after_end=True),
        Column("ended_at", Kind.DATE, nullable=True, not_after_end=True),
    ),
    order_rules=(OrderRule("started_at", "ended_at"),),
)

INVOICES = Table(
    name="invoices",
    required=False,
    key=("invoice_id",),
    time_column="issued_at",
    description="Invoices; a payment failure is known on its due date.",
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("invoice_id", Kind.ID),
        Column("issued_at", Kind.DATE, not_after_end=True),
        Column("due_at", Kind.DATE),
        Column("paid_at", Kind.DATE, nullable=True, not_after_end=True),
        Column("amount", Kind.FLOAT, min=0),
        Column("status", Kind.TEXT, allowed=INVOICE_STATUSES),
    ),
    order_rules=(OrderRule("issued_at", "due_at"), OrderRule("issued_at", "paid_at")),
)

TICKETS = Table(
    name="tickets",
    required=False,
    key=("ticket_id",),
    time_column="opened_at",
    description="Support tickets; escalated/reopened/csat are known once the ticket closes.",
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("ticket_id", Kind.ID),
        Column("opened_at", Kind.DATE, not_after_end=True),
        Column("closed_at", Kind.DATE, nullable=True, not_after_end=True),
        Column("severity", Kind.TEXT, allowed=SEVERITIES),
        Column("escalated", Kind.BOOL, required=False, default="FALSE"),
        Column("reopened", Kind.BOOL, required=False, default="FALSE"),
        Column("csat", Kind.FLOAT, required=False, nullable=True, default="NULL", min=1, max=5),
    ),
    order_rules=(OrderRule("opened_at", "closed_at"),),
)

SURVEYS = Table(
    name="surveys",
    required=False,
    key=(),
    time_column="responded_at",
    description="NPS survey responses.",
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("responded_at", Kind.DATE, not_after_end=True),
        Column("nps", Kind.INT, min=0, max=10),
    ),
)

TOUCHPOINTS = Table(
    name="touchpoints",
    required=False,
    key=(),
    time_column="occurred_at",
    description="Customer-success touchpoints: qbr, meeting, training, ...",
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("occurred_at", Kind.DATE, not_after_end=True),
        Column("kind", Kind.TEXT),
    ),
)

METRICS = Table(
    name="metrics",
    required=False,
    key=(),  # several measurements of one metric on one day are averaged
    time_column="measured_at",
    context=("measured_at", "metric"),
    description=(
        "History of account metric snapshots in long form (CRM, billing or warehouse fields: "
        "seats used, open opportunities, a health field, ...); a wide export with one column "
        "per metric is melted into this shape by the `wide:` source option. A NULL value means "
        "not measured; the row is ignored."
    ),
    columns=(
        Column(ACCOUNT_ID, Kind.ID),
        Column("measured_at", Kind.DATE, not_after_end=True),
        Column("metric", Kind.TEXT),
        Column("value", Kind.FLOAT, nullable=True, finite=True),
    ),
)
WIDE_KEY_COLUMNS = (ACCOUNT_ID, "measured_at")  # the columns a wide metrics export keeps

TABLES: dict[str, Table] = {
    t.name: t
    for t in (ACCOUNTS, SUBSCRIPTIONS, EVENTS, CONTACTS, INVOICES, TICKETS, SURVEYS, TOUCHPOINTS,
              METRICS)
}
REQUIRED_TABLES = tuple(name for name, t in TABLES.items() if t.required)
OPTIONAL_TABLES = tuple(name for name, t in TABLES.items() if not t.required)
