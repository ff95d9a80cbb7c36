"""Validation plots as matplotlib figures (headless); several models overlay on one axis."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from healthscore.report import pyplot  # one matplotlib set-up for every stage
from healthscore.training.metrics import curves

Scores = Mapping[str, tuple[np.ndarray, np.ndarray]]  # model name -> (y, p)
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
BAND_COLORS = {"Critical": "#b2182b", "At risk": "#ef8a62", "Moderate": "#fddbc7",
               "Healthy": "#67a9cf"}


def roc_figure(scores: Scores):
    """ROC curves of one or more models, with AUC in the legend."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for color, (name, (y, p)) in zip(COLORS, scores.items(), strict=False):
        roc = curves(y, p)["roc"]
        auc = float(np.trapezoid(roc["tpr"], roc["fpr"]))
        ax.plot(roc["fpr"], roc["tpr"], color=color, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="False positive rate", ylabel="True positive rate (churners caught)",
           title="ROC curve (test period)")
    ax.legend(loc="lower right")
    return fig


def pr_figure(scores: Scores):
    """Precision-recall curves with the churn base rate as reference."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    base = None
    for color, (name, (y, p)) in zip(COLORS, scores.items(), strict=False):
        pr = curves(y, p)["pr"]
        ax.plot(pr["recall"], pr["precision"], color=color, label=name)
        base = float(np.mean(y))
    if base is not None:
        ax.axhline(base, color="grey", linestyle=":", linewidth=1, label=f"base rate {base:.1%}")
    ax.set(xlabel="Recall (share of churners caught)", ylabel="Precision",
           title="Precision-recall (test period)", ylim=(0, 1.02))
    ax.legend(loc="upper right")
    return fig


def calibration_figure(scores: Scores):
    """Reliability diagram: predicted vs observed churn per probability bin."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for color, (name, (y, p)) in zip(COLORS, scores.items(), strict=False):
        cal = curves(y, p)["calibration"]
        cal = cal[cal["count"] > 0]
        ax.plot(cal["mean_predicted"], cal["observed_rate"], marker="o", color=color, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.set(xlabel="Predicted churn probability", ylabel="Observed churn rate",
           title="Calibration (test period)", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    return fig


def band_churn_figure(band_tables: Mapping[str, pd.DataFrame]):
    """Observed churn rate per health band (bars), one group per model."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    names = list(band_tables)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        table = band_tables[name]
        x = np.arange(len(table)) + i * width
        colors = [BAND_COLORS.get(b, COLORS[i % len(COLORS)]) for b in table["band"]]
        bars = ax.bar(x, table["churn_rate"].fillna(0), width=width, color=colors,
                      edgecolor=COLORS[i % len(COLORS)], label=name)
        for bar, n in zip(bars, table["accounts"], strict=True):
            ax.annotate(f"n={n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    first = band_tables[names[0]]
    ax.set_xticks(np.arange(len(first)) + width * (len(names) - 1) / 2,
                  labels=[f"{b}\n{r}" for b, r in zip(first["band"], first["health_range"],
                                                      strict=True)])
    ax.set(ylabel="Observed churn rate", title="Churn rate by health band (test period)")
    if len(names) > 1:
        ax.legend()
    return fig


def score_distribution_figure(y: np.ndarray, p: np.ndarray):
    """Histogram of health for accounts that churned vs stayed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    health = 100 * (1 - np.asarray(p))
    bins = np.linspace(0, 100, 21)
    y = np.asarray(y).astype(bool)
    ax.hist(health[~y], bins=bins, alpha=0.6, density=True, label="retained", color=COLORS[0])
    ax.hist(health[y], bins=bins, alpha=0.6, density=True, label="churned", color=COLORS[1])
    ax.set(xlabel="Health (100 - 100 p)", ylabel="Density",
           title="Health distribution by outcome (test period)")
    ax.legend()
    return fig


def drivers_figure(contributions: np.ndarray, values: pd.DataFrame, max_features: int = 15):
    """SHAP summary (beeswarm) of per-feature contributions on a sample of rows."""
    import shap

    plt = pyplot()
    numeric = values.copy()
    for col in numeric.columns:
        if not pd.api.types.is_numeric_dtype(numeric[col]):
            numeric[col] = pd.factorize(numeric[col])[0].astype(float)
    shap.summary_plot(np.asarray(contributions), numeric, max_display=max_features, show=False,
                      plot_size=(7, 0.35 * max_features + 1.5))
    fig = plt.gcf()
    fig.axes[0].set_title("Drivers: contribution to churn log-odds (test sample)")
    return fig


def global_drivers(contributions: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Mean absolute contribution per feature, largest first."""
    importance = np.abs(np.asarray(contributions)).mean(axis=0)
    table = pd.DataFrame({"feature": names, "mean_abs_contribution": importance})
    return table.sort_values("mean_abs_contribution", ascending=False, ignore_index=True)


def threshold_figure(table: pd.DataFrame, chosen: float | None = None):
    """Precision and recall (left axis) and the worklist per run (right axis) against the
    health threshold, from :func:`healthscore.training.thresholds.threshold_table`; a dashed
    line marks the ``chosen`` threshold."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    x = table["health_threshold"]
    ax.plot(x, table["precision"], marker="o", color=COLORS[0], label="precision")
    ax.plot(x, table["recall"], marker="o", color=COLORS[1], label="recall")
    ax.set(xlabel="Flag accounts with health below", ylabel="Share", ylim=(0, 1.02),
           title="Precision and recall by at-risk threshold (test period)")
    right = ax.twinx()
    right.bar(x, table["flagged_per_run"], width=2.5, color="grey", alpha=0.25,
              label="accounts flagged per run")
    right.set_ylabel("Accounts flagged per run (mean)")
    if chosen is not None:
        ax.axvline(chosen, color="black", linestyle="--", linewidth=1,
                   label=f"chosen: health < {chosen:g}")
    lines = ax.get_legend_handles_labels()
    bars = right.get_legend_handles_labels()
    ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="center right", fontsize=8)
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    return fig
