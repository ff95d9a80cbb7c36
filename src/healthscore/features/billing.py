"""Billing features: overdue invoices, failed payments, late payers, contractions.

An invoice's ``paid_at`` is masked unless before the snapshot (unpaid as of then), and its
``status`` is known on its due date (a payment fails when it is due).
"""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature

R = Direction.HIGHER_IS_RISKIER
H = Direction.HIGHER_IS_HEALTHIER
BILLING = Dimension.BILLING
UNPAID = "t.paid_at IS NULL AND t.status IS DISTINCT FROM 'void'"

# ARR covering the day before the snapshot and the day 181 days before it.
ARR_NOW = "sum(t.arr) FILTER (WHERE t.end_date IS NULL)"
ARR_THEN = (
    "sum(t.arr) FILTER (WHERE t.start_date <= s.snapshot_date - 181 "
    "AND (t.end_date IS NULL OR t.end_date > s.snapshot_date - 181))"
)
SEATS_NOW = "sum(t.seats) FILTER (WHERE t.end_date IS NULL)"
SEATS_THEN = (
    "sum(t.seats) FILTER (WHERE t.start_date <= s.snapshot_date - 181 "
    "AND (t.end_date IS NULL OR t.end_date > s.snapshot_date - 181))"
)


@feature(family="invoices", dimension=BILLING, direction=R, unit="days", fill=0,
         explain="Oldest unpaid invoice is {value:.0f} days past due")
def days_past_due() -> str:
    """Days the oldest invoice due before the snapshot and still unpaid is past due."""
    return f"max(s.snapshot_date - t.due_at) FILTER (WHERE t.due_at < s.snapshot_date AND {UNPAID})"


@feature(family="invoices", dimension=BILLING, direction=R, unit="payments", fill=0,
         explain="{value:.0f} failed payments in the last 90 days")
def failed_payments_90d() -> str:
    """Invoices with a failed payment due in the 90 days before the snapshot."""
    return "count(*) FILTER (WHERE t.status = 'failed' AND t.due_at >= s.snapshot_date - 90)"


@feature(family="invoices", dimension=BILLING, direction=R, unit="ratio",
         explain="{value:.0%} of invoices due in the last year were paid late")
def late_payment_share_365d() -> str:
    """Share of invoices due in the year before the snapshot paid after their due date or
    still unpaid; unknown when none fell due."""
    # a DOUBLE, not the DECIMAL 1.0 (Spark averages a DECIMAL to 5 decimal places)
    late = f"CAST(CASE WHEN t.paid_at > t.due_at OR ({UNPAID}) THEN 1 ELSE 0 END AS DOUBLE)"
    window = "t.due_at < s.snapshot_date AND t.due_at >= s.snapshot_date - 365"
    return f"avg({late}) FILTER (WHERE {window})"


@feature(family="subscriptions", dimension=BILLING, direction=R, unit="flag", fill=0,
         explain="Seats or ARR reduced in the last 180 days: {value:.0f} (1 = yes)")
def contraction_180d() -> str:
    """1 when seats or ARR now are below their level 181 days before the snapshot."""
    return (
        f"CAST(coalesce({SEATS_NOW} < {SEATS_THEN}, FALSE) "
        f"OR coalesce({ARR_NOW} < {ARR_THEN}, FALSE) AS INTEGER)"
    )


@feature(family="subscriptions", dimension=BILLING, direction=H, unit="ratio",
         explain="ARR {value:+.0%} vs 180 days ago")
def arr_change_180d() -> str:
    """Relative ARR change vs 181 days before the snapshot; unknown if not a customer then."""
    return f"({ARR_NOW} - {ARR_THEN}) / nullif({ARR_THEN}, 0)"
