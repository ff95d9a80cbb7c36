"""Compare model runs on the same holdout rows: side-by-side metrics, paired bootstrap
differences with a verdict per metric, the accounts on which the runs disagree most (with each
run's drivers), and one self-contained HTML page.

The holdout is the test period of the newest run: the feature rows it logged
(``tables/test_features.parquet``) are scored by every run's model. Runs are refused when that
would not be a fair comparison: a model needs a feature those rows lack, the label definitions
or horizons differ, or a run was fitted on snapshots that reach into the holdout's label
windows. Nothing here talks to MLflow; pipeline/compose.py reads the runs and logs the result.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore import tracking
from healthscore.errors import ModelError
from healthscore.model.artifact import HealthModel, health_from_probability
from healthscore.model.bands import Band
from healthscore.model.explain import explain
from healthscore.report import figure_png, png_img
from healthscore.training import plots
from healthscore.training.metrics import (
    Evaluation,
    Metric,
    evaluate,
    metric_slug,
    paired_bootstrap_difference,
    pr_auc,
    recall_at_threshold,
    roc_auc,
    unique_slugs,
)
from healthscore.training.record import ROW_KEYS, TEST_FEATURES
from healthscore.training.report import STYLE, format_value, html_table

Progress = Callable[[str, int, int], None]

log = logging.getLogger(__name__)
KIND_COMPARISON = "comparison"
TAG_COMPARED = "healthscore.compared_runs"
TAG_REFERENCE = "healthscore.reference_run"
TAG_HOLDOUT = "healthscore.holdout_run"
TOP_DISAGREEMENTS = 10
DRIVERS_SHOWN = 3
# (metric key, label, format, lower is better); ``{t}`` is the at-risk health threshold
SIDE_BY_SIDE = (
    ("roc_auc", "ROC-AUC", "{:.3f}", False),
    ("pr_auc", "PR-AUC", "{:.3f}", False),
    ("brier", "Brier score", "{:.4f}", True),
    ("ece", "Calibration error (ECE)", "{:.4f}", True),
    ("precision", "Precision at health < {t:g}", "{:.1%}", False),
    ("recall", "Recall at health < {t:g}", "{:.1%}", False),
    ("lift_top_10pct", "Lift in the riskiest 10 %", "{:.2f}x", False),
)
LABELS = {key: label for key, label, _, _ in SIDE_BY_SIDE}


class IncompatibleRunsError(ModelError):
    """The runs cannot be evaluated fairly on the same holdout rows."""

    def __init__(self, holdout_run: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"these runs cannot be compared on the holdout rows of run {holdout_run} (its test "
            f"period; {len(self.problems)} problem(s)):\n{lines}\nCompare runs that share the "
            "label definition and whose features the holdout rows carry, or retrain the older "
            "run on the current data and features."
        )


@dataclass(frozen=True)
class Contender:
    """One run taking part in a comparison: its loaded model and what its run recorded."""

    name: str  # unique within the comparison, e.g. "lightgbm@champion" or "scorecard 1a2b3c4d"
    run_id: str
    model: HealthModel
    params: Mapping[str, str]
    tags: Mapping[str, str]
    settings: Mapping[str, Any]  # the run's config.json
    start_time: int = 0

    @property
    def session(self) -> str:
        """The training session the run belongs to."""
        return self.tags.get(tracking.TAG_SESSION, "")

    @property
    def random_split(self) -> bool:
        """True when the run's rows were split at random rather than by snapshot date."""
        return self.tags.get("healthscore.split") == "random"


def contender(name: str, record: tracking.RunRecord, model: HealthModel) -> Contender:
    """A :class:`Contender` from a run read back from MLflow and its loaded model."""
    config = record.artifact_dir / "config.json"
    settings = json.loads(config.read_text()) if config.exists() else {}
    return Contender(name, record.run_id, model, record.params, record.tags, settings,
                     record.start_time)


def require_model_runs(records: Sequence[tracking.RunRecord]) -> None:
    """Raise :class:`ModelError` naming every run that is not a model run (session, backtest)."""
    wrong = [f"{r.run_id} ({r.tags.get(tracking.TAG_KIND, 'untagged')} run {r.name!r})"
             for r in records if r.tags.get(tracking.TAG_KIND) != "model"]
    if wrong:
        raise ModelError(f"only model runs can be compared; not model runs: {', '.join(wrong)}. "
                         "Pass the run id of a model run (the nested run of one model in a "
                         "training session) or an alias such as @champion.")


def display_names(refs: Sequence[str], records: Sequence[tracking.RunRecord]) -> list[str]:
    """Short unique names: ``lightgbm@champion`` for an alias, else ``lightgbm 1a2b3c4d``."""
    names = []
    for ref, record in zip(refs, records, strict=True):
        model = record.params.get("model") or record.tags.get(tracking.TAG_MODEL) or "model"
        names.append(f"{model}{ref}" if ref.startswith("@") else f"{model} {record.run_id[:8]}")
    counts: dict[str, int] = {}
    out = []
    for name in names:
        counts[name] = counts.get(name, 0) + 1
        out.append(name if counts[name] == 1 else f"{name} #{counts[name]}")
    return out


def newest(contenders: Sequence[Contender]) -> Contender:
    """The run started last (ties: the later one in the list): its test period is the holdout."""
    return max(reversed(contenders), key=lambda c: c.start_time)


def read_holdout_rows(artifact_dir: Path, holdout: Contender) -> pd.DataFrame:
    """The test feature rows the holdout run logged; :class:`ModelError` when it has none."""
    path = artifact_dir / TEST_FEATURES
    if not path.exists():
        raise ModelError(
            f"run {holdout.run_id} ({holdout.name}) is the newest run, so its test period is the "
            f"holdout, but it has no {TEST_FEATURES} (runs logged before healthscore stored "
            "their test feature rows, or feature tables whose rows have no unique "
            "account_id/snapshot_date). Retrain it, or compare it with a newer run.")
    rows = pd.read_parquet(path)
    if "snapshot_date" in rows.columns:
        rows["snapshot_date"] = pd.to_datetime(rows["snapshot_date"]).dt.date
    return rows


def honest_contender(contender: Contender, rows: pd.DataFrame) -> Contender:
    """The contender scored by its held-out evaluation fit when its registered model was refit
    on rows that reach into ``rows`` (scoring rows a model was fitted on would flatter it)."""
    evaluation = getattr(contender.model, "evaluation", None)
    if evaluation is None:
        return contender
    through = contender.params.get("refit_through")
    if through and "snapshot_date" in rows and len(rows) and \
            str(min(rows["snapshot_date"])) > through:
        return contender  # refit only on rows before the holdout: the registered model is fair
    log.info("%s: scored by its evaluation fit (its registered model was refit on rows "
             "through %s, which overlap the holdout)", contender.name, through or "?")
    return replace(contender, model=evaluation)


# --------------------------------------------------------------------------------------------
# compatibility


def label_definition(c: Contender) -> dict[str, object]:
    """What the run's model predicts: label column, horizon and the label's own settings."""
    features = c.settings.get("features", {}) if isinstance(c.settings, Mapping) else {}
    out: dict[str, object] = {"label": c.model.label, "horizon_days": c.model.horizon_days}
    if c.model.label == "label_churn":
        churn = features.get("churn", {})
        definition = churn.get("definition", "contract")  # runs before it was optional: contract
        # None: the data decided (contract with a subscriptions table, else inactivity)
        out["churn"] = definition or "implied by the data"
        if definition in (None, "contract"):
            out["grace_days"] = churn.get("grace_days")
        if definition != "contract":
            out["activity_events"] = sorted(churn.get("inactivity_event_types") or []) or "all"
    elif c.model.label == "label_expansion":
        out["expansion_pct"] = features.get("expansion_pct")
    return out


def _describe(definition: Mapping[str, object]) -> str:
    return ", ".join(f"{k} {v}" for k, v in definition.items())


def fitted_through(params: Mapping[str, str]) -> dt.date | None:
    """Last snapshot a run's models were fitted or calibrated on (its validation period's end).

    Read from the ``split_validation`` param, ``"(start, end]"``; None for a random split.
    """
    found = re.search(r"(\d{4}-\d{2}-\d{2})\]\s*$", params.get("split_validation", ""))
    return dt.date.fromisoformat(found.group(1)) if found else None


def compatibility_problems(contenders: Sequence[Contender], holdout: Contender,
                           rows: pd.DataFrame) -> list[str]:
    """Every reason the contenders cannot be compared fairly on ``rows`` (empty: they can).

    - a model needs a feature the holdout rows lack;
    - the label column is missing from the rows, or a label definition or horizon differs;
    - a run from another session was fitted on snapshots after the holdout run's own fitting
      cut-off (its label windows reach into the holdout period), or either was split at random
      (its training rows may be the holdout rows).
    """
    problems: list[str] = []
    reference = label_definition(holdout)
    if holdout.model.label not in rows.columns:
        problems.append(f"the holdout rows of run {holdout.run_id} have no label column "
                        f"{holdout.model.label!r}")
    cut = fitted_through(holdout.params)
    for c in contenders:
        who = f"run {c.run_id} ({c.name})"
        missing = [f for f in c.model.feature_names if f not in rows.columns]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more"
                                              if len(missing) > 5 else "")
            problems.append(f"{who} needs {len(missing)} feature(s) the holdout rows lack: "
                            f"{shown}")
        definition = label_definition(c)
        if definition != reference:
            problems.append(f"{who} predicts {_describe(definition)}; the holdout run "
                            f"{holdout.run_id} ({holdout.name}) predicts {_describe(reference)}")
        if c.session == holdout.session:
            continue
        if c.random_split or holdout.random_split:
            problems.append(f"{who} and the holdout run {holdout.run_id} come from different "
                            "training sessions and one was split at random, so the holdout rows "
                            "may have been its training rows")
            continue
        theirs = fitted_through(c.params)
        if theirs is not None and cut is not None and theirs > cut:
            problems.append(
                f"{who} was fitted on snapshots up to {theirs}, after the holdout run's cut-off "
                f"{cut}: its labels reach into the holdout period "
                f"{holdout.params.get('split_test', '')}, so its scores there are not out of "
                "sample")
    return list(dict.fromkeys(problems))


def check_compatible(contenders: Sequence[Contender], holdout: Contender,
                     rows: pd.DataFrame) -> None:
    """Raise :class:`IncompatibleRunsError` listing every problem, if there is one."""
    problems = compatibility_problems(contenders, holdout, rows)
    if problems:
        raise IncompatibleRunsError(holdout.run_id, problems)


# --------------------------------------------------------------------------------------------
# evaluation


@dataclass
class Comparison:
    """Every contender scored on the same holdout rows; the first one is the reference."""

    contenders: list[Contender]
    holdout: Contender
    rows: pd.DataFrame  # the holdout feature rows
    y: np.ndarray
    probabilities: dict[str, np.ndarray]
    evaluations: dict[str, Evaluation]
    differences: pd.DataFrame  # run, metric, reference_value, value, estimate, low, high, verdict
    disagreements: pd.DataFrame
    health_threshold: float
    n_boot: int

    @property
    def names(self) -> list[str]:
        """Contender names in order; the first is the reference."""
        return [c.name for c in self.contenders]

    @property
    def reference(self) -> str:
        """Name of the run every other run is compared with."""
        return self.contenders[0].name

    def difference(self, name: str, metric: str) -> dict[str, Any]:
        """The difference row of run ``name`` vs the reference on ``metric``."""
        rows = self.differences[(self.differences["run"] == name)
                                & (self.differences["metric"] == metric)]
        if rows.empty:
            raise KeyError(f"no difference of {name!r} on {metric!r}")
        return rows.iloc[0].to_dict()


def difference_metrics(health_threshold: float) -> dict[str, Metric]:
    """The metrics that get paired-bootstrap intervals: ROC-AUC, PR-AUC, recall at threshold."""
    return {"roc_auc": roc_auc, "pr_auc": pr_auc,
            "recall": recall_at_threshold(health_threshold)}


def paired_differences(y: np.ndarray, probabilities: Mapping[str, np.ndarray], reference: str,
                       health_threshold: float, n_boot: int, seed: int,
                       progress: Progress | None = None) -> pd.DataFrame:
    """Each run minus the reference on the same bootstrap resamples, with a verdict per metric.

    One row per (run, metric) for every run but the reference: reference_value, value,
    estimate (value - reference_value), the percentile interval low/high and the verdict
    ("better" / "worse" / "no significant difference") of the run against the reference.
    """
    metrics = difference_metrics(health_threshold)
    others = [name for name in probabilities if name != reference]
    total, records = len(others) * len(metrics), []
    base = probabilities[reference]
    for name in others:
        for key, metric in metrics.items():
            result = paired_bootstrap_difference(y, base, probabilities[name], metric,
                                                 n_boot=n_boot, seed=seed)
            records.append({"run": name, "metric": key, "reference_value": metric(y, base),
                            "value": metric(y, probabilities[name]), **result})
            if progress:
                progress("compare: bootstrap", len(records), total)
    columns = ["run", "metric", "reference_value", "value", "estimate", "low", "high", "verdict"]
    return pd.DataFrame(records, columns=columns)


def compare_runs(contenders: Sequence[Contender], rows: pd.DataFrame, *,
                 health_threshold: float, bands: Sequence[Band], n_boot: int, seed: int,
                 progress: Progress | None = None) -> Comparison:
    """Score every contender on the holdout rows of the newest one and compare them.

    The first contender is the reference. Raises :class:`IncompatibleRunsError` when the runs
    cannot be compared fairly (see :func:`compatibility_problems`).
    A contender whose registered model was refit on rows overlapping the holdout (the newest
    run always is, when refit) is scored by its evaluation fit (:func:`honest_contender`).
    """
    if len(contenders) < 2:
        raise ModelError("a comparison needs at least two runs")
    holdout = newest(contenders)
    check_compatible(contenders, holdout, rows)
    rows = rows.reset_index(drop=True)
    y = rows[holdout.model.label].astype(int).to_numpy()
    arr = rows["arr"].fillna(0).to_numpy(float) if "arr" in rows else None
    contenders = [honest_contender(c, rows) for c in contenders]
    holdout = newest(contenders)
    probabilities = {c.name: c.model.predict_proba(rows) for c in contenders}
    evaluations = {name: evaluate(y, p, arr=arr, health_threshold=health_threshold,
                                  bands=bands, n_boot=0, seed=seed)
                   for name, p in probabilities.items()}
    differences = paired_differences(y, probabilities, contenders[0].name, health_threshold,
                                     n_boot, seed, progress)
    return Comparison(list(contenders), holdout, rows, y, probabilities, evaluations,
                      differences, disagreements(contenders, rows, probabilities, y),
                      health_threshold, n_boot)


def disagreements(contenders: Sequence[Contender], rows: pd.DataFrame,
                  probabilities: Mapping[str, np.ndarray], y: np.ndarray,
                  top: int = TOP_DISAGREEMENTS) -> pd.DataFrame:
    """The accounts whose health differs most between the runs, one row per account.

    ``spread`` is the largest minus the smallest health any run gives the row (points); each
    account appears once, at its snapshot of largest spread. Per run: its health and its top
    risk drivers (``-12.3 sentence; ...``). Rows on which every run agrees are left out.
    """
    health = np.column_stack([health_from_probability(probabilities[c.name])
                              for c in contenders])
    spread = health.max(axis=1) - health.min(axis=1)
    keys = [k for k in ROW_KEYS if k in rows.columns]
    picked = pd.DataFrame({"spread": spread}, index=rows.index)
    picked = picked[picked["spread"] > 0].join(rows[keys])
    picked = picked.sort_values("spread", ascending=False, kind="stable")
    if "account_id" in keys:
        picked = picked.drop_duplicates("account_id")
    picked = picked.head(top)
    out = picked[keys].copy()
    out["churned"] = np.where(y[rows.index.get_indexer(picked.index)] == 1, "yes", "no")
    out["spread"] = picked["spread"].round(1)
    features = rows.loc[picked.index]
    for c, column in zip(contenders, health.T, strict=True):
        out[f"{c.name}: health"] = column[rows.index.get_indexer(picked.index)]
        out[f"{c.name}: drivers"] = (_driver_text(explain(c.model, features))
                                     if len(features) else [])
    return out.reset_index(drop=True)


def _driver_text(explained: pd.DataFrame) -> list[str]:
    texts = []
    for _, row in explained.iterrows():
        parts = [f"{row[f'risk_{k}_points']:+.1f} {row[f'risk_{k}_reason']}"
                 for k in range(1, DRIVERS_SHOWN + 1)
                 if f"risk_{k}_feature" in row and row[f"risk_{k}_feature"]]
        texts.append("; ".join(parts) or "no risk drivers")
    return texts


# --------------------------------------------------------------------------------------------
# tables


def side_by_side(comparison: Comparison) -> pd.DataFrame:
    """Headline metrics and band churn rates, one row per metric and a column per run.

    Columns: key, metric (a readable label), template (its format) and one float column per
    run, named as the run.
    """
    t = comparison.health_threshold
    records = []
    for key, label, template, _ in SIDE_BY_SIDE:
        records.append({"key": key, "metric": label.format(t=t), "template": template}
                       | {name: ev.overall.get(key) for name, ev in
                          comparison.evaluations.items()})
    first = comparison.evaluations[comparison.reference].bands
    for i, band in first.iterrows():
        records.append({"key": f"band_{metric_slug(band['band'])}_churn_rate",
                        "metric": f"Churn rate, {band['band']} ({band['health_range']})",
                        "template": "{:.1%}"}
                       | {name: ev.bands.iloc[i]["churn_rate"] for name, ev in
                          comparison.evaluations.items()})
    return pd.DataFrame(records)


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
        "label": _describe(label_definition(c)),
    } for c in comparison.contenders])


def holdout_summary(comparison: Comparison) -> str:
    """One line: which rows everything was measured on."""
    h = comparison.holdout
    period = h.params.get("split_test", "random test rows")
    return (f"test period {period} of run {h.run_id[:12]} ({h.name}): {len(comparison.y):,} rows, "
            f"{int(comparison.y.sum()):,} churners ({comparison.y.mean():.1%})")


# --------------------------------------------------------------------------------------------
# MLflow payload


def comparison_tags(comparison: Comparison) -> dict[str, str]:
    """Tags of the comparison run: its kind and the run ids compared."""
    return {tracking.TAG_KIND: KIND_COMPARISON,
            TAG_COMPARED: ",".join(c.run_id for c in comparison.contenders),
            TAG_REFERENCE: comparison.contenders[0].run_id,
            TAG_HOLDOUT: comparison.holdout.run_id}


def comparison_params(comparison: Comparison) -> dict[str, object]:
    """Params of the comparison run."""
    params: dict[str, object] = {
        "runs": ",".join(comparison.names), "reference": comparison.reference,
        "holdout_run": comparison.holdout.run_id,
        "holdout_period": comparison.holdout.params.get("split_test", "random"),
        "holdout_rows": len(comparison.y), "bootstrap": comparison.n_boot,
        "at_risk_threshold": comparison.health_threshold,
    }
    for slug, c in zip(unique_slugs(comparison.names), comparison.contenders, strict=True):
        params[f"run_{slug}"] = c.run_id
    return params


def comparison_metrics(comparison: Comparison) -> dict[str, float]:
    """Every run's metrics as ``{run}_{metric}`` and each difference as ``diff_{run}_{metric}``
    (with ``_low`` / ``_high``); run names slugged."""
    slugs = dict(zip(comparison.names, unique_slugs(comparison.names), strict=True))
    table = side_by_side(comparison)
    out: dict[str, float] = {}
    for row in table.to_dict("records"):
        out |= {f"{slugs[name]}_{row['key']}": row[name] for name in comparison.names}
    for r in comparison.differences.itertuples():
        stem = f"diff_{slugs[r.run]}_{r.metric}"
        out |= {stem: r.estimate, f"{stem}_low": r.low, f"{stem}_high": r.high}
    return {k: float(v) for k, v in out.items() if v is not None and pd.notna(v)}


# --------------------------------------------------------------------------------------------
# HTML


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
    page = html_table(frame)
    for verdict, css in (("better", "better"), ("worse", "worse")):
        page = page.replace(f"<td>{verdict}</td>", f'<td class="{css}">{verdict}</td>')
    return page


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
        disagree_html = html_table(disagreement_cells(comparison),
                                   floats="{:.1f}").replace("; ", "<br>")
    names = html.escape(" vs ".join(comparison.names))
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>healthscore comparison: {names}</title><style>{STYLE}</style></head><body>
<h1>Model comparison: {names}</h1>
<p class="sub">Every run scored on the same rows: {html.escape(holdout_summary(comparison))}.
Reference: {html.escape(comparison.reference)}; intervals from {comparison.n_boot} paired
bootstrap resamples of those rows.</p>
<h2>Runs</h2>{html_table(runs_table(comparison))}
<h2>Side by side</h2>{html_table(formatted_side_by_side(comparison))}
<h2>Is the difference real? Each run minus the reference</h2>
<p>"better" or "worse" when the 95 % interval of the difference excludes 0; otherwise no
significant difference.</p>{_verdict_html(formatted_differences(comparison))}
<div class="grid">{figures}</div>
<h2>Health bands side by side</h2>
<p>Churn rate of each band on the same rows (churners of accounts).</p>
{html_table(band_churn_cells(comparison))}
<h2>Where the runs disagree most</h2>
<p>Accounts whose health differs most between the runs (largest minus smallest, in health
points), with each run's top risk drivers (health points, reason).</p>{disagree_html}
</body></html>"""
