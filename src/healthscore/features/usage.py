"""Usage features: volume, trend, recency, breadth, active users and licence utilisation.

Family ``usage`` sees usage per account and *segment* (a run of days between the snapshots'
0/7/30/60/90-day boundaries; ``t.day`` is its first day: see
``families.usage_segments_sql``) over the 90 days before the snapshot: total, day-weighted
total, day mask, event-type bitmask and one column per event type. Every window below is a
union of whole segments, so a filter on ``t.day`` selects exactly the days it names;
family ``users`` sees one row per user active in the 60 days before it, with flags for the
last 30 days and the 30 days before (see ``families.FAMILIES["users"]``).
"""

from __future__ import annotations

from healthscore.data.schema import EVENT_TYPE
from healthscore.features.families import SEGMENT_DAYS, type_column
from healthscore.features.registry import Dimension, Direction, feature
from healthscore.features.sql import Renderer

H = Direction.HIGHER_IS_HEALTHIER
R = Direction.HIGHER_IS_RISKIER
# An event type can be good (a report shared) or bad (an unfriend): learned unless declared.
LEARNED = Direction.LEARNED
USAGE = Dimension.USAGE

DAYS_AGO = "(s.snapshot_date - t.day)"  # 1 = the day before the snapshot


def _in_last(days: int) -> str:
    return f"t.day >= s.snapshot_date - {days}"


def relative_change(current: str, prior: str, cap: float = 5.0) -> str:
    """(current - prior) / prior, 0 when both are 0, +100 % when only prior is 0, capped."""
    return (
        f"CASE WHEN coalesce({prior}, 0) = 0 THEN "
        f"CASE WHEN coalesce({current}, 0) = 0 THEN 0.0 ELSE 1.0 END "
        f"ELSE least((coalesce({current}, 0) - {prior}) / {prior}, {cap}) END"
    )


def _users(flag: str) -> str:
    """Users with ``flag`` set; NULL without any user row (DuckDB's ``count_if``, spelled so
    that Spark, whose ``count_if`` is 0 there, agrees)."""
    return f"sum(CAST(t.{flag} AS INTEGER))"


def _total(window: str, column: str = "quantity") -> str:
    return f"sum(t.{column}) FILTER (WHERE {window})"


@feature(family="usage", dimension=USAGE, direction=H, unit="events", fill=0,
         explain="{value:,.0f} usage events in the last 7 days")
def events_7d() -> str:
    """Usage events (sum of quantity) in the 7 days before the snapshot."""
    return _total(_in_last(7))


@feature(family="usage", dimension=USAGE, direction=H, unit="events", fill=0,
         explain="{value:,.0f} usage events in the last 30 days")
def events_30d() -> str:
    """Usage events (sum of quantity) in the 30 days before the snapshot."""
    return _total(_in_last(30))


@feature(family="usage", dimension=USAGE, direction=H, unit="events", fill=0,
         explain="{value:,.0f} usage events in the last 90 days")
def events_90d() -> str:
    """Usage events (sum of quantity) in the 90 days before the snapshot."""
    return _total(_in_last(90))


@feature(family="usage", dimension=USAGE, direction=H, unit="ratio", fill=0,
         explain="Usage {value:+.0%} vs the prior 30 days")
def events_change_30d() -> str:
    """Relative change of usage in the last 30 days vs the 30 days before (capped at +500 %)."""
    prior = f"{_total(f'{DAYS_AGO} > 30 AND {DAYS_AGO} <= 60')}"
    return relative_change(_total(_in_last(30)), prior)


@feature(family="usage", dimension=USAGE, direction=H, unit="ratio", fill=0,
         explain="Usage trend {value:+.0%} over the last 90 days")
def usage_trend_90d() -> str:
    """Least-squares slope of daily usage over 90 days (zero days included), times 90 days,
    relative to the 90-day average: -0.5 means the fitted line fell by half its mean level."""
    # Over x = 1..90 days ago, t = -x has mean -45.5 and sum of squares 90*(90^2-1)/12.
    # A segment's events are t.quantity_offset / t.quantity days later than its first day.
    slope = f"sum((45.5 - {DAYS_AGO}) * t.quantity + t.quantity_offset) / 60742.5"
    return f"{slope} * 8100.0 / nullif(sum(t.quantity), 0)"


@feature(family="usage", dimension=USAGE, direction=H, unit="weeks", fill=0,
         explain="Active in {value:.0f} of the last 12 weeks")
def weeks_active_12w(sql: Renderer) -> str:
    """Weeks with any usage among the 12 weeks before the snapshot."""
    return f"bit_count(bit_or({_weeks_used(sql)}))"


def _weeks_used(sql: Renderer, weeks: int = 12) -> str:
    """A segment row's weeks with usage as bits (bit k: the week k + 1 weeks before the
    snapshot): week k holds the days 7k + 1 .. 7k + 7 days ago, the segment's days
    ``DAYS_AGO - 7k - 7`` .. ``DAYS_AGO - 7k - 1`` of its day mask."""
    def day(offset: str) -> str:  # a day of the segment, clamped to 0 .. SEGMENT_DAYS
        return f"CAST(least(greatest({offset}, 0), {SEGMENT_DAYS}) AS INTEGER)"

    terms = []
    for k in range(weeks):
        first, stop = day(f"{DAYS_AGO} - {7 * k + 7}"), day(f"{DAYS_AGO} - {7 * k}")
        days = f"{sql.bit(f'greatest({stop}, {first})')} - {sql.bit(first)}"
        terms.append(f"CASE WHEN (t.day_mask & ({days})) <> 0 THEN {2 ** k} ELSE 0 END")
    return " + ".join(terms)


@feature(family="usage", dimension=USAGE, direction=H, unit="event types", fill=0,
         explain="{value:.0f} different product areas used in the last 30 days")
def event_types_30d() -> str:
    """Breadth: distinct event types used in the 30 days before the snapshot."""
    return f"bit_count(bit_or(t.type_mask) FILTER (WHERE {_in_last(30)}))"


@feature(family="usage", dimension=USAGE, direction=LEARNED, unit="events", fill=0,
         over=EVENT_TYPE,
         explain="{value:,.0f} '{param}' events in the last 30 days")
def events_30d_by_type(event_type: str) -> str:
    """Usage events of one event type in the 30 days before the snapshot."""
    return _total(_in_last(30), type_column(event_type))


@feature(family="usage", dimension=USAGE, direction=LEARNED, unit="ratio", fill=0,
         over=EVENT_TYPE,
         explain="'{param}' usage {value:+.0%} vs the prior 30 days")
def events_change_30d_by_type(event_type: str) -> str:
    """Relative change of one event type's usage, last 30 days vs the 30 days before."""
    column = type_column(event_type)
    current = _total(_in_last(30), column)
    prior = _total(f"{DAYS_AGO} > 30 AND {DAYS_AGO} <= 60", column)
    return relative_change(current, prior)


@feature(family="users", dimension=USAGE, direction=H, unit="users", fill=0,
         explain="{value:,.0f} active users in the last 30 days")
def active_users_30d() -> str:
    """Distinct users active in the 30 days before the snapshot."""
    return _users("active_30d")


@feature(family="users", dimension=USAGE, direction=H, unit="ratio", fill=0,
         explain="Active users {value:+.0%} vs the prior 30 days")
def active_users_change_30d() -> str:
    """Relative change of distinct active users, last 30 days vs the 30 days before."""
    return relative_change(_users("active_30d"), _users("active_prior_30d"))


@feature(family="users", dimension=USAGE, direction=H, unit="ratio",
         explain="{value:.0%} of licensed seats active in the last 30 days")
def license_utilisation_30d() -> str:
    """Active users in the last 30 days divided by licensed seats (unknown without seats)."""
    return f"{_users('active_30d')} / nullif(any_value(s.seats), 0)"
