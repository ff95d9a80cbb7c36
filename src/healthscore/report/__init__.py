"""One small kit for the self-contained HTML pages and figures every stage writes.

It holds the page style (written once), figure rendering to inline PNG, and the tables of
every page (:mod:`healthscore.report.tables`: one builder, kept inside the page by a scroll
box). It imports nothing from the rest of healthscore, so training, serving and compare can all
use it without depending on each other.
"""

from __future__ import annotations

import base64
import html
import io

from healthscore.report.tables import (
    MISSING,
    Cell,
    Column,
    chip,
    columns_table,
    format_value,
    frame_table,
    is_missing,
    luminance,
    scrollable,
    table,
)

__all__ = [
    "BASE_STYLE", "DASHBOARD_STYLE", "MISSING", "Cell", "Column", "chip", "columns_table",
    "figure_png", "format_value", "frame_table", "is_missing", "luminance", "page_style",
    "png_img", "pyplot", "scrollable", "table",
]

BASE_STYLE = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1150px;
color:#222;line-height:1.45;padding:0 1rem}h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
h2{margin-top:2rem;border-bottom:2px solid #eee;padding-bottom:.2rem}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0 1.5rem}.scroll>table{margin:0}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.92rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}th{background:#f5f5f5}
table.wrap th,table.wrap td{overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));gap:1rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.3rem}
img{max-width:100%;height:auto;border:1px solid #eee}
.muted{color:#888}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem 1rem}
"""


# Operational pages (portfolio, drift): left-aligned text, right-aligned numbers, full-width
# tables, summary cards and coloured band/status chips.
DASHBOARD_STYLE = """
th,td{text-align:left}td.num,th.num{text-align:right}td.num,td.id{white-space:nowrap}
table{width:100%}td.wide{min-width:16rem}td.text{min-width:9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.8rem;
margin:1rem 0}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:.6rem .8rem;background:#fafafa}
.card .value{font-size:1.5rem;font-weight:600}.card .label{color:#555;font-size:.85rem}
.band{display:inline-block;padding:0 .45rem;border-radius:3px;white-space:nowrap}
ul.reasons{margin:0;padding-left:1rem}.pts{color:#b42318;font-variant-numeric:tabular-nums}
"""


def page_style(extra: str = "") -> str:
    """The shared page style followed by a page's own rules (``extra``)."""
    return BASE_STYLE + extra


def pyplot():
    """matplotlib.pyplot on the headless Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def png_img(png: bytes, alt: str) -> str:
    """An ``<img>`` tag holding the PNG inline as base64."""
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
