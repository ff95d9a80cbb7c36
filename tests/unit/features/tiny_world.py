"""A tiny hand-checked world: 3 accounts over 2023-2024, every optional table present."""

from __future__ import annotations

import datetime as dt

import pandas as pd

END = dt.date(2024, 12, 31)


def dates(*values: str | None) -> pd.Series:
    """Dates (None = missing) as a datetime column."""
    return pd.Series(pd.to_datetime(list(values)))


def tiny_frames() -> dict[str, pd.DataFrame]:
    """The tiny world. Account 2 changes seats on 2024-03-10 and churns 2024-09-10; account 3
    is on a monthly plan and churns 2023-11-01; account 1 stays."""
    return {
        "accounts": pd.DataFrame({
            "account_id": [1, 2, 3], "segment": ["smb", "enterprise", "smb"],
            "created_at": dates("2023-01-01", "2023-01-01", "2023-01-01"),
        }),
        "subscriptions": pd.DataFrame({
            "account_id": [1, 2, 2, 3], "subscription_id": [1, 2, 3, 4],
            "start_date": dates("2023-01-15", "2023-03-10", "2024-03-10", "2023-06-01"),
            "end_date": dates(None, "2024-03-10", "2024-09-10", "2023-11-01"),
            "arr": [100.0, 1000.0, 1500.0, 50.0], "seats": [5, 50, 60, 2],
            "term_months": [12, 12, 12, 1], "plan": ["pro", "ent", "ent", "basic"],
        }),
        "events": pd.DataFrame({
            "account_id": [1, 1, 1, 2],
            "occurred_at": dates("2024-03-01", "2024-02-25", "2024-01-15", "2024-02-01"),
            "event_type": ["login", "report", "login", "login"],
            "user_id": [10, 11, 10, 20], "quantity": [3.0, 2.0, 1.0, 5.0],
            "amount": [None, 30.0, None, None],  # one paid add-on: a purchase
        }),
        "contacts": pd.DataFrame({
            "account_id": [1, 1, 2], "contact_id": [1, 2, 3],
            "role": ["champion", "user", "executive_sponsor"],
            "department": ["it", "ops", "exec"],
            "started_at": dates("2023-01-15", "2023-01-15", "2023-03-10"),
            "ended_at": dates("2024-02-10", None, None),
        }),
        "invoices": pd.DataFrame({
            "account_id": [1, 1], "invoice_id": [1, 2],
            "issued_at": dates("2024-01-01", "2024-02-01"),
            "due_at": dates("2024-01-31", "2024-03-02"),
            "paid_at": dates("2024-02-10", None), "amount": [10.0, 10.0],
            "status": ["paid", "failed"],
        }),
        "tickets": pd.DataFrame({
            "account_id": [1, 1], "ticket_id": [1, 2],
            "opened_at": dates("2024-02-01", "2024-02-20"),
            "closed_at": dates("2024-02-05", "2024-03-05"),
            "severity": ["P1", "P3"], "escalated": [True, False], "reopened": [False, True],
            "csat": [2.0, None],
        }),
        "surveys": pd.DataFrame({
            "account_id": [1, 1], "responded_at": dates("2023-10-01", "2024-02-01"),
            "nps": [8, 5],
        }),
        "touchpoints": pd.DataFrame({
            "account_id": [1, 2], "occurred_at": dates("2024-01-10", "2023-12-01"),
            "kind": ["qbr", "meeting"],
        }),
        # Irregular measurements. Account 1: seats_used twice on 2024-02-29 (their mean
        # counts), once on the 2024-03-01 snapshot day (future then); crm_health only long ago.
        "metrics": pd.DataFrame({
            "account_id": [1, 1, 1, 1, 1, 1, 1, 2],
            "measured_at": dates("2023-11-20", "2024-01-05", "2024-02-10", "2024-02-29",
                                 "2024-02-29", "2024-03-01", "2023-09-15", "2024-02-01"),
            "metric": ["seats_used"] * 6 + ["crm_health", "seats_used"],
            "value": [3.0, 4.0, 2.0, 5.0, 7.0, 100.0, 70.0, 40.0],
        }),
    }


SHOP_END = dt.date(2024, 6, 30)


def tiny_shop_frames() -> dict[str, pd.DataFrame]:
    """A tiny shop without subscriptions: purchases carry an amount, visits do not.

    Customer 1 buys on 2023-11-01 (40), 2024-01-01 (60) and 2024-02-20 (20) and visits on
    2024-02-25; customer 2 (created 2024-01-20) buys once on 2024-02-10 (100) and again on
    the 2024-03-01 snapshot day (future then); customer 3 bought on 2023-06-01 (30) only.
    """
    return {
        "accounts": pd.DataFrame({
            "account_id": [1, 2, 3], "segment": ["retail"] * 3,
            "created_at": dates("2023-11-01", "2024-01-20", "2023-06-01"),
        }),
        "events": pd.DataFrame({
            "account_id": [1, 1, 1, 1, 2, 2, 3],
            "occurred_at": dates("2023-11-01", "2024-01-01", "2024-02-20", "2024-02-25",
                                 "2024-02-10", "2024-03-01", "2023-06-01"),
            "event_type": ["purchase"] * 3 + ["visit"] + ["purchase"] * 3,
            "amount": [40.0, 60.0, 20.0, None, 100.0, 500.0, 30.0],
        }),
    }
