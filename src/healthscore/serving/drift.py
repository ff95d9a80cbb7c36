"""Drift: population stability (PSI) of a model's inputs and health score, training rows vs the
rows being scored.

The reference distribution travels with the model (:mod:`healthscore.model.reference`: how
each column is binned, built at training time and stored in ``HealthModel.reference``), so a
drift check needs only the registered model, never the training data.

PSI = Σᵢ (aᵢ − eᵢ) · ln(aᵢ / eᵢ), with eᵢ the reference (training) share of bin i and aᵢ the
current share. Each term is ≥ 0. An empty bin would make the logarithm infinite, so both shares
are first raised to at least ``EPSILON`` = 1e-4: a bin empty on both sides adds 0, and a bin
empty in training that holds 5 % of the current rows adds (0.05 − 0.0001) · ln(500) ≈ 0.31.
Usual reading (the defaults of ``scoring.drift``): below 0.1 stable, from 0.1 watch, from 0.25
act. With n current rows, sampling noise alone gives a PSI of about (bins − 1) / n.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from healthscore.errors import ModelError, ParameterError
from healthscore.model.reference import (  # noqa: F401 - the two classes: see below
    CATEGORICAL,
    HEALTH,
    NUMERIC,
    DriftReference,
    FeatureReference,
    check_inputs,
)
from healthscore.report import (
    DASHBOARD_STYLE,
    Column,
    chip,
    columns_table,
    figure_png,
    page_style,
    png_img,
    pyplot,
)

if TYPE_CHECKING:
    from healthscore.model.artifact import HealthModel
    from healthscore.serving.settings import DriftConfig

log = logging.getLogger(__name__)
# DriftReference and FeatureReference stay importable from this module: models registered
# before healthscore.model existed were pickled with this module path.

SCORE_DIMENSION = "score"
EPSILON = 1e-4
STABLE, WATCH, ACT = "stable", "watch", "act"
STATUS_COLORS = {STABLE: "#67a9cf", WATCH: "#f0b400", ACT: "#b2182b"}
REPORT_COLUMNS = ("feature", "dimension", "kind", "psi", "status", "top_bin",
                  "top_bin_reference", "top_bin_current", "reference_missing",
                  "current_missing", "current_rows")


def reference_of(model: HealthModel) -> DriftReference:
    """The model's drift reference; :class:`ModelError` when it has none (trained before
    references were stored with the model)."""
    reference = getattr(model, "reference", None)
    if reference is None:
        raise ModelError("the model carries no drift reference (it was trained before drift "
                         "references were stored with the model); retrain it to check drift")
    return reference


def psi_terms(reference: np.ndarray, current: np.ndarray, epsilon: float = EPSILON,
              ) -> np.ndarray:
    """Per bin, (a − e) · ln(a / e) with both shares raised to at least ``epsilon``."""
    e = np.asarray(reference, dtype=float)
    a = np.asarray(current, dtype=float)
    if e.shape != a.shape:
        raise ParameterError("current", f"one share per reference bin ({e.size})",
                             f"{a.size} shares")
    e, a = np.maximum(e, epsilon), np.maximum(a, epsilon)
    return (a - e) * np.log(a / e)


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = EPSILON) -> float:
    """Population stability index Σ (a − e) · ln(a / e) of two share vectors over the same
    bins (see the module docstring for the epsilon)."""
    return float(psi_terms(reference, current, epsilon).sum())


def drift_bins(model: HealthModel, frame: pd.DataFrame, health: np.ndarray | None = None,
               ) -> pd.DataFrame:
    """Reference and current share of every bin of every model input and of health.

    Parameters
    ----------
    frame : the rows being scored (the model's input columns; others are ignored).
    health : their health, when already computed; else the model scores ``frame``.

    Returns
    -------
    One row per (feature, bin), model inputs in model order then ``health``: column (that
    position), feature, bin (its label), reference and current share, psi (the bin's term of
    the PSI sum).
    """
    reference = reference_of(model)
    if len(frame) == 0:
        raise ParameterError("frame", "at least one row to compare with the training rows",
                             "0 rows")
    check_inputs(model, frame)
    scores = model.health(frame) if health is None else np.asarray(health, dtype=float)
    if len(scores) != len(frame):
        raise ParameterError("health", f"one value per frame row ({len(frame)})",
                             f"{len(scores)} values")
    parts = []
    for position, ref in enumerate(reference.columns):
        values = pd.Series(scores) if ref is reference.health else frame[ref.name]
        expected, actual = np.asarray(ref.shares), ref.shares_of(values)
        parts.append(pd.DataFrame({"column": position, "feature": ref.name, "bin": ref.labels,
                                   "reference": expected, "current": actual,
                                   "psi": psi_terms(expected, actual)}))
    return pd.concat(parts, ignore_index=True)


def drift_table(bins: pd.DataFrame, model: HealthModel, config: DriftConfig,
                current_rows: int) -> pd.DataFrame:
    """One row per feature (and health) from :func:`drift_bins`: PSI, status, the bin that
    moved most and the missing shares; most drifted first."""
    grouped = bins.groupby("column", sort=True)  # model inputs in order, then health
    top = bins.loc[grouped["psi"].idxmax()]
    last = grouped[["reference", "current"]].last()  # the missing bin
    values = grouped["psi"].sum().to_numpy(float)
    metas = list(model.features)
    out = pd.DataFrame({
        "feature": top["feature"].to_numpy(),
        "dimension": [m.dimension for m in metas] + [SCORE_DIMENSION],
        "kind": [CATEGORICAL if m.categorical else NUMERIC for m in metas] + [NUMERIC],
        "psi": values,
        "status": status_of(values, config),
        "top_bin": top["bin"].to_numpy(),
        "top_bin_reference": top["reference"].to_numpy(float),
        "top_bin_current": top["current"].to_numpy(float),
        "reference_missing": last["reference"].to_numpy(float),
        "current_missing": last["current"].to_numpy(float),
        "current_rows": current_rows,
    })
    return out.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def status_of(values: np.ndarray, config: DriftConfig) -> np.ndarray:
    """``act`` from ``config.act``, ``watch`` from ``config.watch``, else ``stable``."""
    values = np.asarray(values, dtype=float)
    return np.select([values >= config.act, values >= config.watch], [ACT, WATCH], STABLE)


def drift_report(model: HealthModel, frame: pd.DataFrame, config: DriftConfig,
                 health: np.ndarray | None = None) -> pd.DataFrame:
    """PSI of every model input and of health between the model's training rows and ``frame``
    (one row per feature, ``health`` included, most drifted first; columns REPORT_COLUMNS).

    Cheap: a few vectorised passes over ``frame``; pass ``health`` when it is already known to
    skip scoring. Raises :class:`ModelError` when the model carries no reference.
    """
    return drift_table(drift_bins(model, frame, health), model, config, len(frame))


def acting_features(report: pd.DataFrame) -> list[str]:
    """Names in a drift report at the ``act`` status (``health`` included when it is)."""
    return report.loc[report["status"] == ACT, "feature"].tolist()


def check_drift(model: HealthModel, frame: pd.DataFrame, config: DriftConfig,
                health: np.ndarray | None = None) -> pd.DataFrame | None:
    """The drift report of the rows being scored, logging a warning when any feature (or
    health) reaches the act threshold; ``None`` (logged) for a model without a reference."""
    if model.reference is None:
        log.info("the model carries no drift reference (trained before drift existed): "
                 "no drift check")
        return None
    report = drift_report(model, frame, config, health)
    acting = report[report["status"] == ACT]
    if len(acting):
        listed = ", ".join(f"{r.feature} {r.psi:.2f}" for r in acting.head(10).itertuples())
        log.warning("drift: %d of %d columns have PSI >= %g against the model's training rows "
                    "(%s%s); the model may no longer fit the data: see `healthscore drift`",
                    len(acting), len(report), config.act, listed,
                    ", ..." if len(acting) > 10 else "")
    return report


# ---------------------------------------------------------------------------------------------
# plots and page


def psi_figure(report: pd.DataFrame, config: DriftConfig):
    """Horizontal PSI bars of the ``config.top`` most drifted features, coloured by status,
    with the watch and act thresholds drawn."""
    plt = pyplot()
    top = report.head(config.top)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.28 * len(top)))
    y = np.arange(len(top))
    ax.barh(y, top["psi"], color=[STATUS_COLORS[s] for s in top["status"]],
            edgecolor="#666", linewidth=0.5)
    for threshold, name in ((config.watch, WATCH), (config.act, ACT)):
        ax.axvline(threshold, color="#333", linestyle="--", linewidth=0.9)
        ax.annotate(f"{name} {threshold:g}", (threshold, 1), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=8)
    ax.set_yticks(y, labels=list(top["feature"]), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(top["psi"].to_numpy(float).max(initial=0)), config.act) * 1.1)
    ax.set_xlabel("PSI (training rows vs scored rows)")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def histograms_figure(bins: pd.DataFrame, features: list[str]):
    """Reference-vs-current shares per bin for each of ``features`` (two per row)."""
    from matplotlib.ticker import PercentFormatter

    plt = pyplot()
    parts = sorted((part for _, part in bins.groupby("column") if part["feature"].iloc[0]
                    in features), key=lambda part: features.index(part["feature"].iloc[0]))
    rows = max(math.ceil(len(parts) / 2), 1)
    fig, axes = plt.subplots(rows, 2, figsize=(9, 2.9 * rows), squeeze=False)
    for ax, part in zip(axes.flat, parts, strict=False):
        name = part["feature"].iloc[0]
        x = np.arange(len(part))
        ax.bar(x - 0.2, part["reference"], 0.4, color="#bdbdbd", label="training rows")
        ax.bar(x + 0.2, part["current"], 0.4, color="#2166ac", label="scored rows")
        ax.set_xticks(x, labels=list(part["bin"]), rotation=40, ha="right", fontsize=7)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title(f"{name} (PSI {part['psi'].sum():.2f})", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes.flat[len(parts):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def render_drift(report: pd.DataFrame, bins: pd.DataFrame, as_of: dt.date,
                 meta: dict[str, str], config: DriftConfig, reference_rows: int) -> str:
    """The drift page of one date: one self-contained HTML string (plots embedded as base64
    PNG, no scripts, all text escaped). ``meta`` as from ``tracking.describe_model``."""
    esc = html.escape
    counts = report["status"].value_counts()
    health = report[report["feature"] == HEALTH].iloc[0]
    model = " ".join(p for p in (meta.get("name") or meta.get("uri", "model"),
                                 f"v{meta['version']}" if meta.get("version") else "") if p)
    sub = " · ".join(esc(p) for p in (
        f"as of {as_of.isoformat()}", f"model {model}",
        f"run {meta['run_id']}" if meta.get("run_id") else "",
        f"{reference_rows:,} training rows vs {int(report['current_rows'].iloc[0]):,} scored "
        "rows") if p)
    plots = [("PSI of the most drifted features (dashed: thresholds)", "PSI bars",
              psi_figure(report, config))]
    shown = report["feature"].head(config.histograms).tolist()
    if shown:
        plots.append(("Share of rows per bin, training vs scored, for the most drifted",
                      "histograms", histograms_figure(bins, shown)))
    figures = "".join(f"<figure><figcaption>{esc(caption)}</figcaption>"
                      f"{png_img(figure_png(fig), alt)}</figure>" for caption, alt, fig in plots)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Drift {esc(as_of.isoformat())}: {esc(model)}</title>
<style>{page_style(DASHBOARD_STYLE)}</style></head><body>
<h1>Drift on {esc(as_of.isoformat())}</h1>
<p class="sub">{sub}</p>
<p><b>{int(counts.get(ACT, 0))}</b> column(s) at <b>act</b> (PSI ≥ {config.act:g}),
<b>{int(counts.get(WATCH, 0))}</b> at watch (≥ {config.watch:g}), {int(counts.get(STABLE, 0))}
stable. Health score: PSI {health['psi']:.3f} ({esc(str(health['status']))}).</p>
{figures}
<h2>Every model input</h2>
{_report_table(report)}
<h2>How to read this page</h2>
<div class="note"><ul>
<li><b>PSI</b> (population stability index) = Σ (a − e) · ln(a / e) over bins, where e is the
share of the model's training rows in a bin and a the share of the rows scored on this date.
0 means the same distribution; below {config.watch:g} is usual sampling noise, from
{config.watch:g} worth watching, from {config.act:g} the model may no longer fit: check the data
feed, then consider retraining.</li>
<li><b>Bins</b>: deciles of the training values (one bin per value for features with few
values), one per level for categories plus "(unseen)", and always "(missing)". Empty bins count
as a share of {EPSILON:g}.</li>
<li><b>Largest move</b>: the bin whose share changed PSI most, training → scored.</li>
</ul></div>
</body></html>"""


def _report_table(report: pd.DataFrame) -> str:
    return columns_table(report, (
        Column("Feature", "", lambda r: html.escape(str(r["feature"]))),
        Column("Dimension", "", lambda r: html.escape(str(r["dimension"]))),
        Column("PSI", "num", lambda r: f"{r['psi']:.3f}"),
        Column("Status", "", lambda r: _status_chip(r["status"])),
        Column("Largest move", "", lambda r: f"{html.escape(str(r['top_bin']))}: "
               f"{r['top_bin_reference']:.1%} → {r['top_bin_current']:.1%}"),
        Column("Missing", "num", lambda r: f"{r['reference_missing']:.1%} → "
               f"{r['current_missing']:.1%}"),
    ))


def _status_chip(status: str) -> str:
    return chip(status, STATUS_COLORS[status], "#222" if status == WATCH else "#fff")
