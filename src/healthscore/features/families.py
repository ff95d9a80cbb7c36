"""Feature families: how each source table is joined to the spine, point-in-time.

This module is where the cut-off is guaranteed, once for every feature of a family:
- a row joins a snapshot only when its time column is strictly before the snapshot date (and
  within the family's look-back, when it has one);
- columns that become known later than the row's own date (a ticket's ``closed_at`` and its
  ``csat``, an invoice's ``paid_at``, a contact's ``ended_at``) are masked to NULL unless the
  date they become known is itself before the snapshot.
Feature SQL only ever sees ``t`` (the masked rows) and ``s`` (the spine row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from healthscore.features.snapshots import SPINE


@dataclass(frozen=True)
class Family:
    """A source table as features see it.

    ``source``: a table or a SQL relation (pre-aggregation) with ``account_id`` and
    ``time_column``. ``lookback_days``: rows older than this never matter (None = all
    history). ``known_at``: column -> the column holding the date it becomes known.
    ``requires``: tables that must be present for the family to exist.
    """

    name: str
    source: str
    time_column: str
    columns: tuple[str, ...]
    requires: tuple[str, ...]
    lookback_days: int | None = None
    known_at: dict[str, str] = field(default_factory=dict)
    probe: str | None = None  # SQL returning a count; 0 switches the family off

    def joined_rows_sql(self) -> str:
        """Rows of the family joined to the spine, cut off and masked as of each snapshot."""
        selected = []
        for col in self.columns:
            gate = self.known_at.get(col)
            if gate is None:
                selected.append(f"x.{col}")
            else:
                selected.append(
                    f"CASE WHEN x.{gate} < sp.snapshot_date THEN x.{col} END AS {col}"
                )
        window = (
            f" AND x.{self.time_column} >= sp.snapshot_date - {self.lookback_days}"
            if self.lookback_days is not None else ""
        )
        return f"""
            SELECT sp.account_id, sp.snapshot_date, {", ".join(selected)}
            FROM {SPINE} sp JOIN ({self.source}) x
              ON x.account_id = sp.account_id
             AND x.{self.time_column} < sp.snapshot_date{window}
        """

    def features_sql(self, expressions: dict[str, str]) -> str:
        """One row per spine row with every feature expression of this family."""
        exprs = ",\n               ".join(f"{sql} AS {name}" for name, sql in expressions.items())
        return f"""
            WITH t AS ({self.joined_rows_sql()})
            SELECT s.account_id, s.snapshot_date,
               {exprs}
            FROM {SPINE} s LEFT JOIN t
              ON t.account_id = s.account_id AND t.snapshot_date = s.snapshot_date
            GROUP BY s.account_id, s.snapshot_date
        """


# Events pre-aggregated per account, day and type: the usage features never need finer rows.
EVENTS_DAILY = """
    SELECT account_id, occurred_at AS day, event_type, sum(quantity) AS quantity
    FROM events GROUP BY ALL
"""
# Distinct active users per account and day (for active-user counts and utilisation).
USERS_DAILY = """
    SELECT DISTINCT account_id, occurred_at AS day, user_id
    FROM events WHERE user_id IS NOT NULL
"""

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("usage", EVENTS_DAILY, "day", ("day", "event_type", "quantity"),
               requires=("events",), lookback_days=90),
        Family("users", USERS_DAILY, "day", ("day", "user_id"), requires=("events",),
               lookback_days=60,
               probe="SELECT count(*) FROM (SELECT 1 FROM events WHERE user_id IS NOT NULL "
                     "LIMIT 1)"),
        Family("contacts", "SELECT * FROM contacts", "started_at",
               ("started_at", "ended_at", "role", "department", "contact_id"),
               requires=("contacts",), known_at={"ended_at": "ended_at"}),
        Family("invoices", "SELECT * FROM invoices", "issued_at",
               ("issued_at", "due_at", "paid_at", "amount", "status"),
               requires=("invoices",), lookback_days=730,
               known_at={"paid_at": "paid_at", "status": "due_at"}),
        Family("subscriptions", "SELECT * FROM subscriptions", "start_date",
               ("start_date", "end_date", "arr", "seats"), requires=("subscriptions",),
               known_at={"end_date": "end_date"}),
        Family("tickets", "SELECT * FROM tickets", "opened_at",
               ("opened_at", "closed_at", "severity", "escalated", "reopened", "csat"),
               requires=("tickets",), lookback_days=365,
               known_at={"closed_at": "closed_at", "escalated": "closed_at",
                         "reopened": "closed_at", "csat": "closed_at"}),
        Family("surveys", "SELECT * FROM surveys", "responded_at", ("responded_at", "nps"),
               requires=("surveys",)),
        Family("touchpoints", "SELECT * FROM touchpoints", "occurred_at",
               ("occurred_at", "kind"), requires=("touchpoints",), lookback_days=365),
    )
}

# Features computed directly from spine columns (already as of the snapshot).
SPINE_FAMILY = "spine"
