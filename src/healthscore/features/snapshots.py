"""The snapshot spine (one row per active account and snapshot date) and its labels.

Time convention: a snapshot dated ``s`` is taken at the *start* of day ``s``. Features see only
data dated strictly before ``s``; labels look at days ``s`` .. ``s + horizon - 1`` (the
horizon following the snapshot instant). Subscription ``end_date`` is exclusive: the first day
without coverage, which is also the churn date.

Survival labels (contract churn only): ``label_observed_days`` is how many days after the
snapshot the outcome is known (``end - s - grace + 1``: a churn on day ``d`` is confirmed once
``grace`` days without a new subscription have passed), and ``label_churn_days`` the day, counted
from the snapshot, on which the account churned, or NULL when no churn is confirmed within the
observed days. ``label_churn`` at horizon ``h`` equals ``label_churn_days < h`` wherever
``h <= label_observed_days``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb
import pandas as pd

from healthscore.data.dataset import Dataset
from healthscore.data.loaders import fetch_row
from healthscore.errors import ConfigError, ParameterError
from healthscore.features.scratch import Scratch
from healthscore.features.settings import FeatureConfig, SnapshotSchedule
from healthscore.features.sql import Renderer, duckdb_renderer
from healthscore.sql import literal, literal_list

log = logging.getLogger(__name__)

FAR_FUTURE_DAY = dt.date(9999, 12, 31)  # an open-ended block ends here
SPINE = "spine"
CONTEXT_COLUMNS = (
    "segment", "lifecycle_stage", "tenure_days", "arr", "seats", "plan", "term_months",
    "days_to_renewal", "in_renewal_window",
)
LABEL_COLUMNS = ("label_churn", "label_expansion", "label_observed", "label_churn_days",
                 "label_observed_days")
RENEWAL_WINDOW_DAYS = 90  # the renewal window: the last quarter of the term, at most 90 days
WINDOW_DAYS_PER_MONTH = 7.5  # a quarter of a 30-day month: a monthly plan's last 7 days
REVENUE_DAYS = 365  # without subscriptions, ARR is the last year's amounts, annualised


def date_sql(day: dt.date) -> str:
    """A DATE literal."""
    return literal(day)


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


def register_snapshot_dates(con: duckdb.DuckDBPyConnection, dates: list[dt.date],
                            render: Renderer | None = None) -> None:
    """(Re)create the temp table ``snapshot_dates``."""
    render = render or duckdb_renderer()
    values = ", ".join(f"({render.literal(d)})" for d in dates)
    con.execute(render.create_table(
        "snapshot_dates", f"SELECT snapshot_date FROM (VALUES {values}) AS v(snapshot_date)"))


def subscription_blocks_sql(grace_days: int, render: Renderer | None = None) -> str:
    """Continuous customer periods per account: subscriptions merged across gaps of at most
    ``grace_days``. A block's ``block_end`` (exclusive) is a churn date unless open-ended."""
    far_future = (render or duckdb_renderer()).literal(FAR_FUTURE_DAY)
    return f"""
        WITH s AS (
            SELECT account_id, start_date, coalesce(end_date, {far_future}) AS end_d
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
        FROM b GROUP BY account_id, block
    """


def arr_covering_sql(day_expr: str) -> str:
    """Per (account, snapshot): ARR of subscriptions covering day ``day_expr``."""
    return f"""
        SELECT d.snapshot_date, sub.account_id, sum(sub.arr) AS arr,
               sum(sub.seats) AS seats
        FROM snapshot_dates d JOIN subscriptions sub
          ON sub.start_date <= {day_expr}
         AND (sub.end_date IS NULL OR sub.end_date > {day_expr})
        GROUP BY d.snapshot_date, sub.account_id
    """


def churn_definition(config: FeatureConfig, dataset: Dataset) -> str:
    """The churn definition in force: the configured one, else ``contract`` with a
    subscriptions table and ``inactivity`` without one.

    Raises :class:`ConfigError` when contract churn is asked for without subscriptions."""
    asked = config.churn.definition
    if asked == "contract" and not dataset.has("subscriptions"):
        raise ConfigError("features.churn.definition", [
            "features.churn.definition: contract churn needs a subscriptions table, and none "
            "was given; set `definition: inactivity` (no qualifying event within the horizon) "
            "or give data.tables.subscriptions"])
    if asked is not None:
        return asked
    return "contract" if dataset.has("subscriptions") else "inactivity"


def activity_state_sql(has_amounts: bool, revenue_days: int = REVENUE_DAYS) -> str:
    """Per (account, snapshot) without subscriptions: the day the account became a customer
    (its first activity or ``created_at``, whichever is earlier, if before the snapshot) and
    its yearly revenue: the amounts of the last ``revenue_days`` before the snapshot,
    annualised over the days it has been a customer (at least 90, so that a first purchase
    is not multiplied twelvefold). Revenue is NULL when no events row carries an amount."""
    revenue = (f"coalesce(r.revenue, 0) * {revenue_days} / greatest(least("
               f"d.snapshot_date - f.first_seen, {revenue_days}), 90)") if has_amounts else "NULL"
    return f"""
        WITH firsts AS (
            SELECT a.account_id, a.created_at, min(e.occurred_at) AS first_event
            FROM accounts a LEFT JOIN events e ON e.account_id = a.account_id
            GROUP BY a.account_id, a.created_at
        ), f AS (
            SELECT d.snapshot_date, x.account_id,
                   least(CASE WHEN x.created_at < d.snapshot_date THEN x.created_at END,
                         CASE WHEN x.first_event < d.snapshot_date THEN x.first_event END)
                       AS first_seen
            FROM snapshot_dates d CROSS JOIN firsts x
        ), r AS (
            SELECT d.snapshot_date, e.account_id, sum(e.amount) AS revenue
            FROM snapshot_dates d JOIN events e
              ON e.occurred_at < d.snapshot_date
             AND e.occurred_at >= d.snapshot_date - {revenue_days}
            WHERE e.amount IS NOT NULL
            GROUP BY d.snapshot_date, e.account_id
        )
        SELECT f.account_id, f.snapshot_date AS snapshot_date, f.first_seen,
               CAST({revenue} AS DOUBLE) AS arr
        FROM f LEFT JOIN r ON r.account_id = f.account_id AND r.snapshot_date = f.snapshot_date
        JOIN snapshot_dates d ON d.snapshot_date = f.snapshot_date
        WHERE f.first_seen IS NOT NULL
    """


def build_spine(dataset: Dataset, config: FeatureConfig, dates: list[dt.date],
                render: Renderer | None = None) -> SpineInfo:
    """Create the temp table ``spine``: active accounts per snapshot, context and labels.

    With subscriptions, tenure and ARR come from the contract; without them from the first
    activity and the annualised ``events.amount`` (:func:`activity_state_sql`)."""
    render = render or duckdb_renderer()
    with Scratch(dataset.con, render) as scratch:
        return _build_spine(dataset, config, dates, scratch, render)


def contract_state_sql(blocks: str, render: Renderer) -> str:
    """Per (account, snapshot) with active subscriptions: ARR and seats summed, the plan of
    the largest and the term of the latest subscription, the customer block, and the next
    renewal date (the block's start plus whole terms, on or after the snapshot)."""
    m0 = render.int_div(render.months_between("b.block_start", "p.snapshot_date"),
                        "p.term_months")
    renewal = render.add_months("block_start", "m0")
    after = render.add_months("block_start", "m0 + term_months")
    return f"""
        WITH active AS (
            SELECT d.snapshot_date, sub.*
            FROM snapshot_dates d JOIN subscriptions sub
              ON sub.start_date < d.snapshot_date
             AND (sub.end_date IS NULL OR sub.end_date >= d.snapshot_date)
        ), per AS (
            SELECT account_id, snapshot_date, sum(arr) AS arr, sum(seats) AS seats,
                   {render.arg_max("plan", "arr")} AS plan,
                   {render.arg_max("term_months", "start_date")} AS term_months
            FROM active GROUP BY account_id, snapshot_date
        ), anchored AS (
            SELECT p.*, b.block_start, b.block_end, {m0} * p.term_months AS m0
            FROM per p JOIN {blocks} b
              ON b.account_id = p.account_id AND b.block_start < p.snapshot_date
             AND b.block_end >= p.snapshot_date
        )
        SELECT *,
               CASE WHEN {renewal} >= snapshot_date THEN {renewal} ELSE {after}
               END AS renewal_date
        FROM anchored
    """


def _build_spine(dataset: Dataset, config: FeatureConfig, dates: list[dt.date],
                 scratch: Scratch, render: Renderer) -> SpineInfo:
    con = dataset.con
    register_snapshot_dates(con, dates, render)
    h = config.horizon_days
    definition = churn_definition(config, dataset)
    grace = config.churn.grace_days if definition == "contract" else 0
    end = render.literal(dataset.end_date)
    far_future = render.literal(FAR_FUTURE_DAY)
    blocks = scratch.table("sub_blocks", subscription_blocks_sql(grace, render))
    contract_state = scratch.table("contract_state", contract_state_sql(blocks, render))
    if dataset.has("subscriptions"):
        start, arr, activity_join = "c.block_start", "c.arr", ""
    else:
        activity_state = scratch.table("activity_state", activity_state_sql(has_amounts(dataset)))
        start, arr = "act.first_seen", "act.arr"
        activity_join = (f"LEFT JOIN {activity_state} act ON act.account_id = p.account_id "
                         "AND act.snapshot_date = p.snapshot_date")
    if definition == "contract":
        population = f"SELECT account_id, snapshot_date FROM {contract_state}"
        churn = f"(c.block_end < {far_future} AND c.block_end < c.snapshot_date + {h})"
        observed = f"(c.snapshot_date + {h + grace - 1} <= {end})"
        observed_days = f"greatest({end} - p.snapshot_date - {grace - 1}, 0)"
        churn_days = (f"CASE WHEN c.block_end < {far_future} AND c.block_end - p.snapshot_date"
                      f" < {observed_days} THEN c.block_end - p.snapshot_date END")
    else:
        qualifying = _qualifying_events(config.churn.inactivity_event_types, render)
        population = f"""
            SELECT DISTINCT e.account_id, d.snapshot_date
            FROM snapshot_dates d JOIN events e
              ON e.occurred_at < d.snapshot_date AND e.occurred_at >= d.snapshot_date - {h}
            WHERE {qualifying}
            UNION
            SELECT a.account_id, d.snapshot_date
            FROM snapshot_dates d JOIN accounts a
              ON a.created_at < d.snapshot_date AND a.created_at >= d.snapshot_date - {h}"""
        churn = f"""NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = p.account_id
                     AND e.occurred_at >= p.snapshot_date AND e.occurred_at < p.snapshot_date + {h}
                     AND {qualifying})"""
        observed = f"(p.snapshot_date + {h - 1} <= {end})"
        # "no qualifying event within h days" is not a time to an event: no survival labels
        observed_days = churn_days = "NULL"
    con.execute(render.create_table(SPINE, f"""
        WITH population AS ({population}),
        later AS ({arr_covering_sql(f"d.snapshot_date + {h - 1}")})
        SELECT p.account_id, p.snapshot_date,
               a.segment,
               CASE WHEN p.snapshot_date - {start} < 90 THEN 'onboarding'
                    WHEN p.snapshot_date - {start} < 365 THEN 'adoption'
                    ELSE 'mature' END AS lifecycle_stage,
               p.snapshot_date - {start} AS tenure_days,
               {arr} AS arr, c.seats, c.plan, c.term_months,
               c.renewal_date - p.snapshot_date AS days_to_renewal,
               coalesce(c.renewal_date - p.snapshot_date
                        <= least({RENEWAL_WINDOW_DAYS}, c.term_months * {WINDOW_DAYS_PER_MONTH}),
                        FALSE) AS in_renewal_window,
               {churn} AS label_churn,
               coalesce(NOT ({churn}) AND coalesce(l.arr, 0)
                   >= c.arr * {1 + config.expansion_pct}, FALSE) AS label_expansion,
               {observed} AS label_observed,
               CAST({churn_days} AS INTEGER) AS label_churn_days,
               CAST({observed_days} AS INTEGER) AS label_observed_days
        FROM population p
        JOIN accounts a ON a.account_id = p.account_id
        LEFT JOIN {contract_state} c
          ON c.account_id = p.account_id AND c.snapshot_date = p.snapshot_date
        LEFT JOIN later l ON l.account_id = p.account_id AND l.snapshot_date = p.snapshot_date
        {activity_join}
        ORDER BY p.snapshot_date, p.account_id
    """))
    (rows,) = fetch_row(con, "SELECT count(*) FROM spine")
    log.info("spine: %d rows over %d snapshots", rows, len(dates))
    return SpineInfo(dates=dates, rows=int(rows))


def has_amounts(dataset: Dataset) -> bool:
    """Whether any events row carries an amount (revenue)."""
    return bool(fetch_row(dataset.con, "SELECT count(*) FROM (SELECT 1 FROM events "
                                       "WHERE amount IS NOT NULL LIMIT 1)")[0])


def _qualifying_events(event_types: list[str], render: Renderer) -> str:
    if not event_types:
        return "TRUE"
    return f"e.event_type IN {literal_list(event_types, render.dialect)}"


def data_start(dataset: Dataset) -> dt.date:
    """When the history is complete enough to start taking snapshots: the later of the first
    subscription start and the first usage event (exports often carry old contracts but only
    recent usage); without subscriptions, the first event."""
    (first_event,) = fetch_row(dataset.con, "SELECT min(occurred_at) FROM events")
    if not dataset.has("subscriptions"):
        if first_event is None:
            raise ParameterError("events", "a non-empty table (without subscriptions, activity "
                                 "defines who is a customer)", "no rows")
        return pd.Timestamp(first_event).date()
    (first_sub,) = fetch_row(dataset.con, "SELECT min(start_date) FROM subscriptions")
    if first_sub is None:
        raise ParameterError("subscriptions", "a non-empty table", "no rows")
    starts = [pd.Timestamp(d).date() for d in (first_sub, first_event) if d is not None]
    return max(starts)
