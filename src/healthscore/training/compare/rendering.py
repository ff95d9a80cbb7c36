"""A comparison for people: formatted tables (the CLI prints them) and the self-contained HTML
page with overlaid curves, band churn side by side and the accounts the runs disagree on."""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

from healthscore.report import figure_png, format_value, frame_table, png_img
from healthscore.training import plots
from healthscore.training.compare.compatibility import describe_definition, label_definition
from healthscore.training.compare.differences import LABELS, SIDE_BY_SIDE, Comparison, side_by_side
from healthscore.training.report import STYLE


def formatted_side_by_side(comparison: Comparison) -> pd.DataFrame:
    """:func:`side_by_side` with every value formatted for display."""
    table = side_by_side(comparison)
    out = table[["metric"]].copy()
    for name in comparison.names:
        out[name] = [format_value(t, v) for t, v in zip(table["template"], table[name],
                                                        strict=True)]
    return out


def formatted_differences(comparison: Comparison) -> pd.DataFrame:
    """The paired differences formatted for display: run, metric, reference (the reference
    run's value), value, difference, 95 % interval and verdict (plain text)."""
    templates = {key: template for key, _, template, _ in SIDE_BY_SIDE}
    t = comparison.health_threshold
    rows = []
    for r in comparison.differences.itertuples():
        template = templates[r.metric]
        rows.append({
            "run": r.run, "metric": LABELS[r.metric].format(t=t),
            "reference": format_value(template, r.reference_value),
            "value": format_value(template, r.value),
            "difference": _signed(template, r.estimate),
            "95 % interval": f"[{_signed(template, r.low)}, {_signed(template, r.high)}]",
            "verdict": r.verdict,
        })
    return pd.DataFrame(rows)


def _signed(template: str, value: float) -> str:
    """A difference with its sign; shares as percentage points."""
    if template.endswith("%}"):
        return format_value("{:+.1f} pp", None if pd.isna(value) else 100 * value)
    return format_value(template.replace("{:", "{:+"), value)


def band_tables(comparison: Comparison) -> pd.DataFrame:
    """Band tables of every run side by side: accounts, churners and churn rate per run."""
    first = comparison.evaluations[comparison.reference].bands
    out = first[["band", "health_range"]].rename(columns={"health_range": "health"})
    for name, ev in comparison.evaluations.items():
        out[f"{name}: accounts"] = ev.bands["accounts"].to_numpy()
        out[f"{name}: churners"] = ev.bands["churners"].to_numpy()
        out[f"{name}: churn rate"] = [format_value("{:.1%}", v) for v in ev.bands["churn_rate"]]
    return out


def band_churn_cells(comparison: Comparison) -> pd.DataFrame:
    """The band tables compacted for a page: one column per run, each cell the band's churn
    rate with its churners and accounts ("84.2 % (16 of 19)"), so any number of runs fits."""
    first = comparison.evaluations[comparison.reference].bands
    out = first[["band", "health_range"]].rename(columns={"health_range": "health"})
    for name, ev in comparison.evaluations.items():
        out[name] = [f"{format_value('{:.1%}', rate)} ({int(churners):,} of {int(accounts):,})"
                     for rate, churners, accounts in zip(ev.bands["churn_rate"],
                                                         ev.bands["churners"],
                                                         ev.bands["accounts"], strict=True)]
    return out


def disagreement_cells(comparison: Comparison) -> pd.DataFrame:
    """The disagreements compacted for a page: one column per run holding its health and then
    its top drivers, separated by "; " (the page breaks lines there)."""
    frame = comparison.disagreements
    out = frame[[c for c in frame.columns if ": " not in c]].copy()
    for name in comparison.names:
        out[name] = [f"health {health:.1f}; {drivers}" for health, drivers in
                     zip(frame[f"{name}: health"], frame[f"{name}: drivers"], strict=True)]
    return out


def runs_table(comparison: Comparison) -> pd.DataFrame:
    """Who is compared: name, run id, model, session, periods and label definition."""
    return pd.DataFrame([{
        "run": c.name, "run id": c.run_id, "model": c.params.get("model", ""),
        "session": c.session, "train": c.params.get("split_train", "random"),
        "validation": c.params.get("split_validation", ""),
        "test": c.params.get("split_test", ""),
        "label": describe_definition(label_definition(c)),
    } for c in comparison.contenders])


def holdout_summary(comparison: Comparison) -> str:
    """One line: which rows everything was measured on."""
    h = comparison.holdout
    period = h.params.get("split_test", "random test rows")
    return (f"test period {period} of run {h.run_id[:12]} ({h.name}): {len(comparison.y):,} rows, "
            f"{int(comparison.y.sum()):,} churners ({comparison.y.mean():.1%})")



PLOT_CAPTIONS = (
    ("roc", "Ranking quality (ROC), same rows"),
    ("pr", "Precision vs recall, same rows"),
    ("calibration", "Is each probability honest? Predicted vs observed churn"),
    ("bands", "Observed churn rate per health band"),
)


def comparison_plots(comparison: Comparison) -> dict[str, bytes]:
    """Overlaid ROC, PR and calibration curves and band churn bars, as PNG bytes."""
    scores = {name: (comparison.y, p) for name, p in comparison.probabilities.items()}
    bands = {name: ev.bands for name, ev in comparison.evaluations.items()}
    return {
        "roc": figure_png(plots.roc_figure(scores)),
        "pr": figure_png(plots.pr_figure(scores)),
        "calibration": figure_png(plots.calibration_figure(scores)),
        "bands": figure_png(plots.band_churn_figure(bands)),
    }


def _verdict_html(frame: pd.DataFrame) -> str:
    return frame_table(frame, cell_class=lambda v: v if v in ("better", "worse") else "")


def render_comparison(comparison: Comparison, pngs: Mapping[str, bytes] | None = None) -> str:
    """The whole HTML page (plots embedded, no scripts)."""
    pngs = comparison_plots(comparison) if pngs is None else pngs
    figures = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>"
        f"{png_img(pngs[key], key)}</figure>" for key, caption in PLOT_CAPTIONS if key in pngs)
    disagree = comparison.disagreements.copy()
    if disagree.empty:
        disagree_html = "<p>The runs give every holdout row the same health.</p>"
    else:
        disagree_html = frame_table(disagreement_cells(comparison),
                                    floats="{:.1f}").replace("; ", "<br>")
    names = html.escape(" vs ".join(comparison.names))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>healthscore comparison: {names}</title><style>{STYLE}</style></head><body>
<h1>Model comparison: {names}</h1>
<p class="sub">Every run scored on the same rows: {html.escape(holdout_summary(comparison))}.
Reference: {html.escape(comparison.reference)}; intervals from {comparison.n_boot} paired
bootstrap resamples of those rows.</p>
<h2>Runs</h2>{frame_table(runs_table(comparison), wrap=True)}
<h2>Side by side</h2>{frame_table(formatted_side_by_side(comparison))}
<h2>Is the difference real? Each run minus the reference</h2>
<p>"better" or "worse" when the 95 % interval of the difference excludes 0; otherwise no
significant difference.</p>{_verdict_html(formatted_differences(comparison))}
<div class="grid">{figures}</div>
<h2>Health bands side by side</h2>
<p>Churn rate of each band on the same rows (churners of accounts).</p>
{frame_table(band_churn_cells(comparison))}
<h2>Where the runs disagree most</h2>
<p>Accounts whose health differs most between the runs (largest minus smallest, in health
points), with each run's top risk drivers (health points, reason).</p>{disagree_html}
</body></html>"""
