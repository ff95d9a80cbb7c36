"""A synthetic B2B SaaS world whose churn mechanism is known, vectorised with numpy.

Every account carries a latent health (log-odds scale) that follows AR(1) processes around its
segment's ``base_health`` plus an account effect, with seasonality and shocks (champion left,
P1 outage, payment failure) that lower it for a few months. Low health and shocks can tip an
account into a decline: its health falls further month after month until it churns or is won
back. Health drives everything a model can see (usage, payments, tickets, surveys,
touchpoints, contacts) and churn: ``_NOTICE_MONTHS`` before a renewal the account decides on it
from its recent health (an EWMA), steeply; a leaver then serves notice with usage and
engagement collapsing, and churns at that renewal. Annual contracts churn only on an
anniversary, monthly plans in any month. A little churn (``unexplained_churn``) has no signal.
Segment churn rates are calibrated on simulated health paths to hit ``annual_churn``.

The simulation loops over months only; inside a month every step works on arrays over all
accounts. Usage events are emitted week by week (one row per account, active user and week)
one month behind the rest, because a week can reach into the next month and its churn.
Dates are handled as integer days since 1970-01-01 and converted once at the end.

Modules, in the order the data flows (each imports only those before it):

- ``world``: the vocabulary (event types, metrics, touchpoints, shocks), the constants of the
  health dynamics and per-segment behaviour, ``World`` and ``WorldSummary``
- ``helpers``: integer days and months, random days, positions
- ``calibration``: the latent health process and churn on simulated paths
- ``world_setup``: segments, calibrated churn, the accounts, contacts and state at the start
- ``month``: one month for every account (health, shocks, churn, renewals, invoices, tickets,
  surveys, touchpoints, metrics, the week's usage events)
- ``simulation``: the monthly loop
- ``tables``: the contract tables and ground truth; ``generate_world``
- ``writing``: Parquet/CSV files and ``world.json``; ``write_world``, ``synthesize``
"""

from healthscore.synth.helpers import period_starts, world_end_date
from healthscore.synth.tables import BUSINESS_TABLES, annual_churn_rates, generate_world
from healthscore.synth.world import (
    DEPARTMENTS,
    EVENT_TYPES,
    GROUND_TRUTH,
    GROUND_TRUTH_COLUMNS,
    INDUSTRIES,
    MANIFEST,
    METRICS,
    PURCHASE,
    SHOCK_KINDS,
    TOUCHPOINT_KINDS,
    EventType,
    Format,
    World,
    WorldSummary,
    event_directions,
    event_types,
)
from healthscore.synth.world_setup import plan_names
from healthscore.synth.writing import synthesize, write_world

__all__ = [
    "BUSINESS_TABLES",
    "DEPARTMENTS",
    "EVENT_TYPES",
    "GROUND_TRUTH",
    "GROUND_TRUTH_COLUMNS",
    "INDUSTRIES",
    "MANIFEST",
    "METRICS",
    "PURCHASE",
    "SHOCK_KINDS",
    "TOUCHPOINT_KINDS",
    "EventType",
    "Format",
    "World",
    "WorldSummary",
    "annual_churn_rates",
    "event_directions",
    "event_types",
    "generate_world",
    "period_starts",
    "plan_names",
    "synthesize",
    "world_end_date",
    "write_world",
]
