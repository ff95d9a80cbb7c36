"""The validation report of a model run: one self-contained HTML page (plots embedded) a
customer-success leader can read, rendered from what the run stored in MLflow."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from healthscore.report import page_style, png_img, scrollable
from healthscore.tracking import RunRecord
from healthscore.training import horizons as hz

PLOTS = (
    ("band_churn.png", "Does the score separate churners? Observed churn rate per health band"),
    ("calibration.png", "Is the probability honest? Predicted vs observed churn"),
    ("roc.png", "Ranking quality (ROC)"),
    ("pr.png", "Precision vs recall"),
    ("score_distribution.png", "Health of accounts that churned vs stayed"),
    ("shap_summary.png", "What drives the score (SHAP)"),
)
HEADLINE = (
    ("roc_auc", "ROC-AUC", "{:.3f}", "ranking quality; 0.5 = coin flip"),
    ("pr_auc", "PR-AUC", "{:.3f}", "precision averaged over recall; base rate = no skill"),
    ("recall", "Churners caught", "{:.0%}", "share of churners flagged at risk"),
    ("precision", "Precision", "{:.0%}", "share of flagged accounts that churned"),
    ("recall_top_10pct", "Caught in top 10 %", "{:.0%}", "churners among the riskiest tenth"),
    ("lift_top_10pct", "Lift top 10 %", "{:.1f}x", "churn rate there vs overall"),
    ("ece", "Calibration error", "{:.3f}", "mean gap predicted vs observed (ECE)"),
    ("brier", "Brier score", "{:.4f}", "mean squared error of p"),
)
STYLE = page_style("""
th,td{text-align:right}th:first-child,td:first-child{text-align:left}
.better{color:#1a7f37;font-weight:600}.worse{color:#b42318;font-weight:600}
""")


def format_value(template: str, value: float | None) -> str:
    """``template`` applied to ``value``; an en dash for a missing value."""
    if value is None or pd.isna(value):
        return "–"
    return template.format(value)


def _img(path: Path) -> str:
    return png_img(path.read_bytes(), path.stem)


def html_table(frame: pd.DataFrame, floats: str = "{:.3f}", wrap: bool = False) -> str:
    """An HTML table of ``frame``: text escaped, floats formatted, NaN as an en dash.

    ``wrap`` lets long identifiers (feature names, setting names) break anywhere, so a table
    with many of them still fits the page."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            if pd.isna(value):
                return "–"
            if value.is_integer() or abs(value) >= 1000:
                return f"{value:,.0f}"
            return floats.format(value)
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    css = ' class="wrap"' if wrap else ""
    return scrollable(f"<table{css}><tr>{head}</tr>{rows}</table>")


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names and text values with spaces for underscores (``higher is healthier``)."""
    out = frame.rename(columns=lambda c: str(c).replace("_", " "))
    for column in out.columns:
        if out[column].dtype == object and column != "feature":
            out[column] = out[column].map(lambda v: v.replace("_", " ")
                                          if isinstance(v, str) else v)
    return out


def headline_table(run: RunRecord, baseline: RunRecord | None) -> str:
    """Headline metrics of the run next to the scorecard baseline."""
    rows = []
    for key, label, template, meaning in HEADLINE:
        mine = run.metrics.get(f"test_{key}")
        base = baseline.metrics.get(f"test_{key}") if baseline else None
        low, high = (run.metrics.get(f"test_{key}_ci_low"), run.metrics.get(f"test_{key}_ci_high"))
        interval = (f" ({format_value(template, low)}–{format_value(template, high)})"
                    if low is not None else "")
        verdict = ""
        if base is not None and mine is not None and round(mine, 6) != round(base, 6):
            lower_is_better = key in ("ece", "brier")
            better = mine < base if lower_is_better else mine > base
            verdict = f'<span class="{"better" if better else "worse"}">' \
                      f'{"better" if better else "worse"}</span>'
        rows.append(f"<tr><td>{label}</td><td>{format_value(template, mine)}{interval}</td>"
                    f"<td>{format_value(template, base)}</td><td>{verdict}</td>"
                    f"<td>{html.escape(meaning)}</td></tr>")
    base_name = "scorecard baseline" if baseline else "baseline (not in this session)"
    return scrollable("<table><tr><th>Metric (test period)</th><th>This model (95 % CI)</th>"
                      f"<th>{base_name}</th><th></th><th>What it means</th></tr>"
                      f"{''.join(rows)}</table>")


def drivers_table(run: RunRecord, top: int = 12) -> str:
    """Top global drivers with dimension and description."""
    path = run.artifact_dir / "tables" / "global_drivers.csv"
    if not path.exists():
        return "<p>No driver table stored.</p>"
    drivers = pd.read_csv(path).head(top)
    meta_path = run.artifact_dir / "features.json"
    meta = {m["name"]: m for m in json.loads(meta_path.read_text())} if meta_path.exists() else {}
    drivers["dimension"] = drivers["feature"].map(lambda f: meta.get(f, {}).get("dimension", ""))
    drivers["what it measures"] = drivers["feature"].map(
        lambda f: meta.get(f, {}).get("description", ""))
    return html_table(drivers[["feature", "dimension", "mean_abs_contribution",
                               "what it measures"]])


def fitting_notes(run: RunRecord) -> str:
    """Notes on how the registered model was fitted: refit, penalty at the grid's edge,
    contradicted directions, TreeSHAP cost."""
    p = run.params
    notes = []
    if p.get("refit") == "True":
        notes.append(f"The registered model was refit on all {p.get('refit_rows', '?')} "
                     f"labelled rows (through {p.get('refit_through', '?')}) with the settings "
                     "chosen on the validation period; its calibrator was fitted on "
                     "out-of-fold predictions. <b>Every metric on this page comes from the "
                     "evaluation fit</b>, which was trained on the training period only and "
                     "never saw the test rows.")
    if p.get("param_penalty_at_edge") == "True":
        notes.append(f"The logistic penalty C={html.escape(p.get('param_C', '?'))} is on the "
                     "edge of training.logistic.c_grid: a value beyond the grid may fit "
                     "better; widen the grid.")
    if int(float(p.get("directions_contradicted", 0) or 0)):
        notes.append(f"{p['directions_contradicted']} declared direction(s) are contradicted "
                     "by the training rows: they got no monotone constraint (see Feature "
                     "directions).")
    if "shap_ms_per_row" in run.metrics:
        notes.append(f"TreeSHAP drivers cost {run.metrics['shap_ms_per_row']:.3f} ms per row "
                     "(one thread, measured).")
    return "".join(f'<p class="note">{n}</p>' for n in notes)


def directions_section(run: RunRecord) -> str:
    """Each feature's direction: declared (registry or config) or learned, its strength
    (Somers' D with retention on the training rows) and whether it was constrained."""
    path = run.artifact_dir / "tables" / "directions.csv"
    if not path.exists():
        return ""
    table = pd.read_csv(path)
    table = table.reindex(table["strength"].abs().sort_values(ascending=False).index)
    return ("<h2>Feature directions</h2><p>Which way is healthy, per feature: declared in the "
            "registry or in features.directions, otherwise learned on the training rows. "
            "Strength is Somers' D with staying (+1: higher always healthier, 0: no "
            "association); monotone is the constraint LightGBM got (only for declared "
            "directions the data does not contradict).</p>"
            + html_table(_readable(table), wrap=True))


def search_section(run: RunRecord) -> str:
    """The LightGBM search's trials, if one ran."""
    path = run.artifact_dir / "tables" / "lightgbm_search.csv"
    if not path.exists():
        return ""
    return ("<h2>LightGBM settings search</h2><p>Each trial fitted on a sample of the "
            "training rows with early stopping, judged by validation log loss; settings over "
            "the TreeSHAP cost cap are not chosen.</p>"
            + html_table(_readable(pd.read_csv(path)), floats="{:.4f}", wrap=True))


def horizons_section(run: RunRecord) -> str:
    """The survival model at every horizon: time-dependent ROC-AUC, calibration, concordance,
    churn per band and horizon with intervals, and what the top band promises."""
    tables = run.artifact_dir / "tables"
    metrics_path = tables / f"{hz.HORIZON_METRICS}.csv"
    bands_path = tables / f"{hz.BAND_CHURN}.csv"
    if not metrics_path.exists() or not bands_path.exists():
        return ""
    per_horizon = pd.read_csv(metrics_path)
    bands = pd.read_csv(bands_path)
    seen = per_horizon.loc[per_horizon["observed_rows"] > 0, "horizon_days"].tolist()
    unseen = [h for h in per_horizon["horizon_days"] if h not in seen]
    bands = bands[bands["horizon_days"].isin(seen)]
    if bands.empty:
        return ""
    cells = bands.assign(cell=[
        f"{r.churn_rate:.1%} [{r.ci_low:.1%}–{r.ci_high:.1%}] of {r.accounts:,}"
        if r.accounts else "no accounts" for r in bands.itertuples()])
    pivot = cells.pivot(index=["band", "health_range"], columns="horizon_days", values="cell")
    pivot = pivot.reindex(pd.unique(bands[["band", "health_range"]].apply(tuple, axis=1)))
    pivot.columns = [f"churned within {h} days" for h in pivot.columns]
    pivot.index.names = ["band", "health"]
    ordered = hz.strictly_ordered(bands)
    order_text = "; ".join(f"{h} days: {'yes' if ok else 'no'}" for h, ok in ordered.items())
    shown = per_horizon[per_horizon["horizon_days"].isin(seen)].rename(columns={
        "horizon_days": "horizon (days)", "observed_rows": "rows observed that long",
        "churn_rate": "churned", "td_roc_auc": "time-dependent ROC-AUC",
        "ece": "calibration error"})
    shown["churned"] = shown["churned"].map("{:.1%}".format)
    short = (f" The test period is too short to observe {', '.join(map(str, unseen))} days."
             if unseen else "")
    return ("<h2>Every horizon (survival model)</h2><p>One model gives the probability of "
            "churn within each horizon; each is judged on the test rows observed that long. "
            "Time-dependent ROC-AUC: churned within the horizon against still a customer at "
            f"its end. Concordance index over the whole follow-up: "
            f"{html.escape(str(run.params.get('test_concordance', '–')))}.{short}</p>"
            + html_table(shown, wrap=True)
            + "<p>Churn per health band (health on the model's health horizon, as scored "
            "that day) at every horizon, with 95 % intervals. Each band's interval above the "
            f"next healthier band's: {html.escape(order_text)}.</p>"
            + html_table(pivot.reset_index(), wrap=True)
            + f"<p>{html.escape(hz.top_band_sentence(bands))}</p>")


def render_report(run: RunRecord, baseline: RunRecord | None) -> str:
    """The whole HTML page."""
    p = run.params
    model = p.get("model", run.name)
    split = " · ".join(f"{k.removeprefix('split_')} {v}" for k, v in p.items()
                       if k.startswith("split_"))
    sizes = " · ".join(f"{k.removeprefix('rows_')} {int(float(v)):,} rows" for k, v in
                       p.items() if k.startswith("rows_"))
    notes = ""
    if run.tags.get("healthscore.split") == "random":
        notes = ('<p class="note">No snapshot dates were given: rows were split at random '
                 "(60/20/20, stratified). Expect these figures to be optimistic compared with "
                 "a split in time.</p>")
    elif run.tags.get("healthscore.split") == "account" or "overlap" in run.tags.get(
            "healthscore.split_notes", ""):
        notes = f'<p class="note">{html.escape(run.tags["healthscore.split_notes"])}</p>'
    tables = run.artifact_dir / "tables"
    bands = pd.read_csv(tables / "band_table.csv") if (tables / "band_table.csv").exists() \
        else pd.DataFrame()
    segments = pd.read_csv(tables / "segment_metrics.csv") \
        if (tables / "segment_metrics.csv").exists() else pd.DataFrame()
    keep = [c for c in ("segment", "n_rows", "n_churners", "churn_rate", "roc_auc", "pr_auc",
                        "recall", "precision", "ece") if c in segments.columns]
    folder = run.artifact_dir / "plots"
    plots = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>{_img(folder / name)}</figure>"
        for name, caption in PLOTS if (folder / name).exists()
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>healthscore validation: {html.escape(model)} ({run.run_id[:8]})</title>
<style>{STYLE}</style></head><body>
<h1>Health score validation: {html.escape(model)}</h1>
<p class="sub">run {run.run_id} · label {html.escape(p.get("label", ""))} ·
calibration {html.escape(p.get("calibration", ""))}<br>{html.escape(split)}<br>
{html.escape(sizes)}</p>{notes}{fitting_notes(run)}
<h2>Headline: would this score have caught last period's churn?</h2>
{headline_table(run, baseline)}
<h2>Health bands</h2>
<p>Accounts scored on the test period, grouped by health band, with what actually happened.</p>
{html_table(bands) if not bands.empty else "<p>No band table stored.</p>"}
<div class="grid">{plots}</div>
<h2>Top global drivers</h2>{drivers_table(run)}
<h2>By segment</h2>{html_table(segments[keep]) if keep else "<p>No segments.</p>"}
{horizons_section(run)}{directions_section(run)}{search_section(run)}
</body></html>"""
