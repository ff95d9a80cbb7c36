"""A raw customer table as a public churn export looks: the README's bring-your-own example."""

from __future__ import annotations

import numpy as np
import pandas as pd

PROBLEM_COLUMNS = {
    "total_charges": "numbers stored as text",
    "account_number": "id-like",
    "last_ticket_subject": "levels",
    "referral_code": "every value is missing",
}


def raw_customer_table(rows: int = 4000, seed: int = 3) -> pd.DataFrame:
    """Customers with ``Yes``/``No`` churn labels and the problems of a real export: total
    charges as text with 11 blanks, an id-like account number, a 3,000-level free-text column
    and an all-empty column; tenure is a whole number of months."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, rows)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], rows, p=[0.55, 0.25, 0.2])
    monthly = np.round(rng.uniform(18, 118, rows), 2)
    payment = rng.choice(["Electronic check", "Mailed check", "Bank transfer", "Credit card"],
                         rows)
    logit = (-1.2 - 0.04 * tenure + 1.3 * (contract == "Month-to-month")
             + 0.012 * (monthly - 65) + 0.5 * (payment == "Electronic check"))
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    total = (tenure * monthly).round(2).astype(str).astype(object)
    total[rng.choice(rows, 11, replace=False)] = " "
    return pd.DataFrame({
        "customer_id": [f"{i:04d}-{rng.integers(10**4, 10**5)}" for i in range(rows)],
        "tenure": tenure,
        "contract": contract,
        "monthly_charges": monthly,
        "total_charges": total,
        "payment_method": payment,
        "account_number": rng.permutation(10**6)[:rows] + 10**6,
        "last_ticket_subject": [f"ticket subject {k}" for k in rng.permutation(
            np.arange(rows) % 3000)],
        "referral_code": [None] * rows,
        "churned": np.where(churned, "Yes", "No"),
    })
