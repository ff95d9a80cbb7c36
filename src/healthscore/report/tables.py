"""The HTML tables of every page: one builder, the ways pages feed it, and cell formatting.

:func:`table` writes the markup (text already escaped by the caller, an optional CSS class per
header or cell) inside :func:`~healthscore.report.scrollable`, so a table too wide for the window
scrolls in its box instead of widening the page. The pages feed it three ways:

- :func:`frame_table`: a data frame as it is (the validation report and the comparison page):
  text escaped, floats formatted, NaN as an en dash;
- :func:`columns_table`: one :class:`Column` per column, whose cell function builds the cell
  from a row (the portfolio and drift pages, whose cells hold band chips and line breaks);
- :func:`table` itself with rows of ready cells (the monitor page, the headline table).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import pandas as pd

MISSING = "–"  # what a missing number reads as

# A cell: escaped HTML, or (escaped HTML, CSS class).
Cell = str | tuple[str, str]


class Column(NamedTuple):
    """One column of :func:`columns_table`: its title (plain text), CSS class of its header
    and cells ("" for none), and the function that builds a cell (escaped HTML) from a row."""

    title: str
    css: str
    cell: Callable[[Any], str]


def scrollable(table_html: str) -> str:
    """Wrap a table so that, if it cannot fit, it scrolls inside the page instead of
    pushing the whole page wider than the window."""
    return f'<div class="scroll">{table_html}</div>'


def _tag(name: str, cell: Cell) -> str:
    content, css = cell if isinstance(cell, tuple) else (cell, "")
    attribute = f' class="{css}"' if css else ""
    return f"<{name}{attribute}>{content}</{name}>"


def table(header: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Cell]], *,
          wrap: bool = False) -> str:
    """A scrollable HTML table.

    Parameters
    ----------
    header : column titles as plain text (escaped here), or (title, CSS class) pairs.
    rows : the rows, each a sequence of cells: escaped HTML, or (escaped HTML, CSS class).
    wrap : let long identifiers (feature names, setting names) break anywhere, so a table with
        many of them still fits the page.
    """
    head = "".join(_tag("th", (html.escape(str(h[0])), h[1]) if isinstance(h, tuple)
                        else html.escape(str(h))) for h in header)
    body = "".join("<tr>" + "".join(_tag("td", c) for c in row) + "</tr>" for row in rows)
    css = ' class="wrap"' if wrap else ""
    return scrollable(f"<table{css}><tr>{head}</tr>{body}</table>")


def columns_table(frame: pd.DataFrame, columns: Sequence[Column | tuple]) -> str:
    """A table of ``frame`` whose cells each :class:`Column` (or a plain ``(title, css,
    cell)`` tuple) builds from the row (a Series)."""
    columns = [Column(*c) for c in columns]
    return table([(c.title, c.css) for c in columns],
                 ([(c.cell(row), c.css) for c in columns] for _, row in frame.iterrows()))


def frame_table(frame: pd.DataFrame, floats: str = "{:.3f}", wrap: bool = False,
                percents: Sequence[str] = (),
                cell_class: Callable[[object], str] | None = None) -> str:
    """A table of ``frame`` as it is: text escaped, whole or large floats with thousands
    separators, other floats by ``floats``, NaN as an en dash; columns named in ``percents``
    (shares, rates) read as percentages with one decimal. ``wrap`` as in :func:`table`;
    ``cell_class`` gives a cell's CSS class from its value ("" for none)."""
    def cell(value: object, percent: bool) -> str:
        if isinstance(value, float):
            if pd.isna(value):
                return MISSING
            if percent:
                return f"{value:.1%}"
            if value.is_integer() or abs(value) >= 1000:
                return f"{value:,.0f}"
            return floats.format(value)
        return html.escape(str(value))

    flags = [c in percents for c in frame.columns]
    css = cell_class or (lambda value: "")
    rows = ([(cell(v, p), css(v)) for v, p in zip(row, flags, strict=True)]
            for row in frame.itertuples(index=False))
    return table([str(c) for c in frame.columns], rows, wrap=wrap)


def is_missing(value: object) -> bool:
    """True for None, NaN (or NaT) and empty text."""
    return value is None or (isinstance(value, str) and not value) or bool(pd.isna(value))


def format_value(template: str, value: object) -> str:
    """``template`` applied to ``value``; an en dash for a missing value (:func:`is_missing`)."""
    return MISSING if is_missing(value) else template.format(value)


def chip(text: str, background: str, ink: str | None = None) -> str:
    """A coloured label (a band, a drift status): ``text`` escaped on ``background``; the ink
    is dark or white by the background's luminance unless given."""
    if ink is None:
        ink = "#fff" if luminance(background) < 0.45 else "#222"
    return (f'<span class="band" style="background:{background};color:{ink}">'
            f"{html.escape(text)}</span>")


def luminance(color: str) -> float:
    """Relative luminance (0 black .. 1 white) of a ``#rrggbb`` colour."""
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
