"""The snapshot spine (one row per active account and snapshot date) and its labels.

Time convention: a snapshot dated ``s`` is taken at the *start* of day ``s``. Features see only
data dated strictly before ``s``; labels look at days ``s`` .. ``s + horizon - 1`` (the
horizon following the snapshot instant). Subscription ``end_date`` is exclusive: the first day
without coverage, which is also the churn date.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb
import pandas as pd

from healthscore.data.dataset import Dataset
from healthscore.data.loaders import fetch_row
from healthscore.errors import ParameterError
from healthscore.features.settings import FeatureConfig, SnapshotSchedule

log = logging.getLogger(__name__)

FAR_FUTURE = "DATE '9999-12-31'"
SPINE = "spine"
CONTEXT_COLUMNS = (
    "segment", "lifecycle_stage", "tenure_days", "arr", "seats", "plan", "term_months",
    "days_to_renewal", "in_renewal_window",
)
LABEL_COLUMNS = ("label_churn", "label_expansion", "label_observed")
RENEWAL_WINDOW_DAYS = 90


def date_sql(day: dt.date) -> str:
    """A DuckDB DATE literal."""
    return f"DATE '{day.isoformat()}'"


def first_of_next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day`` (``day`` itself when it is a first)."""
    if day.day == 1:
        return day
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def snapshot_dates(schedule: SnapshotSchedule, data_start: dt.date, data_end: dt.date) -> list[
    dt.date
]:
    """Snapshot dates: firsts of months (or Mondays) between the schedule's bounds.

    Default bounds: ``warmup_days`` after ``data_start`` (the later of the first subscription
    and the first event), up to the day after the data ends (a snapshot then sees every row;
    its labels are not observed yet).
    """
    start = schedule.start or data_start + dt.timedelta(days=schedule.warmup_days)
    end = schedule.end or data_end + dt.timedelta(days=1)
    if schedule.every == "month":
        current = first_of_next_month(start)
        dates = []
        while current <= end:
            dates.append(current)
            current = first_of_next_month(current + dt.timedelta(days=1))
    else:
        current = start + dt.timedelta(days=(7 - start.weekday()) % 7)
        dates = []
        while current <= end:
            dates.append(current)
            current += dt.timedelta(days=7)
    if not dates:
        raise ParameterError(
            "features.snapshots", f"a schedule with at least one date in [{start}, {end}]",
            schedule.model_dump(mode="json"),
        )
    return dates


@dataclass(frozen=True)
class SpineInfo:
    """What the spine covers."""

    dates: list[dt.date]
    rows: int


def register_snapshot_dates(con: duckdb.DuckDBPyConnection, dates: list[dt.date]) -> None:
    """(Re)create the temp table ``snapshot_dates``."""
    values = ", ".join(f"({date_sql(d)})" for d in dates)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE snapshot_dates AS "
        f"SELECT col0 AS snapshot_date FROM (VALUES {values})"
    )


def subscription_blocks_sql(grace_days: int) -> str:
    """Continuous customer periods per account: subscriptions merged across gaps of at most
    ``grace_days``. A block's ``block_end`` (exclusive) is a churn date unless open-ended."""
    return f"""
        WITH s AS (
            SELECT account_id, start_date, coalesce(end_date, {FAR_FUTURE}) AS end_d
            FROM subscriptions
        ), o AS (
            SELECT *, max(end_d) OVER (
                PARTITION BY account_id ORDER BY start_date, end_d
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM s
        ), b AS (
            SELECT *, sum(CASE WHEN prev_end IS NULL OR start_date > prev_end + {grace_days}
                               THEN 1 ELSE 0 END) OVER (
                PARTITION BY account_id ORDER BY start_date, end_d
                ROWS UNBOUNDED PRECEDING) AS block
            FROM o
        )
        SELECT account_id, block, min(start_date) AS block_start, max(end_d) AS block_end
        FROM b GROUP BY ALL
    """


def arr_covering_sql(day_expr: str) -> str:
    """Per (account, snapshot): ARR of subscriptions covering day ``day_expr``."""
    return f"""
        SELECT d.snapshot_date, sub.account_id, sum(sub.arr) AS arr,
               sum(sub.seats) AS seats
        FROM snapshot_dates d JOIN subscriptions sub
          ON sub.start_date <= {day_expr}
         AND (sub.end_date IS NULL OR sub.end_date > {day_expr})
        GROUP BY ALL
    """


def build_spine(dataset: Dataset, config: FeatureConfig, dates: list[dt.date]) -> SpineInfo:
    """Create the temp table ``spine``: active accounts per snapshot, context and labels."""
    con = dataset.con
    register_snapshot_dates(con, dates)
    h = config.horizon_days
    grace = config.churn.grace_days if config.churn.definition == "contract" else 0
    end = date_sql(dataset.end_date)
    con.execute(f"CREATE OR REPLACE TEMP TABLE sub_blocks AS {subscription_blocks_sql(grace)}")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE contract_state AS
        WITH active AS (
            SELECT d.snapshot_date, sub.*
            FROM snapshot_dates d JOIN subscriptions sub
              ON sub.start_date < d.snapshot_date
             AND (sub.end_date IS NULL OR sub.end_date >= d.snapshot_date)
        ), per AS (
            SELECT account_id, snapshot_date, sum(arr) AS arr, sum(seats) AS seats,
                   arg_max(plan, arr) AS plan, arg_max(term_months, start_date) AS term_months
            FROM active GROUP BY ALL
        ), anchored AS (
            SELECT p.*, b.block_start, b.block_end,
                   (date_diff('month', b.block_start, p.snapshot_date) // p.term_months)
                       * p.term_months AS m0
            FROM per p JOIN sub_blocks b
              ON b.account_id = p.account_id AND b.block_start < p.snapshot_date
             AND b.block_end >= p.snapshot_date
        )
        SELECT *,
               CASE WHEN CAST(block_start + to_months(CAST(m0 AS INTEGER)) AS DATE)
                         >= snapshot_date
                    THEN CAST(block_start + to_months(CAST(m0 AS INTEGER)) AS DATE)
                    ELSE CAST(block_start + to_months(CAST(m0 + term_months AS INTEGER)) AS DATE)
               END AS renewal_date
        FROM anchored
    """)
    if config.churn.definition == "contract":
        population = "SELECT account_id, snapshot_date FROM contract_state"
        churn = f"(c.block_end < {FAR_FUTURE} AND c.block_end < c.snapshot_date + {h})"
        observed = f"(c.snapshot_date + {h + grace - 1} <= {end})"
    else:
        qualifying = _qualifying_events(config.churn.inactivity_event_types)
        population = f"""
            SELECT DISTINCT e.account_id, d.snapshot_date
            FROM snapshot_dates d JOIN events e
              ON e.occurred_at < d.snapshot_date AND e.occurred_at >= d.snapshot_date - {h}
            WHERE {qualifying}"""
        churn = f"""NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = p.account_id
                     AND e.occurred_at >= p.snapshot_date AND e.occurred_at < p.snapshot_date + {h}
                     AND {qualifying})"""
        observed = f"(p.snapshot_date + {h - 1} <= {end})"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE spine AS
        WITH population AS ({population}),
        later AS ({arr_covering_sql(f"d.snapshot_date + {h - 1}")})
        SELECT p.account_id, p.snapshot_date,
               a.segment,
               CASE WHEN p.snapshot_date - c.block_start < 90 THEN 'onboarding'
                    WHEN p.snapshot_date - c.block_start < 365 THEN 'adoption'
                    ELSE 'mature' END AS lifecycle_stage,
               p.snapshot_date - c.block_start AS tenure_days,
               c.arr, c.seats, c.plan, c.term_months,
               c.renewal_date - p.snapshot_date AS days_to_renewal,
               coalesce(c.renewal_date - p.snapshot_date <= {RENEWAL_WINDOW_DAYS}, FALSE)
                   AS in_renewal_window,
               {churn} AS label_churn,
               coalesce(NOT ({churn}) AND coalesce(l.arr, 0)
                   >= c.arr * {1 + config.expansion_pct}, FALSE) AS label_expansion,
               {observed} AS label_observed
        FROM population p
        JOIN accounts a ON a.account_id = p.account_id
        LEFT JOIN contract_state c
          ON c.account_id = p.account_id AND c.snapshot_date = p.snapshot_date
        LEFT JOIN later l ON l.account_id = p.account_id AND l.snapshot_date = p.snapshot_date
        ORDER BY p.snapshot_date, p.account_id
    """)
    (rows,) = fetch_row(con, "SELECT count(*) FROM spine")
    log.info("spine: %d rows over %d snapshots", rows, len(dates))
    return SpineInfo(dates=dates, rows=int(rows))


def _qualifying_events(event_types: list[str]) -> str:
    if not event_types:
        return "TRUE"
    quoted = ", ".join("'" + t.replace("'", "''") + "'" for t in event_types)
    return f"e.event_type IN ({quoted})"


def data_start(dataset: Dataset) -> dt.date:
    """When the history is complete enough to start taking snapshots: the later of the first
    subscription start and the first usage event (exports often carry old contracts but only
    recent usage)."""
    (first_sub,) = fetch_row(dataset.con, "SELECT min(start_date) FROM subscriptions")
    (first_event,) = fetch_row(dataset.con, "SELECT min(occurred_at) FROM events")
    if first_sub is None:
        raise ParameterError("subscriptions", "a non-empty table", "no rows")
    starts = [pd.Timestamp(d).date() for d in (first_sub, first_event) if d is not None]
    return max(starts)
