"""The portfolio view of one scoring date: band summary, accounts to act on first, decliners,
alerts, a flat CRM export, and one self-contained HTML page a customer-success team can read.

Every function takes the score frame of one ``as_of`` date (one row per account, as written by
batch scoring, optionally joined with trend columns) and returns pandas or a string; nothing
here reads or writes files. Three parts: :mod:`.tables` (the numbers and the CRM export),
:mod:`.figures` and :mod:`.page` (the HTML page); the score frame's column names are in
:mod:`.tables`.
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
    CRM_COLUMNS,
    FORMULA_STARTS,
    account_label,
    band_summary,
    biggest_decliners,
    crm_export,
    expansion_candidates,
    neutralise_formulas,
    owner_summary,
    this_week,
    top_at_risk,
)

__all__ = [
    "ALERT_ROWS", "BAND_COLORS", "CRM_COLUMNS", "FORMULA_STARTS", "STYLE", "UNKNOWN_BAND_COLOR",
    "account_label", "band_color", "band_summary", "bands_figure", "biggest_decliners",
    "crm_export", "expansion_candidates", "health_histogram_figure", "neutralise_formulas",
    "owner_summary", "render_portfolio", "this_week", "top_at_risk",
]
