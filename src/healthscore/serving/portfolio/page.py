"""The portfolio page of one scoring date: one self-contained HTML string a customer-success
team can read (figures embedded, no scripts, no external URLs, all text escaped)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from healthscore.model.bands import DEFAULT_BANDS
from healthscore.report import (
    DASHBOARD_STYLE,
    chip,
    columns_table,
    figure_png,
    format_value,
    is_missing,
    page_style,
    png_img,
)
from healthscore.serving.portfolio.figures import band_color, bands_figure, health_histogram_figure
from healthscore.serving.portfolio.tables import (
    ACCOUNT_ID,
    ALERT_REASONS,
    ALERTS,
    ARR,
    BAND,
    CHANGE_30D,
    CHANGE_90D,
    DOMINANT,
    EXPANSION,
    EXPANSION_REASON,
    EXPECTED_LOSS,
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
    RISK_REASON,
    RUN_ID,
    SEGMENT,
    account_label,
    alert_lists,
    band_summary,
    biggest_decliners,
    check_band_order,
    compact_money,
    expansion_candidates,
    expected_loss,
    fill_text,
    owner_summary,
    require_columns,
    split_alerts,
    this_week,
    top_at_risk,
)

ALERT_ROWS = 50
STYLE = page_style(DASHBOARD_STYLE)


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
    order = check_band_order(band_order)
    require_columns(scores, (ACCOUNT_ID, ARR, HEALTH, BAND, PROBABILITY), "render_portfolio")
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
{_expansion_section(scores, order, top_n)}
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
        codes = alert_lists(scores)
        alerts = f"{int(codes.map(len).sum()):,}"
        alert_note = f"on {int((codes.map(len) > 0).sum()):,} accounts"
    else:
        alerts, alert_note = "–", "no trend data joined"
    cards = (
        (f"{len(scores):,}", "accounts scored"),
        (compact_money(total_arr), "total ARR"),
        (compact_money(risky_arr), f"ARR in {' + '.join(reversed(low))} ({risky_share})"),
        (compact_money(loss), f"expected ARR loss {within}"),
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
    return columns_table(rows, (
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
    return columns_table(top, columns)


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
    return columns_table(decliners, columns)


def _expansion_section(scores: pd.DataFrame, order: list[str], n: int) -> str:
    """The healthiest band's accounts most ready to expand; nothing without an expansion
    readiness model."""
    if EXPANSION not in scores:
        return ""
    ready = expansion_candidates(scores, order, n)
    head = (f"<h2>Ready to expand</h2><p>Accounts in {html.escape(order[-1])} with the highest "
            "expansion readiness: the calibrated chance, in %, that the account expands, from "
            "the expansion model. Drivers are the features that add most to it.</p>")
    if ready.empty:
        return head + f'<p class="muted">No account in {html.escape(order[-1])} has an ' \
            "expansion score.</p>"
    ranks = [int(m.group(1)) for c in ready for m in [EXPANSION_REASON.fullmatch(c)] if m]
    columns = [
        ("#", "num", lambda r: str(r["rank"])),
        ("Account", "text", lambda r: _account_cell(r, with_segment=True)),
        ("ARR", "num", lambda r: _money(r[ARR]) if ARR in r else "–"),
        ("Health", "num", lambda r: _number(r[HEALTH], "{:.1f}")),
        ("Expansion readiness", "num", lambda r: _number(r[EXPANSION], "{:.1f}")),
        ("Expansion drivers (points)", "wide",
         lambda r: _reasons(r, ranks, "expansion", "no expansion driver")),
    ]
    return head + columns_table(ready, columns)


def _alerts_section(scores: pd.DataFrame) -> str:
    if ALERTS not in scores:
        return ""
    codes = alert_lists(scores)
    flagged = scores.loc[codes.map(len) > 0].assign(**{EXPECTED_LOSS: expected_loss(scores)})
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
        ("Alerts", "", lambda r: html.escape(", ".join(split_alerts(r[ALERTS])))),
        ("Why", "", lambda r: _text(r.get(ALERT_REASONS, ""))),
    ]
    return (f"{head}<p>Accounts with alerts, largest expected ARR loss first.</p>"
            f"{columns_table(fill_text(flagged.head(ALERT_ROWS)), columns)}{note}")


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
    return "<h2>By owner</h2>" + columns_table(owners, (
        ("Owner", "text", lambda r: html.escape(str(r[OWNER]))),
        ("Accounts", "num", lambda r: f"{int(r['accounts']):,}"),
        ("ARR", "num", lambda r: _money(r[ARR])),
        (f"In {low}", "num", lambda r: f"{int(r['at_risk']):,}"),
        ("Expected ARR loss", "num", lambda r: _money(r[EXPECTED_LOSS])),
        ("With alerts", "num", lambda r: f"{int(r['with_alerts']):,}"),
    ))


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


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return html.escape(str(value))


def _number(value: object, template: str) -> str:
    """A number (possibly held as text) formatted and escaped; an en dash when missing."""
    return html.escape(format_value(template, value if is_missing(value) else float(value)))


def _money(value: object) -> str:
    return _number(value, "{:,.0f}")


def _band_chip(name: object) -> str:
    text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    return chip(text, band_color(text))


def _reasons(row: pd.Series, ranks: Sequence[int], kind: str = "risk",
             none: str = "no risk driver") -> str:
    """The ``{kind}_<k>_reason`` drivers of ``row`` with their points, as a list."""
    items = []
    for k in ranks:
        reason = row.get(f"{kind}_{k}_reason", "")
        if not isinstance(reason, str) or not reason.strip():
            continue
        points = row.get(f"{kind}_{k}_points", np.nan)
        shown = (f'<span class="pts">{float(points):+.1f}</span> '
                 if isinstance(points, int | float) and not pd.isna(points) and points else "")
        items.append(f"<li>{shown}{html.escape(reason)}</li>")
    if not items:
        return f'<span class="muted">{html.escape(none)}</span>'
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
