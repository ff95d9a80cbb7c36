"""The contract tables (and ground truth) built from a simulation; ``generate_world``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.data.schema import ACCOUNT_ID, INVOICE_STATUSES, ROLES, SEVERITIES, TABLES
from healthscore.data.settings import SynthConfig
from healthscore.synth.helpers import _date, _dates
from healthscore.synth.month import Batch, _subscription_rows
from healthscore.synth.simulation import _Result, _simulate
from healthscore.synth.world import (
    _NAME_WORDS,
    _NO_DATE,
    DEPARTMENTS,
    GROUND_TRUTH,
    INDUSTRIES,
    METRICS,
    TOUCHPOINT_KINDS,
    World,
    event_types,
)
from healthscore.synth.world_setup import _Accounts, _Contacts, _Segments, plan_names


def _ids(idx: np.ndarray) -> np.ndarray:
    return idx.astype(np.int64) + 1


_OWNERS = ("Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan")
_OWNERS_PER_SEGMENT = 2  # CSMs per segment (segment s gets names 2s, 2s + 1 of _OWNERS, wrapping)


def _owners(acc: _Accounts) -> np.ndarray:
    """The customer-success manager of each account: one of its segment's CSMs, by id."""
    pick = acc.segment * _OWNERS_PER_SEGMENT + np.arange(len(acc.segment)) % _OWNERS_PER_SEGMENT
    return np.array(_OWNERS)[pick % len(_OWNERS)]


def _accounts_frame(acc: _Accounts, segs: _Segments) -> pd.DataFrame:
    n = len(acc.created)
    first = np.array(_NAME_WORDS[0])[acc.name_words[0]]
    second = np.array(_NAME_WORDS[1])[acc.name_words[1]]
    name = pd.Series(first) + " " + pd.Series(second) + " " + pd.Series(np.arange(1, n + 1)).map(
        "{:06d}".format)
    return pd.DataFrame({
        ACCOUNT_ID: _ids(np.arange(n)), "name": name.to_numpy(), "owner": _owners(acc),
        "segment": np.array(segs.names)[acc.segment],
        "industry": np.array(INDUSTRIES)[acc.industry], "created_at": _dates(acc.created),
    })


def _subscriptions_frame(res: _Result) -> pd.DataFrame:
    acc, st = res.acc, res.st
    closed = res.out.concat("subscriptions")
    still = _subscription_rows(acc, st, ~st.churned, np.full(len(st.churned), _NO_DATE))
    rows = {k: np.concatenate([closed[k], still[k]]) if closed else still[k] for k in still}
    order = np.lexsort((rows["start"], rows["account"]))
    rows = {k: v[order] for k, v in rows.items()}
    return pd.DataFrame({
        ACCOUNT_ID: _ids(rows["account"]),
        "subscription_id": np.arange(1, len(order) + 1, dtype=np.int64),
        "start_date": _dates(rows["start"]), "end_date": _dates(rows["end"]),
        "arr": rows["arr"].astype(np.float64), "seats": rows["seats"].astype(np.int64),
        "plan": np.array(plan_names(res.segs))[rows["plan"]],
        "term_months": rows["term"].astype(np.int64),
    })


def _contacts_frame(c: _Contacts) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(c.account), "contact_id": np.arange(1, len(c.account) + 1,
                                                             dtype=np.int64),
        "role": np.array(ROLES)[c.role], "department": np.array(DEPARTMENTS)[c.department],
        "started_at": _dates(c.start), "ended_at": _dates(c.end),
    })


def _invoices_frame(b: Batch) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]),
        "invoice_id": np.arange(1, len(b["account"]) + 1, dtype=np.int64),
        "issued_at": _dates(b["issued"]), "due_at": _dates(b["issued"] + 30),
        "paid_at": _dates(b["paid"]), "amount": b["amount"].astype(np.float64),
        "status": np.array(INVOICE_STATUSES)[b["status"]],
    })


def _tickets_frame(b: Batch) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]),
        "ticket_id": np.arange(1, len(b["account"]) + 1, dtype=np.int64),
        "opened_at": _dates(b["opened"]), "closed_at": _dates(b["closed"]),
        "severity": np.array(SEVERITIES)[b["severity"]],
        "escalated": b["escalated"].astype(bool), "reopened": b["reopened"].astype(bool),
        "csat": b["csat"].astype(np.float64),
    })


def _events_frame(b: Batch, names: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]), "occurred_at": _dates(b["day"]),
        "event_type": np.array(names)[b["type"]], "user_id": b["user"].astype(np.int64),
        "quantity": b["quantity"],
    })
    if "amount" in b:
        frame["amount"] = b["amount"].astype(np.float64)
    return frame


def _events_arrow(b: Batch, names: tuple[str, ...]) -> pa.Table:
    """A month of events as an Arrow table (dates as date32) without a pandas detour."""
    types = pa.DictionaryArray.from_arrays(pa.array(b["type"], pa.int8()),
                                           pa.array(names)).dictionary_decode()
    columns = {
        ACCOUNT_ID: pa.array(_ids(b["account"])),
        "occurred_at": pa.array(b["day"].astype(np.int32), pa.date32()),
        "event_type": types, "user_id": pa.array(b["user"].astype(np.int64)),
        "quantity": pa.array(b["quantity"]),
    }
    if "amount" in b:
        columns["amount"] = pa.array(b["amount"], from_pandas=True)
    return pa.table(columns)


def _ground_truth_frame(b: Batch, segs: _Segments, acc: _Accounts) -> pd.DataFrame:
    return pd.DataFrame({
        ACCOUNT_ID: _ids(b["account"]), "month": _dates(b["month"]),
        "latent_health": b["health"].astype(np.float64),
        "champion_left": b["champion_left"].astype(bool),
        "p1_outage": b["p1_outage"].astype(bool),
        "payment_failure": b["payment_failure"].astype(bool),
        "churned": b["churned"].astype(bool),
        "segment": np.array(segs.names)[acc.segment[b["account"]]],
    })


# Contract tables each business shape writes (events always; a shop has no subscriptions).
BUSINESS_TABLES = {
    "saas": tuple(TABLES),
    "monthly": ("accounts", "subscriptions", "events", "invoices", "tickets", "surveys"),
    "transactional": ("accounts", "events", "tickets", "surveys"),
}


def _tables(res: _Result) -> dict[str, pd.DataFrame]:
    """Every table the business writes except events, in contract column order."""
    written = BUSINESS_TABLES[res.acc.business]
    out = res.out
    surveys, touch = out.concat("surveys"), out.concat("touchpoints")
    metrics = out.concat("metrics")
    frames = {
        "accounts": _accounts_frame(res.acc, res.segs),
        "subscriptions": _subscriptions_frame(res),
        "contacts": _contacts_frame(res.st.contacts),
        "invoices": _invoices_frame(out.concat("invoices")),
        "tickets": _tickets_frame(out.concat("tickets")),
        "surveys": pd.DataFrame({ACCOUNT_ID: _ids(surveys["account"]),
                                 "responded_at": _dates(surveys["responded"]),
                                 "nps": surveys["nps"].astype(np.int64)}),
        "touchpoints": pd.DataFrame({ACCOUNT_ID: _ids(touch["account"]),
                                     "occurred_at": _dates(touch["occurred"]),
                                     "kind": np.array(TOUCHPOINT_KINDS)[touch["kind"]]}),
        "metrics": pd.DataFrame({ACCOUNT_ID: _ids(metrics["account"]),
                                 "measured_at": _dates(metrics["day"]),
                                 "metric": pd.Categorical.from_codes(
                                     metrics["metric"], [n for n, _ in METRICS]),
                                 "value": metrics["value"]}),
    }
    return {name: frame[list(TABLES[name].column_names)] for name, frame in frames.items()
            if name in written}


def generate_world(config: SynthConfig) -> World:
    """Generate the whole world in memory (fine for the small worlds of tests and demos).

    The same ``config`` (seed included) gives identical tables.
    """
    config = config.resolved()
    events: list[Batch] = []
    res = _simulate(config, lambda _period, batch: events.append(batch))
    tables = _tables(res)
    names = tuple(t.name for t in event_types(config.business))
    tables["events"] = _events_frame(
        {k: np.concatenate([b[k] for b in events]) for k in events[0]}, names)
    ordered = {name: tables[name] for name in BUSINESS_TABLES[config.business]}
    truth = _ground_truth_frame(res.out.concat(GROUND_TRUTH), res.segs, res.acc)
    return World(tables=ordered, ground_truth=truth, start_date=_date(int(res.bounds[0])),
                 end_date=_date(int(res.bounds[-1]) - 1), seed=config.seed,
                 business=config.business, difficulty=config.difficulty)


def annual_churn_rates(ground_truth: pd.DataFrame) -> dict[str, float]:
    """Yearly logo churn per segment (and ``all``): churn events / customer-years exposed.

    Exposure counts every account-month in which the account was a customer.
    """
    rates: dict[str, float] = {}
    groups = ground_truth.groupby("segment", sort=True)["churned"]
    for segment, churned in groups:
        rates[str(segment)] = float(churned.sum()) / (len(churned) / 12)
    total = len(ground_truth)
    rates["all"] = float(ground_truth["churned"].sum()) / (total / 12) if total else 0.0
    return rates

