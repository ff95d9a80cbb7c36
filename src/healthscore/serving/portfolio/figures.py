"""The portfolio page's figures: accounts and ARR per band, and health stacked by band."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.report import pyplot
from healthscore.serving.portfolio.tables import ARR, BAND, HEALTH, compact_money

BAND_COLORS = {"Critical": "#b2182b", "At risk": "#ef8a62", "Moderate": "#fddbc7",
               "Healthy": "#67a9cf"}
UNKNOWN_BAND_COLOR = "#bdbdbd"


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
        (axes[1], ARR, "ARR per band", compact_money),
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


def _axis_money(value: float, _position: object = None) -> str:
    """Axis tick label: 2000000 -> "2M", 500000 -> "500k"."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"
