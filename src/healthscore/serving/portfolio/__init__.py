"""The portfolio view of one scoring date: band summary, accounts to act on first, decliners,
alerts, a flat CRM export, and one self-contained HTML page a customer-success team can read.

Every function takes the score frame of one ``as_of`` date (one row per account, as written by
batch scoring, optionally joined with trend columns) and returns pandas or a string; nothing
here reads or writes files. Three parts: :mod:`.tables` (the numbers and the CRM export),
:mod:`.figures` and :mod:`.page` (the HTML page).
"""

from healthscore.serving.portfolio.figures import (
    BAND_COLORS,
    UNKNOWN_BAND_COLOR,
    band_color,
    bands_figure,
    health_histogram_figure,
)
from healthscore.serving.portfolio.page import ALERT_ROWS, STYLE, render_portfolio
from healthscore.serving.portfolio.tables import (
    ACCOUNT_ID,
    ALERT_REASONS,
    ALERTS,
    ARR,
    AS_OF,
    BAND,
    BIG_DROP_POINTS,
    CHANGE_30D,
    CHANGE_90D,
    CRM_COLUMNS,
    DOMINANT,
    EXPECTED_LOSS,
    FORMULA_STARTS,
    HARD_STOPS,
    HEALTH,
    MODEL_NAME,
    MODEL_VERSION,
    MOMENTUM,
    NAME,
    OVERRIDE,
    OWNER,
    PLAYBOOK,
    PREVIOUS_BAND,
    PROBABILITY,
    RENEWAL_SOON_DAYS,
    RISK_REASON,
    RUN_ID,
    SEGMENT,
    account_label,
    band_summary,
    biggest_decliners,
    crm_export,
    neutralise_formulas,
    owner_summary,
    this_week,
    top_at_risk,
)

__all__ = [
    "ACCOUNT_ID", "ALERTS", "ALERT_REASONS", "ALERT_ROWS", "ARR", "AS_OF", "BAND", "BAND_COLORS",
    "BIG_DROP_POINTS", "CHANGE_30D", "CHANGE_90D", "CRM_COLUMNS", "DOMINANT", "EXPECTED_LOSS",
    "FORMULA_STARTS", "HARD_STOPS", "HEALTH", "MODEL_NAME", "MODEL_VERSION", "MOMENTUM", "NAME",
    "OVERRIDE", "OWNER", "PLAYBOOK", "PREVIOUS_BAND", "PROBABILITY", "RENEWAL_SOON_DAYS",
    "RISK_REASON", "RUN_ID", "SEGMENT", "STYLE", "UNKNOWN_BAND_COLOR", "account_label",
    "band_color", "band_summary", "bands_figure", "biggest_decliners", "crm_export",
    "health_histogram_figure", "neutralise_formulas", "owner_summary", "render_portfolio",
    "this_week", "top_at_risk",
]
