"""The monitor page: live accuracy (:mod:`healthscore.serving.monitor`) as one self-contained
HTML page, with the checks, the figures beside their targets and the validation report's
promises, per scoring date, per band, calibration and the accounts missed or flagged."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.report import Cell, figure_png, page_style, png_img, pyplot, table
from healthscore.serving.monitor import METRIC_LABELS, TARGETS, LiveAccuracy, Promise

_STYLE = """
.pass{color:#1b7a2f;font-weight:600}.fail{color:#b00020;font-weight:700}.skipped{color:#888}
td.num{text-align:right}td.date{white-space:nowrap}
"""
_NUMBER = re.compile(r"^[−+>-]?\s?[\d.,]+\s?%?(\s|$|\()")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _pct(value: float) -> str:
    return f"{value:.1%}" if np.isfinite(value) else "–"


def _interval(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "–"
    return f"{low:.1%} – {high:.1%}"


def _cell(value: object, column: int, text_columns: Sequence[int]) -> Cell:
    """A table cell: dates never break, numbers align right, text (and every cell of
    ``text_columns``, such as driver sentences that start with a count) aligns left."""
    text = str(value)
    if _DATE.match(text):
        return html.escape(text), "date"
    if column and column not in text_columns and _NUMBER.match(text):
        return html.escape(text), "num"
    return html.escape(text)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]],
           text_columns: Sequence[int] = ()) -> str:
    return table(header, ([_cell(c, i, text_columns) for i, c in enumerate(r)] for r in rows))


def _figure_table(figures: pd.DataFrame, ratio_metric: str = "observed_over_expected") -> str:
    rows = []
    for r in figures.itertuples():
        fmt = (lambda v: f"{v:.2f}" if np.isfinite(v) else "–") if r.metric == ratio_metric \
            else _pct
        interval = (f"{r.low:.2f} – {r.high:.2f}" if r.metric == ratio_metric
                    and np.isfinite(r.low) else _interval(r.low, r.high))
        target = f"> {r.target:.0%}" if np.isfinite(r.target) else ""
        met = ("" if not np.isfinite(r.target) or not np.isfinite(r.value)
               else "yes" if r.value > r.target else "no")
        promised = (f"{_pct(r.promised)} ({_interval(r.promised_low, r.promised_high)})"
                    if np.isfinite(r.promised) else "")
        rows.append([METRIC_LABELS.get(r.metric, r.metric), fmt(r.value), interval, target, met,
                     promised, r.reproduced if promised else ""])
    return _table(["figure", "live", "95 % interval", "seeds' target", "target met",
                   "validation report (interval)", "intervals overlap"], rows)


def _recall_figure(per_date: pd.DataFrame, promise: Promise | None) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    x = pd.to_datetime(per_date["as_of"])
    for metric, color in (("recall", "#1f77b4"), ("tnr", "#2ca02c"), ("precision", "#ff7f0e")):
        ax.plot(x, per_date[metric], marker="o", color=color, label=METRIC_LABELS[metric])
        ax.fill_between(x, per_date[f"{metric}_low"], per_date[f"{metric}_high"], color=color,
                        alpha=0.12)
    if promise is not None and np.isfinite(promise.figure("recall")[0]):
        value, low, high = promise.figure("recall")
        ax.axhline(value, color="#1f77b4", ls="--", lw=1, label="validation recall")
        if np.isfinite(low):
            ax.axhspan(low, high, color="#1f77b4", alpha=0.06)
    ax.axhline(TARGETS["recall"], color="#888", ls=":", lw=1, label="target recall 75 %")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share")
    ax.legend(fontsize=7, loc="lower left")
    fig.autofmt_xdate()
    return png_img(figure_png(fig), "Recall, TNR and precision per scoring date")


def _calibration_figure(calibration: pd.DataFrame) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    top = float(max(calibration["predicted"].max(), calibration["high"].max(), 0.05))
    ax.plot([0, top], [0, top], color="#888", ls=":", lw=1, label="perfect calibration")
    ax.errorbar(calibration["predicted"], calibration["observed"],
                yerr=[calibration["observed"] - calibration["low"],
                      calibration["high"] - calibration["observed"]],
                fmt="o", color="#1f77b4", label="observed (95 %)")
    ax.set_xlabel("predicted churn probability (decile mean)")
    ax.set_ylabel("observed churn rate")
    ax.legend(fontsize=7)
    return png_img(figure_png(fig), "Calibration: predicted vs observed churn per decile")


def _account_label(row: object) -> str:
    """``Name (id) · owner`` with what the score file knew, else the id."""
    name, owner = getattr(row, "name", "") or "", getattr(row, "owner", "") or ""
    label = f"{name} ({row.account_id})" if name else str(row.account_id)
    return label + (f" · {owner}" if owner else "")


ACCOUNT_HEADER = ("account", "scored", "segment", "ARR", "model health", "model band",
                  "as scored", "p", "drivers then")


def _account_rows(frame: pd.DataFrame, limit: int) -> list[list[object]]:
    return [[_account_label(r), r.as_of, r.segment,
             f"{r.arr:,.0f}" if np.isfinite(r.arr) else "–", f"{r.model_health:.1f}",
             r.model_band, r.as_scored or "same", f"{r.churn_probability:.1%}",
             r.drivers or "–"]
            for r in frame.head(limit).itertuples()]


def render_monitor(live: LiveAccuracy, model: Mapping[str, str], horizon_days: int,
                   limit: int = 50) -> str:
    """The monitor page: checks, figures beside targets and promises, per date, bands,
    calibration, misses and false alarms with their drivers at scoring time."""
    dates = sorted(set(live.rows["as_of"]))
    marks = "".join(f'<li><span class="{c.status}">{c.status}</span> {html.escape(c.name)}: '
                    f"{html.escape(c.detail)}</li>" for c in live.checks)
    waiting = (f"; {len(live.waiting)} later scoring date(s) wait for their outcome "
               f"({live.waiting[0]} .. {live.waiting[-1]})" if live.waiting else "")
    per_date = [[r.as_of, r.model_version, f"{r.accounts:,}", f"{r.churners:,}",
                 f"{r.flagged:,}", f"{_pct(r.recall)} ({_interval(r.recall_low, r.recall_high)})",
                 _pct(r.tnr), _pct(r.precision), _pct(r.accuracy), _pct(r.f1),
                 f"{r.observed_over_expected:.2f}" if np.isfinite(r.observed_over_expected)
                 else "–"] for r in live.per_date.itertuples()]
    bands = [[r.band, r.health_range, f"{r.rows:,}", f"{r.churners:,}", _pct(r.churn_rate),
              _interval(r.low, r.high),
              _pct(getattr(r, "promised", np.nan)),
              _interval(getattr(r, "promised_low", np.nan), getattr(r, "promised_high", np.nan)),
              getattr(r, "reproduced", "n/a")] for r in live.bands.itertuples()]
    promise = (f"the validation report of run {html.escape(live.promise.run_id)} (version "
               f"{html.escape(live.promise.version)})" if live.promise is not None
               else "no validation run found: promised figures are left out")
    model_text = html.escape(f"{model.get('name') or ''} v{model.get('version') or '?'}")
    body = f"""
<h1>Is the score still right?</h1>
<p class="sub">Live accuracy as of {live.as_of}: {len(dates)} matured scoring date(s)
{dates[0]} .. {dates[-1]}, {len(live.rows):,} scored rows ({live.rows['account_id'].nunique():,}
accounts); model {model_text}; churn within {horizon_days} days of each scoring date, by the
same label definition training uses{waiting}. Compared with {promise}.</p>
<h2>Checks (monitoring)</h2><ul>{marks}</ul>
<p class="muted">At risk means health below {live.threshold:g} (the model's health, before
hard stops and overrides, as in the validation report). Intervals: 95 %, each account
counted once (Wilson; a bootstrap over accounts for F1 and observed / expected).
</p>
<h2>All matured dates together</h2>{_figure_table(live.cumulative)}
<h2>The newest {len(live.window)} matured date(s), which the checks use</h2>
{_figure_table(live.recent)}
<h2>Per scoring date</h2>
{_recall_figure(live.per_date, live.promise)}
{_table(["scoring date", "model version", "accounts", "churned", "flagged at risk",
         "recall (95 %)", "TNR", "precision", "accuracy", "F1", "observed / expected"],
        per_date)}
<h2>Churn rate per band</h2>
<p>Bands of the validation report on the model's health; a band whose live interval overlaps
the promised one is reproduced.</p>
{_table(["band", "health", "rows", "churned", "churn rate", "95 %", "validation report", "95 %",
         "intervals overlap"], bands)}
<h2>Calibration</h2><div class="grid"><figure>{_calibration_figure(live.calibration)}</figure>
<div>{_table(["decile", "rows", "predicted", "observed", "95 %"],
             [[r.bin, f"{r.rows:,}", _pct(r.predicted), _pct(r.observed),
               _interval(r.low, r.high)] for r in live.calibration.itertuples()])}</div></div>
<h2>Misses: healthy-looking accounts that churned ({len(live.misses):,})</h2>
<p>The most dangerous errors: nobody was told. Highest health first, with the drivers that
took health points from them when they were scored.</p>
{_table(ACCOUNT_HEADER, _account_rows(live.misses, limit), text_columns=(0, 6, 8))}
<h2>False alarms: flagged at risk, stayed ({len(live.false_alarms):,})</h2>
{_table(ACCOUNT_HEADER, _account_rows(live.false_alarms, limit), text_columns=(0, 6, 8))}
"""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>healthscore monitor "
            f"{live.as_of}</title><meta name=viewport content='width=device-width'>"
            f"<style>{page_style(_STYLE)}</style></head><body>{body}</body></html>")
