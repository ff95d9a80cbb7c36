"""The portfolio view of one scoring date: band summary, accounts to act on first, decliners,
alerts, a flat CRM export, and one self-contained HTML page a customer-success team can read.

Every function takes the score frame of one ``as_of`` date (one row per account, as written by
batch scoring, optionally joined with trend columns) and returns pandas or a string; nothing
here reads or writes files.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pandas as pd

from healthscore.errors import DataValidationError, ParameterError, Violation
from healthscore.model.bands import DEFAULT_BANDS
from healthscore.report import (
    DASHBOARD_STYLE,
    figure_png,
    page_style,
    png_img,
    pyplot,
    scrollable,
)

log = logging.getLogger(__name__)

# columns of the score frame used here
ACCOUNT_ID = "account_id"
NAME = "name"  # optional: the account's name (accounts.name)
OWNER = "owner"  # optional: who looks after the account (accounts.owner)
AS_OF = "as_of"
SEGMENT = "segment"
ARR = "arr"
HEALTH = "health"
BAND = "band"
PROBABILITY = "churn_probability"
HARD_STOPS = "hard_stops"
OVERRIDE = "override"
DOMINANT = "dominant_risk_dimension"
PLAYBOOK = "playbook"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
RUN_ID = "run_id"
# optional trend columns
CHANGE_30D = "health_change_30d"
CHANGE_90D = "health_change_90d"
MOMENTUM = "momentum"
PREVIOUS_BAND = "previous_band"
ALERTS = "alerts"
ALERT_REASONS = "alert_reasons"
# derived here
EXPECTED_LOSS = "expected_arr_loss"

BAND_COLORS = {"Critical": "#b2182b", "At risk": "#ef8a62", "Moderate": "#fddbc7",
               "Healthy": "#67a9cf"}
UNKNOWN_BAND_COLOR = "#bdbdbd"
RISK_REASON = re.compile(r"risk_(\d+)_reason")
CRM_COLUMNS = (ACCOUNT_ID, NAME, OWNER, AS_OF, HEALTH, BAND, PROBABILITY, MOMENTUM, CHANGE_30D,
               "top_risk_reasons", DOMINANT, PLAYBOOK, ALERTS, HARD_STOPS, OVERRIDE,
               MODEL_VERSION)
ALERT_ROWS = 50
STYLE = page_style(DASHBOARD_STYLE)


# ---------------------------------------------------------------------------------------------
# tables


def band_summary(scores: pd.DataFrame, band_order: Sequence[str]) -> pd.DataFrame:
    """Per band: accounts, share of accounts, ARR, share of ARR, mean health and expected ARR
    loss (sum of ``arr * churn_probability``).

    Bands come in ``band_order`` (lowest health first), each listed even when empty; a band
    found in ``scores`` but not in ``band_order`` is appended after them (with a warning) so
    the rows always add up to the portfolio. Missing ARR counts as 0.
    """
    order = _check_band_order(band_order)
    _require(scores, (BAND, HEALTH, ARR, PROBABILITY), "band_summary")
    extra = sorted(set(scores[BAND].dropna().astype(str)) - set(order))
    if extra:
        log.warning("bands %s are not in band_order %s; listed last", extra, order)
    arr = pd.to_numeric(scores[ARR], errors="coerce").fillna(0.0)
    frame = pd.DataFrame({
        BAND: scores[BAND].astype(str).to_numpy(),
        ARR: arr.to_numpy(float),
        HEALTH: pd.to_numeric(scores[HEALTH], errors="coerce").to_numpy(float),
        EXPECTED_LOSS: (arr * pd.to_numeric(scores[PROBABILITY], errors="coerce")).to_numpy(
            float),
    })
    grouped = frame.groupby(BAND, sort=False)
    out = pd.DataFrame({
        "accounts": grouped.size(),
        ARR: grouped[ARR].sum(),
        "mean_health": grouped[HEALTH].mean(),
        EXPECTED_LOSS: grouped[EXPECTED_LOSS].sum(),
    }).reindex(order + extra)
    out["accounts"] = out["accounts"].fillna(0).astype(int)
    out[[ARR, EXPECTED_LOSS]] = out[[ARR, EXPECTED_LOSS]].fillna(0.0)
    total_accounts, total_arr = int(out["accounts"].sum()), float(out[ARR].sum())
    out["share"] = out["accounts"] / total_accounts if total_accounts else 0.0
    out["arr_share"] = out[ARR] / total_arr if total_arr else 0.0
    out = out.rename_axis(BAND).reset_index()
    return out[[BAND, "accounts", "share", ARR, "arr_share", "mean_health", EXPECTED_LOSS]]


def top_at_risk(scores: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` accounts with the largest expected ARR loss (``arr * churn_probability``),
    with health, band, risk drivers (reason and points), dominant risk dimension, playbook,
    hard stops and override. Ties go to the lower health, then the account id."""
    _check_n(n)
    _require(scores, (ACCOUNT_ID, ARR, HEALTH, BAND, PROBABILITY), "top_at_risk")
    ranked = scores.assign(**{EXPECTED_LOSS: _expected_loss(scores)})
    ranked = ranked.sort_values([EXPECTED_LOSS, HEALTH, ACCOUNT_ID],
                                ascending=[False, True, True], kind="stable",
                                na_position="last").head(n)
    drivers = [c for k in _risk_ranks(scores) for c in (f"risk_{k}_reason", f"risk_{k}_points")
               if c in scores]
    columns = [ACCOUNT_ID, NAME, OWNER, SEGMENT, ARR, HEALTH, BAND, PROBABILITY, EXPECTED_LOSS,
               *drivers, DOMINANT, PLAYBOOK, HARD_STOPS, OVERRIDE]
    out = ranked[[c for c in columns if c in ranked]].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return _fill_text(out)


def biggest_decliners(scores: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` accounts whose health fell most over 30 days (``health_change_30d`` ascending;
    only accounts that declined). Empty, with the same columns, when the trend column is absent
    or holds no values (no score history 30 days back yet)."""
    _check_n(n)
    _require(scores, (ACCOUNT_ID, HEALTH, BAND), "biggest_decliners")
    columns = [ACCOUNT_ID, NAME, OWNER, SEGMENT, ARR, HEALTH, BAND, PREVIOUS_BAND, CHANGE_30D,
               CHANGE_90D, MOMENTUM, "risk_1_reason", DOMINANT, PLAYBOOK]
    present = [c for c in columns if c in scores or c == CHANGE_30D]
    if CHANGE_30D not in scores:
        return pd.DataFrame(columns=["rank", *present])
    change = pd.to_numeric(scores[CHANGE_30D], errors="coerce")
    declined = scores.loc[change < 0].assign(**{CHANGE_30D: change[change < 0]})
    out = declined.sort_values([CHANGE_30D, HEALTH, ACCOUNT_ID], kind="stable").head(n)
    out = out[present].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return _fill_text(out)


def crm_export(scores: pd.DataFrame) -> pd.DataFrame:
    """Flat columns for a CRM import, one row per account in input order.

    ``churn_probability`` is rounded to 3 decimals, ``as_of`` is an ISO date string, the risk
    reasons are joined with ``" | "``; text columns hold ``""`` (never NaN) and have line breaks
    replaced by spaces; trend columns absent from ``scores`` come out empty.
    """
    _require(scores, (ACCOUNT_ID, AS_OF, HEALTH, BAND, PROBABILITY), "crm_export")
    out = pd.DataFrame(index=scores.index)
    out[ACCOUNT_ID] = scores[ACCOUNT_ID].astype(str)
    for column in (NAME, OWNER):
        out[column] = scores[column] if column in scores else ""
    out[AS_OF] = pd.to_datetime(scores[AS_OF]).dt.strftime("%Y-%m-%d")
    out[HEALTH] = pd.to_numeric(scores[HEALTH], errors="coerce").round(1)
    out[BAND] = scores[BAND]
    out[PROBABILITY] = pd.to_numeric(scores[PROBABILITY], errors="coerce").round(3)
    out[MOMENTUM] = scores[MOMENTUM] if MOMENTUM in scores else ""
    out[CHANGE_30D] = (pd.to_numeric(scores[CHANGE_30D], errors="coerce").round(1)
                       if CHANGE_30D in scores else np.nan)
    out["top_risk_reasons"] = _joined_reasons(scores)
    for column in (DOMINANT, PLAYBOOK, ALERTS, HARD_STOPS, OVERRIDE, MODEL_VERSION):
        out[column] = scores[column] if column in scores else ""
    text = [c for c in CRM_COLUMNS if c not in (HEALTH, PROBABILITY, CHANGE_30D)]
    for column in text:
        out[column] = neutralise_formulas(
            out[column].astype(object).where(out[column].notna(), "").astype(str)
            .str.replace(r"[\r\n]+", " ", regex=True))
    return out[list(CRM_COLUMNS)].reset_index(drop=True)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab
    or a carriage return) get a leading apostrophe, as OWASP advises for CSV exports; a plain
    negative number such as ``-3`` stays as it is."""
    text = values.astype(str)
    risky = text.str.startswith(FORMULA_STARTS) & ~text.str.fullmatch(r"-\d+(\.\d+)?")
    return text.where(~risky, "'" + text)


# ---------------------------------------------------------------------------------------------
# plots


def band_color(name: str) -> str:
    """Colour of a band by name; grey for names outside the default four."""
    return BAND_COLORS.get(name, UNKNOWN_BAND_COLOR)


def bands_figure(summary: pd.DataFrame):
    """Two bar charts side by side: accounts and ARR per band, in band colours."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    colors = [band_color(b) for b in summary[BAND]]
    x = np.arange(len(summary))
    for ax, column, title, label in (
        (axes[0], "accounts", "Accounts per band", lambda v: f"{v:,.0f}"),
        (axes[1], ARR, "ARR per band", _compact),
    ):
        values = summary[column].to_numpy(float)
        bars = ax.bar(x, values, color=colors, edgecolor="#666", linewidth=0.6)
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(label(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, labels=list(summary[BAND]))
        ax.set_title(title)
        ax.set_ylim(0, max(values.max(initial=0) * 1.15, 1))
        ax.spines[["top", "right"]].set_visible(False)
    axes[1].yaxis.set_major_formatter(_axis_money)
    fig.tight_layout()
    return fig


def health_histogram_figure(scores: pd.DataFrame, band_order: Sequence[str],
                            edges: Sequence[float]):
    """Histogram of health (0-100, bins of 5) stacked by band, with band boundaries drawn."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    bins = np.arange(0, 105, 5)
    health = pd.to_numeric(scores[HEALTH], errors="coerce")
    bands = scores[BAND].astype(str)
    names = list(band_order) + sorted(set(bands) - set(band_order))
    groups = [np.clip(health[bands == b].dropna().to_numpy(float), 0, 100) for b in names]
    ax.hist(groups, bins=bins, stacked=True, color=[band_color(b) for b in names],
            edgecolor="#666", linewidth=0.4, label=names)
    for edge in edges:
        ax.axvline(edge, color="#333", linestyle="--", linewidth=0.9)
        ax.annotate(f"{edge:g}", (edge, 1), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=8)
    ax.set(xlim=(0, 100), xticks=np.arange(0, 101, 10), xlabel="Health (100 − 100·p)",
           ylabel="Accounts")
    ax.set_title("Health distribution", pad=14)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# the page


def render_portfolio(scores: pd.DataFrame, as_of: date, band_order: Sequence[str],
                     meta: dict[str, str], *, band_edges: Sequence[float] | None = None,
                     top_n: int = 20) -> str:
    """The portfolio page of one scoring date: one self-contained HTML string (plots embedded
    as base64 PNG; no scripts, no external URLs; all text escaped).

    Parameters
    ----------
    scores : the score frame of ``as_of`` (one row per account), optionally with trends.
    band_order : band names, lowest health first; the first two are the "at risk" ARR.
    meta : model description; ``model_name`` (or ``name``), ``model_version`` (or ``version``)
        and ``run_id`` are shown, falling back to the score frame's columns. An optional
        ``horizon_days`` names the churn horizon.
    band_edges : health values where one default band ends and the next begins, drawn on the
        histogram; by default the default bands' edges when ``band_order`` names them,
        otherwise no lines.
    """
    order = _check_band_order(band_order)
    _require(scores, (ACCOUNT_ID, ARR, HEALTH, BAND, PROBABILITY), "render_portfolio")
    edges = _band_edges(order, band_edges)
    model = _meta(meta, scores, ("model_name", "name"), MODEL_NAME)
    version = _meta(meta, scores, ("model_version", "version"), MODEL_VERSION)
    run_id = _meta(meta, scores, ("run_id",), RUN_ID)
    horizon = meta.get("horizon_days", "")
    within = f"within {horizon} days" if horizon else "within the model's horizon"
    model_text = f"{model or 'model'}" + (f" v{version}" if version else "")
    esc = html.escape

    summary = band_summary(scores, order)
    plots = "".join(
        f"<figure><figcaption>{esc(caption)}</figcaption>{png_img(figure_png(fig), alt)}"
        "</figure>"
        for caption, alt, fig in (
            ("How many accounts and how much ARR sit in each band", "bands",
             bands_figure(summary)),
            ("Health of every account (dashed lines: band boundaries)", "health distribution",
             health_histogram_figure(scores, order, edges)),
        ))
    config = _meta({}, scores, (), "config_hash")
    sub = " · ".join(esc(part) for part in (
        f"scored as of {as_of.isoformat()}", f"model {model_text}",
        f"run {run_id}" if run_id else "", f"config {config}" if config else "") if part)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Portfolio health {esc(as_of.isoformat())}: {esc(model_text)}</title>
<style>{STYLE}</style></head><body>
<h1>Portfolio health on {esc(as_of.isoformat())}</h1>
<p class="sub">{sub}</p>
{_headline(scores, summary, order, within)}
{_this_week_section(scores, order)}
<h2>Health bands</h2>
{_summary_table(summary)}
<div class="grid">{plots}</div>
<h2>Top {top_n} accounts at risk</h2>
<p>Ranked by expected ARR loss = ARR × churn probability {esc(within)}: where a save is worth
most. Drivers are the features that take the most health points away.</p>
{_at_risk_table(top_at_risk(scores, top_n))}
<h2>Biggest decliners over 30 days</h2>
{_decliners_section(scores, top_n)}
{_alerts_section(scores)}
{_owner_section(scores, order)}
<h2>How to read this page</h2>
<div class="note"><ul>
<li><b>Health</b> = 100 − 100·p, where p is the calibrated probability that the account churns
{esc(within)}. Health 80 means a 20 % chance of churning.</li>
<li><b>Bands</b> group health ({esc(" < ".join(order))}); band overrides (for example in the
renewal window) can place an account in a lower band than its health alone would.</li>
<li><b>Points</b> next to a driver are the health points it adds (+) or removes (−) compared
with the base health (the model's health for an account whose every driver is neutral, about
a typical account); an account's points add up to its model health minus the base health.</li>
<li><b>Hard stops</b> are rules that cap health whatever the model says (for example a
seriously past-due invoice); an <b>override</b> is a manual value set by a person, with its
reason and expiry.</li>
<li><b>Expected ARR loss</b> = Σ ARR × p: the ARR you would expect to lose if nothing
changes; it is an average over many accounts, not a forecast for any one of them.</li>
</ul></div>
</body></html>"""


def _headline(scores: pd.DataFrame, summary: pd.DataFrame, order: list[str],
              within: str) -> str:
    low = order[:2]
    total_arr = float(summary[ARR].sum())
    risky_arr = float(summary.loc[summary[BAND].isin(low), ARR].sum())
    risky_share = f"{risky_arr / total_arr:.0%} of ARR" if total_arr else "–"
    loss = float(summary[EXPECTED_LOSS].sum())
    if ALERTS in scores:
        codes = _alert_lists(scores)
        alerts = f"{int(codes.map(len).sum()):,}"
        alert_note = f"on {int((codes.map(len) > 0).sum()):,} accounts"
    else:
        alerts, alert_note = "–", "no trend data joined"
    cards = (
        (f"{len(scores):,}", "accounts scored"),
        (_compact(total_arr), "total ARR"),
        (_compact(risky_arr), f"ARR in {' + '.join(reversed(low))} ({risky_share})"),
        (_compact(loss), f"expected ARR loss {within}"),
        (alerts, f"alerts {alert_note}"),
    )
    body = "".join(f'<div class="card"><div class="value">{html.escape(value)}</div>'
                   f'<div class="label">{html.escape(label)}</div></div>'
                   for value, label in cards)
    return f'<div class="cards">{body}</div>'


def _summary_table(summary: pd.DataFrame) -> str:
    total = {
        BAND: "Total", "accounts": summary["accounts"].sum(), "share": summary["share"].sum(),
        ARR: summary[ARR].sum(), "arr_share": summary["arr_share"].sum(),
        "mean_health": np.nan, EXPECTED_LOSS: summary[EXPECTED_LOSS].sum(),
    }
    rows = pd.concat([summary, pd.DataFrame([total])], ignore_index=True)
    return _html_table(rows, (
        ("Band", "", lambda r: _band_chip(r[BAND]) if r[BAND] != "Total"
         else "<b>Total</b>"),
        ("Accounts", "num", lambda r: f"{int(r['accounts']):,}"),
        ("Share", "num", lambda r: f"{r['share']:.0%}"),
        ("ARR", "num", lambda r: _money(r[ARR])),
        ("ARR share", "num", lambda r: f"{r['arr_share']:.0%}"),
        ("Mean health", "num", lambda r: _number(r["mean_health"], "{:.1f}")),
        ("Expected ARR loss", "num", lambda r: _money(r[EXPECTED_LOSS])),
    ))


def _at_risk_table(top: pd.DataFrame) -> str:
    if top.empty:
        return '<p class="muted">No accounts scored.</p>'
    ranks = [int(m.group(1)) for c in top for m in [RISK_REASON.fullmatch(c)] if m]
    columns = [
        ("#", "num", lambda r: str(r["rank"])),
        ("Account", "text", lambda r: _account_cell(r, with_segment=True)),
        ("ARR", "num", lambda r: _money(r[ARR])),
        ("Health", "num", lambda r: _number(r[HEALTH], "{:.1f}")
         + f"<br>{_band_chip(r[BAND])}"),
        ("p", "num", lambda r: _number(r[PROBABILITY], "{:.0%}")),
        ("Expected loss", "num", lambda r: _money(r[EXPECTED_LOSS])),
        ("Risk drivers (points)", "wide", lambda r: _reasons(r, ranks)),
        ("Playbook · hard stops, override", "text", lambda r: _playbook(r) + (
            f'<br><span class="muted">{_rules(r)}</span>' if _rules(r) else "")),
    ]
    return _html_table(top, columns)


def _decliners_section(scores: pd.DataFrame, n: int) -> str:
    decliners = biggest_decliners(scores, n)
    if decliners.empty:
        why = ("no trend columns are joined to these scores" if CHANGE_30D not in scores
               else "no account lost health over 30 days, or there is no score 30 days back")
        return f'<p class="muted">No decliners to show: {html.escape(why)}.</p>'
    columns = [
        ("#", "num", lambda r: str(r["rank"])),
        ("Account", "text", lambda r: _account_cell(r)),
        ("ARR", "num", lambda r: _money(r[ARR]) if ARR in r else "–"),
        ("Health, band (before)", "num", lambda r: _number(r[HEALTH], "{:.1f}")
         + f"<br>{_band_chip(r[BAND])}" + (
            f'<br><span class="muted">({html.escape(str(r[PREVIOUS_BAND]))})</span>'
            if PREVIOUS_BAND in r and r[PREVIOUS_BAND] not in ("", r[BAND]) else "")),
        ("30-day change", "num", lambda r: _number(r[CHANGE_30D], "{:+.1f}")),
        ("90-day change", "num",
         lambda r: _number(r[CHANGE_90D], "{:+.1f}") if CHANGE_90D in r else "–"),
        ("Momentum", "", lambda r: html.escape(str(r.get(MOMENTUM, "")))),
        ("Top risk driver", "text", lambda r: html.escape(str(r.get("risk_1_reason", "")))),
        ("Playbook", "text", lambda r: _playbook(r)),
    ]
    return _html_table(decliners, columns)


def _alerts_section(scores: pd.DataFrame) -> str:
    if ALERTS not in scores:
        return ""
    codes = _alert_lists(scores)
    flagged = scores.loc[codes.map(len) > 0].assign(**{EXPECTED_LOSS: _expected_loss(scores)})
    head = "<h2>Alerts</h2>"
    if flagged.empty:
        return head + '<p class="muted">No alerts on this date.</p>'
    flagged = flagged.sort_values([EXPECTED_LOSS, ACCOUNT_ID], ascending=[False, True],
                                  kind="stable")
    more = len(flagged) - ALERT_ROWS
    note = (f'<p class="muted">… and {more:,} more accounts with alerts (all of them are in the '
            "CRM export).</p>" if more > 0 else "")
    columns = [
        ("Account", "text", lambda r: _account_cell(r)),
        ("Health", "num", lambda r: _number(r[HEALTH], "{:.1f}")),
        ("Band", "", lambda r: _band_chip(r[BAND])),
        ("Alerts", "", lambda r: html.escape(", ".join(_split_alerts(r[ALERTS])))),
        ("Why", "", lambda r: _text(r.get(ALERT_REASONS, ""))),
    ]
    return (f"{head}<p>Accounts with alerts, largest expected ARR loss first.</p>"
            f"{_html_table(_fill_text(flagged.head(ALERT_ROWS)), columns)}{note}")


def _account_cell(row: pd.Series, with_segment: bool = False) -> str:
    """The account's name in bold (when known) over its id, segment and owner."""
    name = str(row.get(NAME, "") or "")
    details = [str(row[ACCOUNT_ID])] if name else []
    if with_segment and str(row.get(SEGMENT, "") or ""):
        details.append(str(row[SEGMENT]))
    if str(row.get(OWNER, "") or ""):
        details.append(f"owner {row[OWNER]}")
    head = f"<b>{html.escape(name)}</b>" if name else html.escape(str(row[ACCOUNT_ID]))
    return head + (f'<br><span class="muted">{html.escape(" · ".join(details))}</span>'
                   if details else "")


def account_label(row: pd.Series) -> str:
    """``Name (id)`` when the account has a name, else its id."""
    name = str(row.get(NAME, "") or "")
    return f"{name} ({row[ACCOUNT_ID]})" if name else str(row[ACCOUNT_ID])


def owner_summary(scores: pd.DataFrame, band_order: Sequence[str]) -> pd.DataFrame:
    """Per owner (accounts without one under "(no owner)"): accounts, ARR, accounts in the two
    lowest bands, expected ARR loss and accounts with alerts; most expected loss first. Empty
    when no account has an owner."""
    if OWNER not in scores or not scores[OWNER].fillna("").astype(str).str.strip().any():
        return pd.DataFrame(columns=[OWNER, "accounts", ARR, "at_risk", EXPECTED_LOSS,
                                     "with_alerts"])
    low = list(band_order)[:2]
    frame = scores.assign(**{
        OWNER: scores[OWNER].fillna("").astype(str).str.strip().replace("", "(no owner)"),
        EXPECTED_LOSS: _expected_loss(scores),
        "at_risk": scores[BAND].isin(low).astype(int),
        "with_alerts": (_alert_lists(scores).map(len) > 0).astype(int) if ALERTS in scores
        else 0})
    out = frame.groupby(OWNER).agg(accounts=(ACCOUNT_ID, "size"), arr=(ARR, "sum"),
                                   at_risk=("at_risk", "sum"),
                                   expected_arr_loss=(EXPECTED_LOSS, "sum"),
                                   with_alerts=("with_alerts", "sum")).reset_index()
    return out.sort_values([EXPECTED_LOSS, OWNER], ascending=[False, True], kind="stable",
                           ).reset_index(drop=True)


RENEWAL_SOON_DAYS = 90
BIG_DROP_POINTS = 10.0


def this_week(scores: pd.DataFrame, band_order: Sequence[str], n: int = 5,
              ) -> list[tuple[str, pd.DataFrame]]:
    """What a customer-success team should do first, as (headline, accounts) pairs, each list
    largest expected ARR loss first (at most ``n`` accounts; empty actions are left out):
    save calls for low-band accounts renewing within 90 days, accounts that entered the lowest
    band, accounts that lost 10 or more health points in 30 days, expansion plays."""
    low = list(band_order)[:2]
    ranked = scores.assign(**{EXPECTED_LOSS: _expected_loss(scores)}).sort_values(
        [EXPECTED_LOSS, ACCOUNT_ID], ascending=[False, True], kind="stable")
    codes = _alert_lists(ranked) if ALERTS in ranked else pd.Series([[]] * len(ranked),
                                                                   index=ranked.index)
    days = pd.to_numeric(ranked.get("days_to_renewal"), errors="coerce") \
        if "days_to_renewal" in ranked else pd.Series(np.nan, index=ranked.index)
    change = pd.to_numeric(ranked[CHANGE_30D], errors="coerce") if CHANGE_30D in ranked \
        else pd.Series(np.nan, index=ranked.index)
    actions = [
        (f"Call before the renewal: {{n}} account(s) in {' or '.join(low)} renew within "
         f"{RENEWAL_SOON_DAYS} days ({{arr}} ARR)",
         ranked[ranked[BAND].isin(low) & (days <= RENEWAL_SOON_DAYS)]),
        (f"Find out what changed: {{n}} account(s) entered {band_order[0]} since the last score "
         "({arr} ARR)", ranked[codes.map(lambda c: "entered_critical" in c)]),
        (f"Check in: {{n}} account(s) lost {BIG_DROP_POINTS:g} or more health points in 30 "
         "days ({arr} ARR)", ranked[change <= -BIG_DROP_POINTS]),
        ("Talk expansion: {n} healthy account(s) show an expansion signal ({arr} ARR)",
         ranked[codes.map(lambda c: "expansion_play" in c)]),
    ]
    out = []
    for template, accounts in actions:
        if accounts.empty:
            continue
        headline = template.format(n=f"{len(accounts):,}", arr=_compact(accounts[ARR].sum()))
        out.append((headline, accounts.head(n)))
    return out


def _this_week_section(scores: pd.DataFrame, band_order: Sequence[str]) -> str:
    actions = this_week(scores, band_order)
    if not actions:
        return ('<h2>What to do this week</h2><p class="muted">Nothing urgent: no low-band '
                "renewal, no account entered the lowest band, no big drop, no expansion "
                "signal.</p>")
    items = []
    for headline, accounts in actions:
        names = ", ".join(html.escape(account_label(r)) + _owner_note(r)
                          for _, r in accounts.iterrows())
        items.append(f"<li><b>{html.escape(headline)}</b><br>first: {names}</li>")
    return ("<h2>What to do this week</h2><p>The accounts to act on first, largest expected "
            f"ARR loss first (all of them are in the CRM export).</p><ol>{''.join(items)}</ol>")


def _owner_note(row: pd.Series) -> str:
    owner = str(row.get(OWNER, "") or "")
    return f' <span class="muted">· {html.escape(owner)}</span>' if owner else ""


def _owner_section(scores: pd.DataFrame, band_order: Sequence[str]) -> str:
    owners = owner_summary(scores, band_order)
    if owners.empty:
        return ""
    low = " + ".join(list(band_order)[:2])
    return "<h2>By owner</h2>" + _html_table(owners, (
        ("Owner", "text", lambda r: html.escape(str(r[OWNER]))),
        ("Accounts", "num", lambda r: f"{int(r['accounts']):,}"),
        ("ARR", "num", lambda r: _money(r[ARR])),
        (f"In {low}", "num", lambda r: f"{int(r['at_risk']):,}"),
        ("Expected ARR loss", "num", lambda r: _money(r[EXPECTED_LOSS])),
        ("With alerts", "num", lambda r: f"{int(r['with_alerts']):,}"),
    ))


# ---------------------------------------------------------------------------------------------
# helpers


def _require(scores: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in scores]
    if missing:
        raise DataValidationError([
            Violation("scores", c, f"required column missing (needed by {where})", 0)
            for c in missing])


def _check_band_order(band_order: Sequence[str]) -> list[str]:
    order = [str(b) for b in band_order]
    if not order or len(set(order)) != len(order) or isinstance(band_order, str):
        raise ParameterError("band_order", "a non-empty sequence of distinct band names, "
                             "lowest health first", band_order)
    return order


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ParameterError("n", "an int >= 0", n)


def _band_edges(order: list[str], band_edges: Sequence[float] | None) -> list[float]:
    if band_edges is not None:
        return [float(e) for e in band_edges]
    if order == [b.name for b in DEFAULT_BANDS]:
        return [float(b.low) for b in DEFAULT_BANDS[1:]]
    return []


def _meta(meta: dict[str, str], scores: pd.DataFrame, keys: Sequence[str], column: str) -> str:
    for key in keys:
        if meta.get(key):
            return str(meta[key])
    if column in scores and len(scores) and pd.notna(scores[column].iloc[0]):
        return str(scores[column].iloc[0])
    return ""


def _expected_loss(scores: pd.DataFrame) -> pd.Series:
    return (pd.to_numeric(scores[ARR], errors="coerce")
            * pd.to_numeric(scores[PROBABILITY], errors="coerce"))


def _risk_ranks(scores: pd.DataFrame) -> list[int]:
    return sorted(int(m.group(1)) for c in scores.columns
                  for m in [RISK_REASON.fullmatch(str(c))] if m)


def _joined_reasons(scores: pd.DataFrame) -> list[str]:
    columns = [f"risk_{k}_reason" for k in _risk_ranks(scores)]
    values = scores[columns].astype(object).to_numpy() if columns else np.empty((len(scores), 0))
    return [" | ".join(str(v) for v in row if isinstance(v, str) and v.strip())
            for row in values]


def _fill_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text (non-numeric) columns with NaN replaced by ``""``."""
    frame = frame.copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), "")
    return frame


def _alert_lists(scores: pd.DataFrame) -> pd.Series:
    return scores[ALERTS].map(_split_alerts)


def _split_alerts(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    return [code.strip() for code in value.split(";") if code.strip()]


def _html_table(frame: pd.DataFrame,
                columns: Sequence[tuple[str, str, Callable[[pd.Series], str]]]) -> str:
    """A table whose cells are built per row; each cell function returns escaped HTML."""
    head = "".join(f'<th class="{css}">{html.escape(title)}</th>' for title, css, _ in columns)
    rows = "".join(
        "<tr>" + "".join(f'<td class="{css}">{cell(row)}</td>' for _, css, cell in columns)
        + "</tr>" for _, row in frame.iterrows())
    return scrollable(f"<table><tr>{head}</tr>{rows}</table>")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return html.escape(str(value))


def _number(value: object, template: str) -> str:
    if value is None or value == "" or pd.isna(value):
        return "–"
    return html.escape(template.format(float(value)))


def _money(value: object) -> str:
    return _number(value, "{:,.0f}")


def _compact(value: float) -> str:
    """1234567 -> "1.23M"; 21012345 -> "21.0M"; 45300 -> "45.3k"."""
    magnitude = abs(value)
    if magnitude >= 1e7:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e6:
        return f"{value / 1e6:.2f}M"
    if magnitude >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:,.0f}"


def _axis_money(value: float, _position: object = None) -> str:
    """Axis tick label: 2000000 -> "2M", 500000 -> "500k"."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _band_chip(name: object) -> str:
    text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    color = band_color(text)
    ink = "#fff" if _luminance(color) < 0.45 else "#222"
    return f'<span class="band" style="background:{color};color:{ink}">{html.escape(text)}</span>'


def _luminance(color: str) -> float:
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _reasons(row: pd.Series, ranks: Sequence[int]) -> str:
    items = []
    for k in ranks:
        reason = row.get(f"risk_{k}_reason", "")
        if not isinstance(reason, str) or not reason.strip():
            continue
        points = row.get(f"risk_{k}_points", np.nan)
        shown = (f'<span class="pts">{float(points):+.1f}</span> '
                 if isinstance(points, int | float) and not pd.isna(points) and points else "")
        items.append(f"<li>{shown}{html.escape(reason)}</li>")
    if not items:
        return '<span class="muted">no risk driver</span>'
    return f'<ul class="reasons">{"".join(items)}</ul>'


def _playbook(row: pd.Series) -> str:
    dimension, playbook = _text(row.get(DOMINANT, "")), _text(row.get(PLAYBOOK, ""))
    if not dimension and not playbook:
        return '<span class="muted">–</span>'
    return f"<b>{dimension}</b><br>{playbook}" if dimension else playbook


def _rules(row: pd.Series) -> str:
    parts = []
    stops = row.get(HARD_STOPS, "")
    if isinstance(stops, str) and stops.strip():
        parts.append("capped by " + ", ".join(html.escape(s.strip()) for s in stops.split(",")
                                              if s.strip()))
    override = row.get(OVERRIDE, "")
    if isinstance(override, str) and override.strip():
        parts.append("override: " + html.escape(override))
    return "<br>".join(parts)
