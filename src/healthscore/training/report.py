"""The validation report of a model run: one self-contained HTML page (plots embedded) a
customer-success leader can read, rendered from what the run stored in MLflow."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from healthscore.report import format_value, frame_table, page_style, png_img, table
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


def _img(path: Path) -> str:
    return png_img(path.read_bytes(), path.stem)


# shares and rates shown as percentages in the band and segment tables
PERCENT_COLUMNS = ("churn_rate", "share_of_accounts", "recall", "precision")
READABLE_PERCENTS = tuple(c.replace("_", " ") for c in PERCENT_COLUMNS)  # after _readable


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names and text values with spaces for underscores (``higher is healthier``)."""
    out = frame.rename(columns=lambda c: str(c).replace("_", " "))
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column]) and column != "feature":
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
        rows.append([label, f"{format_value(template, mine)}{interval}",
                     format_value(template, base), verdict, html.escape(meaning)])
    base_name = "scorecard baseline" if baseline else "baseline (not in this session)"
    return table(["Metric (test period)", "This model (95 % CI)", base_name, "",
                  "What it means"], rows)


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
    return frame_table(drivers[["feature", "dimension", "mean_abs_contribution",
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
    directions = pd.read_csv(path)
    directions = directions.reindex(
        directions["strength"].abs().sort_values(ascending=False).index)
    return ("<h2>Feature directions</h2><p>Which way is healthy, per feature: declared in the "
            "registry or in features.directions, otherwise learned on the training rows. "
            "Strength is Somers' D with staying (+1: higher always healthier, 0: no "
            "association); monotone is the constraint LightGBM got (only for declared "
            "directions the data does not contradict).</p>"
            + frame_table(_readable(directions), wrap=True))


def search_section(run: RunRecord) -> str:
    """The LightGBM search's trials, if one ran."""
    path = run.artifact_dir / "tables" / "lightgbm_search.csv"
    if not path.exists():
        return ""
    return ("<h2>LightGBM settings search</h2><p>Each trial fitted on a sample of the "
            "training rows with early stopping, judged by validation log loss; settings over "
            "the TreeSHAP cost cap are not chosen.</p>"
            + frame_table(_readable(pd.read_csv(path)), floats="{:.4f}", wrap=True))


def _compact_money(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:,.0f}"


def _accounts(n: float) -> str:
    return f"{n:,.0f} account" + ("" if round(n) == 1 else "s")


def _share(value: float) -> str:
    return f"{value:.1%}" if 0 < value < 0.1 else f"{value:.0%}"


# recall the "what to do" section shows a threshold for when the configured one catches less
RECALL_TO_AIM_FOR = 0.5


def action_section(run: RunRecord, playbooks: dict[str, str] | None = None,
                   threshold: float = 50.0) -> str:
    """"What to do this week" for a customer-success leader: how many accounts the at-risk
    threshold flags per scoring run on the test period (and their ARR), the precision and
    recall to expect there (and, when it catches less than half the churners, the threshold
    that would catch half), and which risk dimensions (and so playbooks) dominate among the
    flagged accounts. ``threshold`` stands in when the run did not log its own."""
    from healthscore.model.artifact import health_from_probability
    from healthscore.training.thresholds import DEFAULT_THRESHOLDS, threshold_table

    path = run.artifact_dir / "tables" / "test_predictions.parquet"
    if not path.exists():
        return ""
    p = run.params
    threshold = float(p.get("at_risk_threshold", threshold))
    horizon = p.get("horizon_days", "")
    within = f"within {horizon} days" if horizon else "within the horizon"
    rows = pd.read_parquet(path)
    y, prob = rows["y"].to_numpy(), rows["p"].to_numpy(float)
    runs = rows["snapshot_date"] if "snapshot_date" in rows else None
    by_threshold = threshold_table(y, prob, sorted({*DEFAULT_THRESHOLDS, threshold}), runs)
    at = by_threshold[by_threshold["health_threshold"] == threshold].iloc[0]
    flagged = health_from_probability(prob) < threshold
    arr = float(rows.loc[flagged, "arr"].fillna(0).sum()) if "arr" in rows else None
    n_runs = rows["snapshot_date"].nunique() if runs is not None else 1
    items = [
        f"<b>Work the accounts with health below {threshold:g} first.</b> On the test period "
        + (f"that list held about {_accounts(at['flagged_per_run'])} per scoring run (one "
           f"per snapshot date, at most {int(at['max_flagged_per_run']):,})" if n_runs > 1 else
           f"that list held {_accounts(at['flagged'])}")
        + f", {_share(at['flagged_share'])} of the active accounts"
        + (f", {_compact_money(arr / n_runs)} ARR per run" if arr is not None else "") + "."]
    m = run.metrics
    precision = m.get("test_precision", at["precision"])
    recall = m.get("test_recall", at["recall"])
    if at["flagged"] == 0:
        items.append("No account of the test period was that unhealthy, so the list would "
                     "have been empty.")
    elif precision == precision:  # not NaN
        low, high = m.get("test_precision_ci_low"), m.get("test_precision_ci_high")
        interval = (f" (95 % CI {low:.0%}–{high:.0%})" if low is not None and high is not None
                    and low == low and high == high else "")
        odds = ("almost every flagged account is a save to win" if precision >= 0.9 else
                f"roughly 1 in {max(round(1 / precision), 1)} flagged accounts is a save to "
                "win; the others are false alarms worth a short check, not a rescue plan"
                if precision > 0 else "none of them churned: the list was all false alarms")
        items.append(f"<b>Expect about {precision:.0%}{interval} of them to churn {within}"
                     f"</b> if nothing changes: {odds}.")
    if recall == recall:
        text = (f"<b>The list catches {recall:.0%} of the accounts that go on to churn.</b> "
                f"The other {1 - recall:.0%} churn from above the threshold (the misses): "
                "watch the health drops and alerts on the portfolio page too, and see "
                "<code>healthscore monitor</code> for the misses once outcomes are known.")
        wider = by_threshold[(by_threshold["recall"] >= RECALL_TO_AIM_FOR)
                             & (by_threshold["health_threshold"] > threshold)]
        if recall < RECALL_TO_AIM_FOR and not wider.empty:
            w = wider.iloc[0]
            text += (f" To catch {w['recall']:.0%} of the churners, flag health below "
                     f"{w['health_threshold']:g}: about {_accounts(w['flagged_per_run'])} per "
                     f"run, {w['precision']:.0%} of them churned (training.at_risk_threshold; "
                     "or choose it by the team's capacity, docs/validating.md).")
        items.append(text)
    dims_path = run.artifact_dir / "tables" / "at_risk_dimensions.csv"
    if dims_path.exists():
        dims = pd.read_csv(dims_path)
        dims = dims[dims["dimension"] != "(none)"].head(3)
        plays = playbooks or {}
        if not dims.empty:
            listed = "".join(
                f"<li>{html.escape(str(d.dimension))}: {d.share:.0%} of the flagged accounts"
                + (f" → {html.escape(plays[d.dimension])}" if plays.get(d.dimension) else "")
                + "</li>" for d in dims.itertuples())
            items.append("<b>What puts them at risk</b> (each flagged account's largest "
                         "push towards churn; a sample of the test rows), and the playbook "
                         f"for it:<ul>{listed}</ul>")
    body = "".join(f"<li>{item}</li>" for item in items)
    return ("<h2>What to do this week</h2><p>For a customer-success leader: what this score "
            f"asks of the team, from the test period.</p><ol>{body}</ol>")


def segment_bands_note(tables: Path) -> str:
    """The per-segment band edges (``training.band_segments``), when the run has them."""
    path = tables / "segment_bands.csv"
    if not path.exists():
        return ""
    edges = pd.read_csv(path)
    return ("<p>Bands per segment (<code>training.band_segments</code>): each segment's "
            "accounts are banded by edges set from its own training population; a band begins "
            "at the health shown.</p>" + frame_table(edges, floats="{:.1f}"))


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
            + frame_table(shown, wrap=True)
            + "<p>Churn per health band (health on the model's health horizon, as scored "
            "that day) at every horizon, with 95 % intervals. Each band's interval above the "
            f"next healthier band's: {html.escape(order_text)}.</p>"
            + frame_table(pivot.reset_index(), wrap=True)
            + f"<p>{html.escape(hz.top_band_sentence(bands))}</p>")


def expansion_section(run: RunRecord) -> str:
    """The expansion readiness model this churn model carries (``training.expansion``): its
    test ROC-AUC and PR-AUC with 95 % bootstrap intervals against the test base rate; empty
    for a run without one."""
    metrics = run.metrics
    prefix = "expansion_test"
    if f"{prefix}_roc_auc" not in metrics:
        return ""
    rows = []
    for key, label, template, meaning in HEADLINE[:2]:
        value = metrics.get(f"{prefix}_{key}")
        low, high = metrics.get(f"{prefix}_{key}_ci_low"), metrics.get(f"{prefix}_{key}_ci_high")
        interval = (f" ({format_value(template, low)}–{format_value(template, high)})"
                    if low is not None and high is not None else "")
        rows.append([label, f"{format_value(template, value)}{interval}", html.escape(meaning)])
    low = metrics.get(f"{prefix}_roc_auc_ci_low")
    verdict = ("above a coin flip beyond its interval" if low is not None and low > 0.5 else
               "not shown to beat a coin flip: its interval reaches 0.5")
    base = metrics.get(f"{prefix}_base_rate")
    base_text = f"{base:.1%}" if base is not None else "–"
    return ("<h2>Expansion readiness</h2><p>A second model, on the expansion label (ARR up "
            "by the configured share within the label horizon), scores every account's "
            "readiness to expand (expansion_score = 100 × its probability) with its own "
            "drivers; the expansion play goes only to healthy accounts that score high on it. "
            f"Test period, {html.escape(run.params.get('expansion_model', ''))}; accounts "
            f"that expanded: {base_text}. Ranking: {verdict}.</p>"
            + table(["Metric (test period)", "Expansion model (95 % CI)", "What it means"],
                    rows))


def render_report(run: RunRecord, baseline: RunRecord | None,
                  playbooks: dict[str, str] | None = None, threshold: float = 50.0) -> str:
    """The whole HTML page. ``playbooks`` (dimension -> playbook, the scoring config's) and
    ``threshold`` (the at-risk threshold, for runs that did not log theirs) feed the "What to
    do this week" section."""
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
{action_section(run, playbooks, threshold)}
<h2>Health bands</h2>
<p>Accounts scored on the test period, grouped by health band, with what actually happened.</p>
{frame_table(_readable(bands), percents=READABLE_PERCENTS) if not bands.empty
   else "<p>No band table stored.</p>"}
{segment_bands_note(tables)}
<div class="grid">{plots}</div>
<h2>Top global drivers</h2>{drivers_table(run)}
<h2>By segment</h2>{frame_table(_readable(segments[keep]), percents=READABLE_PERCENTS)
                      if keep else "<p>No segments.</p>"}
{horizons_section(run)}{expansion_section(run)}{directions_section(run)}{search_section(run)}
</body></html>"""
