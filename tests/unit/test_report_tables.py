"""The report kit's tables: one builder every page uses, escaping, classes, number formats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore import report


def test_a_table_scrolls_in_its_box_and_escapes_its_header():
    page = report.table(["a<b", ("ARR", "num")], [["x", ("1,000", "num")]], wrap=True)
    assert page == ('<div class="scroll"><table class="wrap"><tr><th>a&lt;b</th>'
                    '<th class="num">ARR</th></tr><tr><td>x</td><td class="num">1,000</td></tr>'
                    "</table></div>")


def test_a_frame_reads_as_numbers_percentages_and_dashes():
    frame = pd.DataFrame({"name": ["<acme>", "b"], "rate": [0.1234, np.nan],
                          "auc": [0.8123, 12345.6], "verdict": ["better", "same"]})
    page = report.frame_table(frame, percents=("rate",),
                       cell_class=lambda v: "better" if v == "better" else "")
    assert "<td>&lt;acme&gt;</td><td>12.3%</td><td>0.812</td>" in page
    assert "<td>–</td><td>12,346</td>" in page  # NaN as a dash; large floats whole
    assert '<td class="better">better</td></tr>' in page and "<td>same</td></tr>" in page


def test_columns_build_each_cell_from_the_row():
    frame = pd.DataFrame({"id": ["a1", "b2"], "arr": [1200.0, np.nan]})
    page = report.columns_table(frame, [
        report.Column("Account", "", lambda r: r["id"]),
        ("ARR", "num", lambda r: report.format_value("{:,.0f}", r["arr"])),  # a plain tuple
    ])
    assert '<th>Account</th><th class="num">ARR</th>' in page
    assert '<tr><td>a1</td><td class="num">1,200</td></tr>' in page
    assert '<tr><td>b2</td><td class="num">–</td></tr>' in page


def test_missing_values_and_chips():
    assert [report.is_missing(v) for v in (None, np.nan, "", pd.NaT, 0, "x")] == [
        True, True, True, True, False, False]
    assert report.format_value("{:.1f}", 2) == "2.0" and report.format_value("{:.1f}", "") == "–"
    assert report.chip("Critical", "#b2182b") == (
        '<span class="band" style="background:#b2182b;color:#fff">Critical</span>')
    assert 'color:#222">a&amp;b</span>' in report.chip("a&b", "#fddbc7")  # light: dark ink
    assert 'color:#fff"' in report.chip("stable", "#67a9cf", ink="#fff")
