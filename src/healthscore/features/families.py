"""Feature families: how each source table is joined to the spine, point-in-time.

This module is where the cut-off is guaranteed, once for every feature of a family:
- a row joins a snapshot only when its time column is strictly before the snapshot date (and
  within the family's look-back, when it has one);
- columns that become known later than the row's own date (an invoice's ``paid_at``, a
  contact's ``ended_at``) are masked to NULL unless the date they become known is itself
  before the snapshot.
Feature SQL only ever sees ``t`` (the masked rows) and ``s`` (the spine row). The families
whose source is already one row per account and snapshot (``per_snapshot``: lifetime totals,
ticket totals) guarantee the same in their own SQL, which says how (a ticket's ``closed_at``
and what its closing reveals count only once it is before the snapshot).

One family is not SQL: ``metrics`` (any account metric's history) is computed by the kernel
in :mod:`healthscore.features.metrics` from the rows of its source here, for speed at
hundreds of millions of rows; its cut-off is that module's ``_first_not_before``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from healthscore.features.registry import slug
from healthscore.features.snapshots import SPINE
from healthscore.features.sql import Renderer, duckdb_renderer


@dataclass(frozen=True)
class Family:
    """A source table as features see it.

    ``source``: a table or a SQL relation (pre-aggregation) with ``account_id`` and
    ``time_column``; empty when ``prepare`` makes it. ``lookback_days``: rows older than
    this never matter (None = all history; a ``per_snapshot`` family's SQL applies its own,
    declared here for the catalogue). ``known_at``: column -> the column holding the
    date it becomes known. ``requires``: tables that must be present for the family to
    exist. ``columns`` empty: every column of the source. ``prepare``: a SELECT (given the
    template values found in the data) that the engine materialises once, under a name of
    its build, as the family's source. ``per``: first reduce the joined rows to one row per
    (account, snapshot, key) with the given aggregate columns (e.g. one row per user with
    window flags), so that features
    count those rows instead of needing count(DISTINCT ...) over every raw row.
    ``asof``: the source holds running totals per account and day; each snapshot is joined to
    its account's latest row strictly before it. ``per_snapshot``: the source already holds
    one row per (account, snapshot_date), computed only from rows strictly before that date
    (its SQL guarantees the cut-off, as :func:`activity_days_sql` does).
    """

    name: str
    source: str
    time_column: str
    columns: tuple[str, ...]
    requires: tuple[str, ...]
    lookback_days: int | None = None
    known_at: dict[str, str] = field(default_factory=dict)
    probe: str | None = None  # SQL returning a count; 0 switches the family off
    prepare: Callable[[list[str], Renderer], str] | None = None
    per: tuple[str, dict[str, str]] | None = None  # (key, columns): regroup rows by key first
    asof: bool = False  # running totals: each snapshot sees only its account's latest row
    per_snapshot: bool = False  # the source has one row per (account, snapshot_date) already

    def joined_rows_sql(self, source: str | None = None,
                        render: Renderer | None = None) -> str:
        """Rows of the family joined to the spine, cut off and masked as of each snapshot.

        Rows meet snapshots through a small map from each day to the snapshots that see it
        (day < snapshot, within the look-back): an equality join. Rows of accounts that are
        not in the spine drop out in :meth:`features_sql`'s join to the spine. A
        ``per_snapshot`` family's rows are already one per account and snapshot. An ``asof``
        family's rows carry running totals over the rows up to their own day; each snapshot
        is joined to its account's latest row dated strictly before it. ``source``: the
        relation to read instead of the declared one (a prepared table); ``render``: the
        engine's renderer (DuckDB by default).
        """
        source = source or self.source
        render = render or duckdb_renderer()
        if self.per_snapshot:
            return f"SELECT x.* FROM ({source}) x"
        if self.asof:
            join = render.latest_row_join(SPINE, f"({source})", "account_id", "snapshot_date",
                                          self.time_column)
            return f"SELECT x.*, s.snapshot_date {join}"
        selected = [] if self.columns else [
            render.all_columns_except("x", ["account_id", self.time_column]),
            f"x.{self.time_column}"]
        for col in self.columns:
            gate = self.known_at.get(col)
            if gate is None:
                selected.append(f"x.{col}")
            else:
                selected.append(
                    f"CASE WHEN x.{gate} < dm.snapshot_date THEN x.{col} END AS {col}"
                )
        if self.lookback_days is None:
            days = f"SELECT DISTINCT {self.time_column} AS day FROM ({source})"
            window = "m.day < d.snapshot_date"
        else:
            series = render.day_series(f"min(snapshot_date) - {self.lookback_days}",
                                       "max(snapshot_date)")
            days = f"SELECT {series} AS day FROM snapshot_dates"
            window = (f"m.day < d.snapshot_date "
                      f"AND m.day >= d.snapshot_date - {self.lookback_days}")
        return f"""
            WITH day_map AS (
                SELECT m.day, d.snapshot_date FROM ({days}) m JOIN snapshot_dates d
                  ON {window}
            )
            SELECT x.account_id, dm.snapshot_date, {", ".join(selected)}
            FROM ({source}) x
            JOIN day_map dm ON dm.day = x.{self.time_column}
        """

    def features_sql(self, expressions: dict[str, str], source: str | None = None,
                     render: Renderer | None = None) -> str:
        """One row per spine row with every feature expression of this family (read from
        ``source`` instead of the declared relation when given)."""
        exprs = ",\n               ".join(f"{sql} AS {name}" for name, sql in expressions.items())
        rows = self.joined_rows_sql(source, render)
        if self.per is not None:
            key, columns = self.per
            aggregates = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
            rows = f"""
                SELECT t.account_id, t.snapshot_date, t.{key}, {aggregates}
                FROM ({rows}) t GROUP BY t.account_id, t.snapshot_date, t.{key}"""
        return f"""
            WITH t AS ({rows})
            SELECT s.account_id, s.snapshot_date,
               {exprs}
            FROM {SPINE} s LEFT JOIN t
              ON t.account_id = s.account_id AND t.snapshot_date = s.snapshot_date
            GROUP BY s.account_id, s.snapshot_date
        """


MAX_TYPE_BITS = 64


def type_column(event_type: str) -> str:
    """Column of the daily usage table holding one event type's quantity."""
    return f"q__{slug(event_type)}"


USAGE_LOOKBACK_DAYS = 90
# every day boundary the usage features compare a day with: the snapshot itself, 7, 30, 60
# and 90 days before it (weeks are read from each segment's day mask instead)
USAGE_CUTS = (0, 7, 30, 60, USAGE_LOOKBACK_DAYS)
SEGMENT_DAYS = 30  # no usage segment is longer (the largest gap between two cuts above)


def window_segments_sql(offsets: tuple[int, ...], lookback_days: int, render: Renderer) -> str:
    """Every day within ``lookback_days`` before some snapshot (``day``) with the first day of
    its *segment* (``start``): the days from one cut (a snapshot date minus one of
    ``offsets``, which must include 0 and ``lookback_days``) up to the next. No cut falls
    inside a segment, so a comparison of a day with any snapshot's cut has the same answer for
    every day of its segment, and a segment lies wholly inside or wholly outside each
    snapshot's look-back; it is at most as long as the largest gap between two offsets."""
    values = ", ".join(f"({int(o)})" for o in sorted(set(offsets)))
    series = render.day_series(f"snapshot_date - {int(lookback_days)}", "snapshot_date - 1")
    return f"""
        WITH cuts AS (
            SELECT DISTINCT d.snapshot_date - o.days AS start
            FROM snapshot_dates d CROSS JOIN (VALUES {values}) AS o(days)
        ), days AS (
            SELECT DISTINCT w.day FROM (SELECT {series} AS day FROM snapshot_dates) w
        )
        SELECT days.day, max(cuts.start) AS start
        FROM days JOIN cuts ON cuts.start <= days.day GROUP BY days.day
    """


def usage_segments_sql(event_types: list[str], render: Renderer) -> str:
    """Usage per account and segment (see :func:`window_segments_sql`; ``day`` is the
    segment's first day): total quantity, the quantity weighted by each event's day within
    the segment (``quantity_offset``: what a trend needs besides the total), a mask of the
    segment's days with any event (``day_mask``, bit 0 = its first day), a bitmask of the
    event types used (breadth without count(DISTINCT); types beyond the 64th share bits) and
    one quantity column per event type that has per-type features.

    Every window the usage features sum over is a union of whole segments, so each
    snapshot reads a few segment rows per account instead of every active day (cost: events
    + account-segments x the three snapshots that see a segment)."""
    columns = "".join(
        f", sum(e.quantity) FILTER (WHERE e.event_type = {render.literal(value)})"
        f" AS {type_column(value)}" for value in event_types
    )
    offset = "(e.occurred_at - g.start)"
    return f"""
        WITH types AS (
            SELECT event_type,
                   CAST((dense_rank() OVER (ORDER BY event_type) - 1) % {MAX_TYPE_BITS}
                        AS INTEGER) AS bit
            FROM (SELECT DISTINCT event_type FROM events)
        )
        SELECT e.account_id, g.start AS day, sum(e.quantity) AS quantity,
               sum({offset} * e.quantity) AS quantity_offset,
               bit_or({render.bit(f"CAST({offset} AS INTEGER)")}) AS day_mask,
               bit_or({render.bit("t.bit")}) AS type_mask{columns}
        FROM events e JOIN types t USING (event_type)
        JOIN ({window_segments_sql(USAGE_CUTS, USAGE_LOOKBACK_DAYS, render)}) g
          ON g.day = e.occurred_at
        GROUP BY e.account_id, g.start
    """


def next_snapshot_sql(days: str) -> str:
    """Each day of the relation ``days`` (a column ``day``) with the first snapshot date
    strictly after it (``snapshot_date``): the snapshot from which on the day is history.
    Days on or after the last snapshot have none and drop out."""
    return f"""
        SELECT m.day, min(d.snapshot_date) AS snapshot_date
        FROM (SELECT DISTINCT day FROM ({days}) x) m JOIN snapshot_dates d
          ON m.day < d.snapshot_date
        GROUP BY m.day
    """


def activity_days_sql(_: list[str], render: Renderer, purchases_only: bool = False) -> str:
    """Lifetime totals per account as of every snapshot date (one row per account and
    snapshot with an activity day before it; with ``purchases_only`` only days with an
    amount count): the last activity day before the snapshot (``day``), days active so far,
    purchases and revenue so far, the first day, the last purchase day, and the count, sum
    and sum of squares of the gaps in days between consecutive activity days.

    Cost grows with account-days plus accounts x snapshots, not account-days x snapshots:
    each activity day is summed into the first snapshot after it, and the snapshots' totals
    are running sums over the (account, snapshot) grid. A day counts for a snapshot only
    when it is strictly before it, so a snapshot sees nothing on or after its own date."""
    where = "WHERE amount IS NOT NULL" if purchases_only else ""
    running = {
        "day": "max(b.day)", "first_day": "min(b.first_day)",
        "active_days": "sum(b.active_days)", "purchases": "sum(b.purchases)",
        "revenue": "sum(b.revenue)", "last_purchase_day": "max(b.last_purchase_day)",
        "gaps": "sum(b.gaps)", "gap_sum": "sum(b.gap_sum)", "gap_squares": "sum(b.gap_squares)",
    }
    totals = ",\n               ".join(f"{sql} OVER w AS {name}" for name, sql in running.items())
    return f"""
        WITH d AS (
            SELECT account_id, occurred_at AS day, count(amount) AS purchases,
                   coalesce(sum(amount), 0) AS revenue
            FROM events {where} GROUP BY account_id, occurred_at
        ), g AS (
            SELECT *, day - lag(day) OVER (PARTITION BY account_id ORDER BY day) AS gap
            FROM d
        ), b AS (
            SELECT g.account_id, n.snapshot_date, max(g.day) AS day, min(g.day) AS first_day,
                   count(*) AS active_days, sum(g.purchases) AS purchases,
                   sum(g.revenue) AS revenue,
                   max(CASE WHEN g.purchases > 0 THEN g.day END) AS last_purchase_day,
                   count(g.gap) AS gaps, sum(g.gap) AS gap_sum,
                   sum(CAST(g.gap AS DOUBLE) * g.gap) AS gap_squares
            FROM g JOIN ({next_snapshot_sql("SELECT day FROM d")}) n ON n.day = g.day
            GROUP BY g.account_id, n.snapshot_date
        ), grid AS (
            SELECT a.account_id, d.snapshot_date
            FROM (SELECT DISTINCT account_id FROM b) a CROSS JOIN snapshot_dates d
        ), c AS (
            SELECT grid.account_id, grid.snapshot_date,
               {totals}
            FROM grid LEFT JOIN b
              ON b.account_id = grid.account_id AND b.snapshot_date = grid.snapshot_date
            WINDOW w AS (PARTITION BY grid.account_id ORDER BY grid.snapshot_date
                         ROWS UNBOUNDED PRECEDING)
        )
        SELECT * FROM c WHERE day IS NOT NULL
    """


def purchase_days_sql(values: list[str], render: Renderer) -> str:
    """:func:`activity_days_sql` over purchase days only (rows with an amount)."""
    return activity_days_sql(values, render, purchases_only=True)


TICKETS_LOOKBACK_DAYS = 365
HIGH_SEVERITY = "x.severity IN ('P1', 'P2')"
P1 = "x.severity = 'P1'"
_S = "dm.snapshot_date"
_CLOSED = f"x.closed_at < {_S}"  # closed, and so its outcome known, before the snapshot
_OPEN = f"NOT coalesce({_CLOSED}, FALSE)"  # not closed before the snapshot


def _opened_in_last(days: int) -> str:
    return f"x.opened_at >= {_S} - {days}"


def _closed_in_last(days: int) -> str:
    return f"{_CLOSED} AND x.closed_at >= {_S} - {days}"


# per account and snapshot, over its tickets opened in the look-back before the snapshot
TICKET_TOTALS = {
    "opened_30d": f"count(*) FILTER (WHERE {_opened_in_last(30)})",
    "opened_90d": f"count(*) FILTER (WHERE {_opened_in_last(90)})",
    "high_opened_30d": f"count(*) FILTER (WHERE {HIGH_SEVERITY} AND {_opened_in_last(30)})",
    "high_opened_90d": f"count(*) FILTER (WHERE {HIGH_SEVERITY} AND {_opened_in_last(90)})",
    "p1_opened_30d": f"count(*) FILTER (WHERE {P1} AND {_opened_in_last(30)})",
    "p1_open": f"count(*) FILTER (WHERE {P1} AND {_OPEN})",
    "high_open": f"count(*) FILTER (WHERE {HIGH_SEVERITY} AND {_OPEN})",
    "reopened_closed_90d": f"count(*) FILTER (WHERE x.reopened AND {_closed_in_last(90)})",
    "escalated_closed_90d": f"count(*) FILTER (WHERE x.escalated AND {_closed_in_last(90)})",
    "resolution_days_median_180d":
        f"median(x.closed_at - x.opened_at) FILTER (WHERE {_closed_in_last(180)})",
    "csat_mean_180d": f"avg(x.csat) FILTER (WHERE {_closed_in_last(180)})",
}
# a ticket that none of the totals counts: opened more than 90 days before, closed before the
# snapshot (or not high severity) and not within the last 180 days
TICKET_COUNTS = (f"{_opened_in_last(90)} OR ({HIGH_SEVERITY} AND {_OPEN}) "
                 f"OR ({_closed_in_last(180)})")


def tickets_snapshots_sql(_: list[str], render: Renderer) -> str:
    """Ticket totals per account and snapshot date (:data:`TICKET_TOTALS`, one column each),
    over the tickets opened in the 365 days before the snapshot; a ticket's ``closed_at``,
    and what its closing reveals (``escalated``, ``reopened``, ``csat``), count only once it
    is before the snapshot. One row per account and snapshot with a ticket that counts.

    Each ticket meets the snapshots of the year after it opens (a map from days to
    snapshots: an equality join), and those it counts for in none of the totals are dropped
    before the totals are taken. The previous, generic form (every ticket of the look-back
    joined to the spine with masked columns, then aggregated per spine row) ran out of
    DuckDB's 2 GB at 100k accounts on its own: a median (whose state holds every value of
    its group) over 16.7 million joined rows; with max() in its place it ran in 4.3 s."""
    days = render.day_series(f"min(snapshot_date) - {TICKETS_LOOKBACK_DAYS}",
                             "max(snapshot_date)")
    totals = ",\n               ".join(f"{sql} AS {name}" for name, sql in TICKET_TOTALS.items())
    return f"""
        SELECT x.account_id, {_S} AS snapshot_date,
               {totals}
        FROM tickets x JOIN (
            SELECT m.day, d.snapshot_date FROM (SELECT {days} AS day FROM snapshot_dates) m
            JOIN snapshot_dates d ON m.day < d.snapshot_date
              AND m.day >= d.snapshot_date - {TICKETS_LOOKBACK_DAYS}
        ) dm ON dm.day = x.opened_at
        WHERE {TICKET_COUNTS}
        GROUP BY x.account_id, {_S}
    """


HAS_AMOUNTS = ("SELECT count(*) FROM (SELECT 1 FROM events WHERE amount IS NOT NULL LIMIT 1)")

USERS_RECENT_DAYS = 30  # users' windows: the last 30 days and the 30 days before


def users_segments_sql(_: list[str], render: Renderer) -> str:
    """Distinct active users per account and *segment*, a segment being a run of days that
    no snapshot's window boundary (the snapshot, 30 and 60 days before it) cuts: every
    comparison the ``users`` family makes of a day with a snapshot's boundaries has the same
    answer for every day of a segment, so each user counts once per segment instead of
    once per day (about half the rows at 100k accounts). ``day`` is the segment's first day;
    days outside every snapshot's look-back drop out."""
    offsets = ", ".join(f"({k * USERS_RECENT_DAYS})" for k in range(3))
    return f"""
        WITH cuts AS (
            SELECT DISTINCT d.snapshot_date - o.days AS start
            FROM snapshot_dates d CROSS JOIN (VALUES {offsets}) AS o(days)
        ), days AS (
            SELECT {render.day_series("min(start)", "max(start) - 1")} AS day FROM cuts
        ), segments AS (
            SELECT days.day, max(cuts.start) AS start
            FROM days JOIN cuts ON cuts.start <= days.day GROUP BY days.day
        )
        SELECT DISTINCT e.account_id, segments.start AS day, e.user_id
        FROM events e JOIN segments ON segments.day = e.occurred_at
        WHERE e.user_id IS NOT NULL
    """


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("usage", "", "day", (), requires=("events",),
               lookback_days=USAGE_LOOKBACK_DAYS, prepare=usage_segments_sql),
        Family("users", "", "day", ("day", "user_id"), requires=("events",),
               lookback_days=2 * USERS_RECENT_DAYS, prepare=users_segments_sql,
               probe="SELECT count(*) FROM (SELECT 1 FROM events WHERE user_id IS NOT NULL "
                     "LIMIT 1)",
               per=("user_id", {
                   "active_30d": f"bool_or(t.day >= t.snapshot_date - {USERS_RECENT_DAYS})",
                   "active_prior_30d": f"bool_or(t.day < t.snapshot_date - {USERS_RECENT_DAYS})",
               })),
        Family("activity", "", "day", (), requires=("events",),
               per_snapshot=True, prepare=activity_days_sql),
        Family("purchases", "", "day", (), requires=("events",),
               per_snapshot=True, prepare=purchase_days_sql, probe=HAS_AMOUNTS),
        Family("revenue", "SELECT account_id, occurred_at AS day, amount FROM events "
               "WHERE amount IS NOT NULL", "day", ("day", "amount"), requires=("events",),
               lookback_days=365, probe=HAS_AMOUNTS),
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
        Family("tickets", "", "snapshot_date", (), requires=("tickets",),
               lookback_days=TICKETS_LOOKBACK_DAYS,  # applied by tickets_snapshots_sql
               per_snapshot=True, prepare=tickets_snapshots_sql),
        Family("surveys", "SELECT * FROM surveys", "responded_at", ("responded_at", "nps"),
               requires=("surveys",)),
        Family("touchpoints", "SELECT * FROM touchpoints", "occurred_at",
               ("occurred_at", "kind"), requires=("touchpoints",), lookback_days=365),
    )
}

METRICS_FAMILY = "metrics"
FAMILIES[METRICS_FAMILY] = Family(
    METRICS_FAMILY, "SELECT account_id, measured_at, metric, value FROM metrics "
    "WHERE value IS NOT NULL", "measured_at", ("measured_at", "metric", "value"),
    requires=("metrics",),
    probe="SELECT count(*) FROM (SELECT 1 FROM metrics WHERE value IS NOT NULL LIMIT 1)")

# Features computed directly from spine columns (already as of the snapshot).
SPINE_FAMILY = "spine"
