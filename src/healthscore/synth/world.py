"""What a synthetic world is: its vocabulary (event types, metrics, touchpoints, shocks),
the constants of its health dynamics and per-segment behaviour, and the ``World`` and
``WorldSummary`` values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from healthscore.data.schema import ACCOUNT_ID

Format = Literal["parquet", "csv"]

GROUND_TRUTH = "ground_truth"
MANIFEST = "world.json"
GROUND_TRUTH_COLUMNS = (ACCOUNT_ID, "month", "latent_health", "champion_left", "p1_outage",
                        "payment_failure", "churned", "segment")



@dataclass(frozen=True)
class EventType:
    """One event type of a business shape and how health drives it (ground truth).

    Helpful types are what healthy accounts do: they fall as health falls. Harmful types
    (``weekly_rate`` per account-week at the reference health, x e^{-slope (h - ref)}, x
    ``leaving_boost`` while a leaver serves notice) rise as health falls.
    """

    name: str
    direction: Literal["helpful", "harmful"]
    weekly_rate: float = 0.0
    slope: float = 0.0
    leaving_boost: float = 1.0


_EVENT_CATALOGUE: dict[str, tuple[EventType, ...]] = {
    "saas": (
        EventType("login", "helpful"), EventType("dashboard_view", "helpful"),
        EventType("report_run", "helpful"), EventType("export", "helpful"),
        EventType("api_call", "helpful"),
        EventType("error_shown", "harmful", 0.5, 0.8, 1.5),
        EventType("billing_page_view", "harmful", 0.08, 1.0, 3.0),
        EventType("export_all_data", "harmful", 0.02, 1.0, 6.0),
        EventType("seat_removed", "harmful", 0.03, 1.0, 3.0),
    ),
    "monthly": (
        EventType("session", "helpful"), EventType("content_view", "helpful"),
        EventType("feature_use", "helpful"), EventType("share", "helpful"),
        EventType("error_shown", "harmful", 0.06, 0.8, 1.5),
        EventType("billing_page_view", "harmful", 0.01, 1.0, 3.0),
        EventType("downgrade_view", "harmful", 0.006, 1.0, 3.0),
        EventType("cancel_page_view", "harmful", 0.003, 1.2, 6.0),
    ),
    "transactional": (  # helpful rates: per purchase expected in the week
        EventType("purchase", "helpful", 1.0), EventType("visit", "helpful", 4.0),
        EventType("product_view", "helpful", 3.0), EventType("wishlist_add", "helpful", 0.3),
        EventType("return_request", "harmful", 0.02, 1.0, 2.0),
        EventType("support_contact", "harmful", 0.02, 1.0, 2.0),
        EventType("unsubscribe_email", "harmful", 0.005, 1.2, 5.0),
    ),
}
PURCHASE = "purchase"
_PURCHASES_PER_MONTH = {"occasional": 0.6, "regular": 1.2, "frequent": 3.0}
_BURST_SD = 1.6  # sd of the log of a week's shopping intensity around the customer's rate


def event_types(business: str = "saas") -> tuple[EventType, ...]:
    """The event types a business shape emits, helpful ones first."""
    return _EVENT_CATALOGUE[business]


def event_directions(business: str = "saas") -> dict[str, str]:
    """Ground truth written to world.json: event type -> ``helpful`` or ``harmful``."""
    return {t.name: t.direction for t in event_types(business)}


EVENT_TYPES = tuple(t.name for t in event_types("saas"))
# CRM/billing fields exported as a metrics history: (name, measurements per month)
METRICS = (("seats_used", 3.5), ("api_calls", 4.0), ("open_opportunities", 1.0),
           ("crm_health_field", 0.6))
_CSM_COVERAGE = {"enterprise": 1.0, "mid_market": 0.7, "smb": 0.3,  # who has a CRM health field
                 "consumer": 0.0}
TOUCHPOINT_KINDS = ("qbr", "meeting", "training", "check_in")
DEPARTMENTS = ("engineering", "operations", "finance", "sales", "marketing", "it", "product",
               "customer_success")
INDUSTRIES = ("software", "fintech", "healthcare", "retail", "manufacturing", "media",
              "education", "logistics")
_NAME_WORDS = (("Blue", "North", "Bright", "Iron", "Silver", "Rapid", "Green", "Summit", "Clear",
                "Atlas"),
               ("Labs", "Systems", "Works", "Analytics", "Logistics", "Health", "Retail", "Media",
                "Capital", "Cloud"))
_TIERS = {"enterprise": "enterprise", "mid_market": "business", "smb": "starter"}

_NO_DATE = np.iinfo(np.int64).min  # becomes NaT
_NEVER = np.iinfo(np.int64).max // 4  # churn day of accounts that have not churned
_MAX_SEATS = 9_999  # user_id = account_id * 10000 + k

# Health dynamics (log-odds scale). Observables are functions of the absolute health around
# _H_REF, so a segment with a lower base health also looks worse.
_H_REF = 1.2
_ACCOUNT_SD = 0.35
_SLOW_PHI, _SLOW_SD = 0.95, 0.15
_FAST_PHI, _FAST_SD = 0.5, 0.25
_SHOCK_DECAY = 0.7
SHOCK_KINDS = ("champion_left", "p1_outage", "payment_failure")
_SHOCK_SIZE = {"champion_left": 1.0, "p1_outage": 0.8, "payment_failure": 0.9}
# Months after a shock's month that the account reacts to it: a failed payment falls due the
# month after its invoice, and is felt the month after that.
_SHOCK_FELT_AFTER = {"champion_left": 1, "p1_outage": 1, "payment_failure": 2}
_NO_CHAMPION_PENALTY = 0.5
_FRONT_LOAD = {"saas": 0.0, "monthly": 1.0, "transactional": 0.6}  # young accounts' deficit
_FRONT_LOAD_MONTHS = 3.0
_QUIET_USAGE = 0.25  # usage of quiet accounts relative to others
_HIDDEN_PHI = 0.9  # monthly persistence of the unobserved drivers
_HIDDEN_SHOCK_SIZE = 1.5
_SEASON_HEALTH = np.array([-0.05, 0.05, 0.05, 0.05, 0.0, 0.0, -0.05, -0.1, 0.0, 0.05, 0.0, -0.1])
_SEASON_USAGE = np.array([0.95, 1.0, 1.0, 1.0, 1.0, 0.97, 0.9, 0.85, 1.0, 1.0, 1.0, 0.8])
# Disengagement: an account slides into a decline with a monthly hazard that grows as its health
# falls (x e^{-K (h - base)}, so shocks trigger it); while declining, its health drops a further
# _DECLINE_STEP a month down to _DECLINE_MAX, until it churns or is won back.
_DECLINE_K = 2.0
_DECLINE_STEP = 1.25
_DECLINE_MAX = 2.5
_DECLINE_MAX_ONSET = 0.5
_RECOVERED_DECAY = 0.6  # a won-back account's depth shrinks by this factor a month
# Renewal decisions weigh recent months: churn depends on an EWMA of health with this weight
# on the current month.
_MEMORY_WEIGHT = 0.2
# Churn is decided _NOTICE_MONTHS before the renewal it takes effect at (a non-renewal notice;
# monthly plans run down for as long before cancelling); meanwhile the account's health sits at
# least _LEAVING_DEPTH below usual (usage collapses, payments slip, the relationship cools).
_NOTICE_MONTHS = 3
_LEAVING_DEPTH = 3.0
_LEAVING_ENGAGEMENT = 0.2  # leavers' usage and touchpoints beyond what their health implies
_BURN_IN_MONTHS = 12  # health runs this long before the world starts (declines in progress)
_CALIBRATION_PATHS, _CALIBRATION_MONTHS, _CALIBRATION_SEED = 3000, 36, 20_240_101
_CALIBRATION_STEPS = 18
_BASELINE_SHARE = 0.5

# Per-segment behaviour, keyed by segment name.
_SPONSOR_SHARE = {"enterprise": 0.9, "mid_market": 0.8, "smb": 0.5, "consumer": 0.0}
_TICKETS_PER_MONTH = {"enterprise": 1.2, "mid_market": 0.5, "smb": 0.2, "consumer": 0.05}
_SURVEYS_PER_MONTH = {"enterprise": 0.35, "mid_market": 0.2, "smb": 0.12, "consumer": 0.04}
_TOUCHPOINT_P = {  # monthly probability per kind (qbr: per quarter month), at full engagement
    "enterprise": (0.9, 0.9, 0.15, 0.3),
    "mid_market": (0.6, 0.25, 0.08, 0.35),
    "smb": (0.03, 0.03, 0.05, 0.12),
    "consumer": (0.0, 0.0, 0.0, 0.0),
}
_SEVERITY_P = np.array([0.02, 0.15, 0.45, 0.38])
_RESOLUTION_MEDIAN_DAYS = np.array([0.7, 2.0, 4.0, 6.0])
_TERM_24_SHARE = 0.05
_HISTORY_DAYS = 3 * 365


@dataclass(frozen=True)
class World:
    """A generated world: the contract tables, the per account-month ground truth, the period."""

    tables: dict[str, pd.DataFrame]
    ground_truth: pd.DataFrame
    start_date: dt.date
    end_date: dt.date  # last day covered (inclusive)
    seed: int | None = None
    business: str = "saas"
    difficulty: str = "realistic"


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`synthesize` wrote: row counts, yearly churn per segment, period, paths."""

    row_counts: dict[str, int]
    churn_rate_by_segment: dict[str, float]
    start_date: dt.date
    end_date: dt.date
    out_dir: Path
    paths: dict[str, Path]

