"""Lifetime features: recency without a cap, frequency, spend, basket and the rhythm of an
account's activity, the signals buy-till-you-die models use for customers without contracts.

Family ``activity`` and family ``purchases`` see one row per account and snapshot: the
account's running totals as of its last activity day (any event; for ``purchases``, a day
with an amount) strictly before the snapshot (see ``families.activity_days_sql``). Family
``revenue`` sees the amounts of the 365 days before the snapshot. The purchase and revenue
families exist only when some events row carries an amount.
"""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature

H = Direction.HIGHER_IS_HEALTHIER
R = Direction.HIGHER_IS_RISKIER
N = Direction.NEUTRAL
USAGE = Dimension.USAGE
COMMERCIAL = Dimension.COMMERCIAL


def gap_mean(prefix: str = "t") -> str:
    """Mean days between consecutive activity days (NULL with fewer than two)."""
    return f"max({prefix}.gap_sum) / nullif(max({prefix}.gaps), 0)"


def days_since(column: str) -> str:
    """Days from a row's date column to the snapshot, uncapped."""
    return f"max(s.snapshot_date - t.{column})"


@feature(family="activity", dimension=USAGE, direction=R, unit="days",
         explain="{value:,.0f} days since the last product activity")
def days_since_last_activity() -> str:
    """Days since the last day with any event, over the whole history: no cap (the logistic
    model takes its logarithm); unknown before the first event."""
    return days_since("day")


@feature(family="activity", dimension=USAGE, direction=H, unit="days", fill=0,
         explain="Active on {value:,.0f} days so far")
def active_days_lifetime() -> str:
    """Days with any event over the account's whole history before the snapshot."""
    return "max(t.active_days)"


@feature(family="activity", dimension=USAGE, direction=R, unit="days",
         explain="Active every {value:,.1f} days on average")
def activity_gap_mean_days() -> str:
    """Mean days between consecutive activity days over the whole history (unknown with
    fewer than two activity days)."""
    return gap_mean()


@feature(family="activity", dimension=USAGE, direction=N, unit="days",
         explain="Gaps between activity days vary by {value:,.1f} days")
def activity_gap_spread_days() -> str:
    """Standard deviation of the days between consecutive activity days (unknown with fewer
    than two gaps)."""
    mean = gap_mean()
    return (f"CASE WHEN max(t.gaps) >= 2 THEN sqrt(greatest(max(t.gap_squares) / max(t.gaps)"
            f" - ({mean}) * ({mean}), 0)) END")


@feature(family="activity", dimension=USAGE, direction=R, unit="ratio",
         explain="{value:,.1f}x the usual gap since the last activity")
def activity_overdue_ratio() -> str:
    """Days since the last activity divided by the account's mean gap between activity days:
    above 1, the account is later than usual (unknown with fewer than two activity days)."""
    return f"{days_since('day')} / nullif({gap_mean()}, 0)"


@feature(family="purchases", dimension=USAGE, direction=R, unit="days",
         explain="{value:,.0f} days since the last purchase")
def days_since_last_purchase() -> str:
    """Days since the last events row with an amount (a purchase), over the whole history."""
    return days_since("day")


@feature(family="purchases", dimension=USAGE, direction=H, unit="purchases", fill=0,
         explain="{value:,.0f} purchase days so far")
def purchases_lifetime() -> str:
    """Purchases (events rows with an amount) over the account's whole history."""
    return "max(t.purchases)"


@feature(family="purchases", dimension=USAGE, direction=R, unit="ratio",
         explain="{value:,.1f}x the usual gap since the last purchase")
def purchase_overdue_ratio() -> str:
    """Days since the last purchase divided by the mean gap between purchase days (unknown
    with fewer than two purchase days): the overdue signal of buy-till-you-die models."""
    return f"{days_since('day')} / nullif({gap_mean()}, 0)"


@feature(family="purchases", dimension=USAGE, direction=R, unit="days",
         explain="Buys every {value:,.1f} days on average")
def purchase_gap_mean_days() -> str:
    """Mean days between consecutive purchase days (unknown with fewer than two)."""
    return gap_mean()


@feature(family="purchases", dimension=COMMERCIAL, direction=H, unit="currency", fill=0,
         explain="{value:,.0f} spent so far")
def revenue_lifetime() -> str:
    """Sum of events.amount over the account's whole history."""
    return "max(t.revenue)"


@feature(family="purchases", dimension=COMMERCIAL, direction=N, unit="currency",
         explain="Average basket {value:,.2f}")
def average_basket() -> str:
    """Lifetime revenue divided by lifetime purchases (unknown before the first purchase)."""
    return "max(t.revenue) / nullif(max(t.purchases), 0)"


@feature(family="revenue", dimension=COMMERCIAL, direction=H, unit="currency", fill=0,
         explain="{value:,.0f} spent in the last 90 days")
def revenue_90d() -> str:
    """Sum of events.amount in the 90 days before the snapshot."""
    return "sum(t.amount) FILTER (WHERE t.day >= s.snapshot_date - 90)"


@feature(family="revenue", dimension=COMMERCIAL, direction=H, unit="currency", fill=0,
         explain="{value:,.0f} spent in the last 365 days")
def revenue_365d() -> str:
    """Sum of events.amount in the 365 days before the snapshot."""
    return "sum(t.amount)"


@feature(family="revenue", dimension=USAGE, direction=H, unit="purchases", fill=0,
         explain="{value:,.0f} purchases in the last 365 days")
def purchases_365d() -> str:
    """Events rows with an amount in the 365 days before the snapshot."""
    return "count(t.amount)"
