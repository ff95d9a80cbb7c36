"""Live accuracy (serving/monitor.py) on small hand-built score histories."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest

from healthscore.model.bands import DEFAULT_BANDS
from healthscore.serving import monitor as mon
from healthscore.serving.monitor_page import render_monitor

D1, D2, D3 = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def scored(rows: list[tuple]) -> pd.DataFrame:
    """History-like rows: (as_of, account_id, model_health, churned[, points])."""
    frame = pd.DataFrame([r[:4] for r in rows],
                         columns=["as_of", "account_id", "model_health", "churned"])
    frame["points_json"] = [json.dumps(r[4]) if len(r) > 4 else "{}" for r in rows]
    frame["health"] = frame["model_health"]
    frame["churn_probability"] = 1 - frame["model_health"] / 100
    frame["segment"] = "smb"
    frame["arr"] = 1000.0
    frame["band"] = ["Healthy" if h >= 75 else "At risk" for h in frame["model_health"]]
    frame["model_version"] = "3"
    return frame


def known_world() -> pd.DataFrame:
    """Per date: 4 churners of which 3 flagged (health 20), 1 missed (account 'A7', health
    90, its drivers in the points), 16 stayers of which 2 flagged."""
    rows = []
    for day in (D1, D2):
        rows += [(day, f"c{i}", 20.0, True) for i in range(3)]
        rows.append((day, "A7", 90.0, True,
                     {"days_past_due": -12.5, "logins_30d": -3.0, "nps": 2.0, "seats": -0.4,
                      "tickets_30d": -1.0}))
        rows += [(day, f"f{i}", 30.0, False) for i in range(2)]
        rows += [(day, f"s{i}", 95.0, False) for i in range(14)]
    return scored(rows)


def test_matured_dates_need_the_whole_label_window_before_as_of():
    window = mon.label_window_days(90, 30)
    assert window == 120
    dates = [D1, D2, D3]
    assert mon.matured_dates(dates, D1 + dt.timedelta(days=120), window) == [D1]
    assert mon.matured_dates(dates, D1 + dt.timedelta(days=119), window) == []
    assert mon.matured_dates(dates, D3 + dt.timedelta(days=120), window) == [D1, D2, D3]


def test_figures_count_the_confusion_matrix_at_the_threshold():
    figures = mon.accuracy_figures(known_world(), 50.0, n_boot=0).set_index("metric")["value"]
    assert figures["recall"] == pytest.approx(3 / 4)
    assert figures["tnr"] == pytest.approx(14 / 16)
    assert figures["precision"] == pytest.approx(3 / 5)
    assert figures["accuracy"] == pytest.approx(17 / 20)
    assert figures["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert figures["churn_rate"] == pytest.approx(4 / 20)


def test_an_account_scored_many_times_is_one_draw_of_the_bootstrap():
    """Twelve copies of the same accounts must not make the interval twelve times surer."""
    once = known_world()
    once = once[once["as_of"] == D1]
    copies = pd.concat([once.assign(as_of=D1 + dt.timedelta(days=31 * k)) for k in range(12)],
                       ignore_index=True)
    one = mon.accuracy_figures(once, 50.0, n_boot=400, seed=1).set_index("metric")
    many = mon.accuracy_figures(copies, 50.0, n_boot=400, seed=1).set_index("metric")
    width_one = one.loc["recall", "high"] - one.loc["recall", "low"]
    width_many = many.loc["recall", "high"] - many.loc["recall", "low"]
    assert many.loc["recall", "value"] == pytest.approx(one.loc["recall", "value"])
    assert width_many == pytest.approx(width_one, rel=0.35)
    # rows drawn independently would have narrowed it by about sqrt(12)
    assert width_many > width_one / 2


def test_a_known_miss_is_listed_with_the_drivers_it_had_when_scored():
    live = mon.evaluate_live(known_world(), D3, 50.0, DEFAULT_BANDS, mon.Thresholds(), None,
                             n_boot=50)
    misses = live.misses
    assert set(misses["account_id"]) == {"A7"}
    assert list(misses["as_of"]) == [D1, D2] or list(misses["as_of"]) == [D2, D1]
    assert misses["drivers"].iat[0] == ("days_past_due −12.5 pts; logins_30d −3.0 pts; "
                                        "tickets_30d −1.0 pts")
    assert set(live.false_alarms["account_id"]) == {"f0", "f1"}


def test_score_file_sentences_replace_the_points_when_present():
    reasons = pd.DataFrame({"as_of": [D1], "account_id": ["A7"],
                            "drivers": ["Invoices 45 days past due (−12.5 pts)"]})
    misses = mon.listed_accounts(known_world(), 50.0, "misses", reasons)
    by_date = misses.set_index("as_of")["drivers"]
    assert by_date[D1] == "Invoices 45 days past due (−12.5 pts)"
    assert by_date[D2].startswith("days_past_due −12.5 pts")


def test_a_miss_a_hard_stop_caught_says_so_and_shows_the_models_band():
    """The model missed A7 (health 90) but a hard stop scored it 20, Critical: the list is
    the model's (its health, its band), and says what the scoring run did instead."""
    world = known_world()
    stopped = (world["account_id"] == "A7") & (world["as_of"] == D1)
    world.loc[stopped, ["health", "band"]] = [20.0, "Critical"]
    overridden = (world["account_id"] == "A7") & (world["as_of"] == D2)
    world.loc[overridden, "band"] = "At risk"
    misses = mon.listed_accounts(world, 50.0, "misses", bands=DEFAULT_BANDS).set_index("as_of")
    assert misses.loc[D1, "model_band"] == "Healthy"
    assert misses.loc[D1, "as_scored"] == "20.0 Critical (hard stop)"
    assert misses.loc[D2, "as_scored"] == "At risk (band override)"
    unchanged = mon.listed_accounts(known_world(), 50.0, "misses", bands=DEFAULT_BANDS)
    assert set(unchanged["as_scored"]) == {""}
    page = render_monitor(mon.evaluate_live(world, D3, 50.0, DEFAULT_BANDS, mon.Thresholds(),
                                            None, n_boot=20), {"name": "h", "version": "3"}, 90)
    assert "20.0 Critical (hard stop)" in page and "<th>model band</th>" in page


def test_misses_carry_the_name_and_owner_the_score_file_had():
    reasons = pd.DataFrame({"as_of": [D1, D2], "account_id": ["A7", "A7"],
                            "drivers": ["2 'seat_removed' events (−12.5 pts)", ""],
                            "name": ["Acme Corp", "Acme Corp"], "owner": ["Avery", ""]})
    misses = mon.listed_accounts(known_world(), 50.0, "misses", reasons)
    assert list(misses.columns[:4]) == ["as_of", "account_id", "name", "owner"]
    assert set(misses["name"]) == {"Acme Corp"}
    live = mon.evaluate_live(known_world(), D3, 50.0, DEFAULT_BANDS, mon.Thresholds(), None,
                             n_boot=20, reasons=reasons)
    page = render_monitor(live, {"name": "healthscore", "version": "3"}, 90)
    assert "<td>Acme Corp (A7) · Avery</td>" in page
    # a driver sentence that starts with a count is text, not a number aligned right
    assert "<td>2 &#x27;seat_removed&#x27; events (−12.5 pts)</td>" in page
    assert f'<td class="date">{D1.isoformat()}</td>' in page  # dates never break
    plain = mon.listed_accounts(known_world(), 50.0, "misses", reasons[["as_of", "account_id",
                                                                         "drivers"]])
    assert "name" not in plain and "owner" not in plain


def test_recall_check_fails_only_when_the_whole_interval_is_below_the_floor():
    promise = mon.Promise("run", "3", {"test_recall": 0.9, "test_recall_ci_low": 0.85,
                                       "test_recall_ci_high": 0.95}, pd.DataFrame(
        columns=["band", "accounts", "churners", "churn_rate", "low", "high"]))
    rows = []
    for day in (D1, D2, D3):  # 100 churners per date, only 10 flagged
        rows += [(day, f"c{i}", 20.0 if i < 10 else 80.0, True) for i in range(100)]
        rows += [(day, f"s{i}", 95.0, False) for i in range(300)]
    live = mon.evaluate_live(scored(rows), D3, 50.0, DEFAULT_BANDS, mon.Thresholds(), promise,
                             n_boot=200)
    recall = next(c for c in live.checks if c.name == "live recall")
    assert recall.status == "fail", recall
    assert "floor 75.0%" in recall.detail
    good = mon.evaluate_live(known_world(), D3, 50.0, DEFAULT_BANDS,
                             mon.Thresholds(min_recall=0.5), promise, n_boot=200)
    assert next(c for c in good.checks if c.name == "live recall").status == "pass"


def test_a_low_validation_recall_keeps_a_floor_at_a_share_of_it():
    """Validation recall 10 % and tolerance 15 %: a floor of -5 % could never fail, so the
    floor is recall_share (half) of it, 5 %; with recall_share 0 there is no floor and the check
    is skipped and says why instead of passing against a negative floor."""
    promise = mon.Promise("run", "3", {"test_recall": 0.1}, pd.DataFrame(
        columns=["band", "accounts", "churners", "churn_rate", "low", "high"]))
    floor, source = mon.recall_floor(mon.Thresholds(), promise)
    assert floor == pytest.approx(0.05) and "recall_share 50%" in source
    # a high validation recall keeps the 15-point tolerance, the higher floor there
    high = mon.Promise("run", "3", {"test_recall": 0.6}, promise.bands)
    assert mon.recall_floor(mon.Thresholds(), high)[0] == pytest.approx(0.45)
    assert mon.recall_floor(mon.Thresholds(recall_tolerance=0.05), promise)[0] == \
        pytest.approx(0.05)
    live = mon.evaluate_live(known_world(), D3, 50.0, DEFAULT_BANDS,
                             mon.Thresholds(recall_share=0.0), promise, n_boot=50)
    recall = next(c for c in live.checks if c.name == "live recall")
    assert recall.status == "skipped", recall
    assert "could never fall below" in recall.detail
    rows = []
    for day in (D1, D2, D3):  # live recall 1 %: the whole interval below the 5 % floor
        rows += [(day, f"c{i}", 20.0 if i < 2 else 80.0, True) for i in range(200)]
        rows += [(day, f"s{i}", 95.0, False) for i in range(300)]
    live = mon.evaluate_live(scored(rows), D3, 50.0, DEFAULT_BANDS, mon.Thresholds(), promise,
                             n_boot=50)
    recall = next(c for c in live.checks if c.name == "live recall")
    assert recall.status == "fail" and "floor 5.0%" in recall.detail, recall


def test_calibration_check_fails_when_far_more_churn_than_predicted():
    rows = []
    for day in (D1, D2, D3):  # predicted 5 % churn, observed 30 %
        rows += [(day, f"a{i}", 95.0, i < 60) for i in range(200)]
    live = mon.evaluate_live(scored(rows), D3, 50.0, DEFAULT_BANDS, mon.Thresholds(), None,
                             n_boot=200)
    calibration = next(c for c in live.checks if c.name == "calibration")
    assert calibration.status == "fail", calibration
    assert live.failed
    ok = mon.evaluate_live(known_world(), D3, 50.0, DEFAULT_BANDS,
                           mon.Thresholds(max_calibration_ratio=100), None, n_boot=100)
    assert next(c for c in ok.checks if c.name == "calibration").status == "pass"


def test_band_churn_is_compared_with_the_promise():
    promise = mon.Promise("run", "3", {}, mon.promised_bands(pd.DataFrame({
        "band": ["Critical", "At risk", "Moderate", "Healthy"], "accounts": [10, 10, 10, 100],
        "churners": [8, 6, 2, 1], "churn_rate": [0.8, 0.6, 0.2, 0.01]})))
    bands = mon.band_table(known_world(), DEFAULT_BANDS, promise, n_boot=200).set_index("band")
    assert bands.loc["Critical", "churn_rate"] == pytest.approx(1.0)
    assert bands.loc["Healthy", "rows"] == 30
    assert bands.loc["Healthy", "churners"] == 2
    assert bands.loc["Critical", "promised"] == pytest.approx(0.8)
    assert bands.loc["Critical", "reproduced"] == "yes"
    low, high = mon.wilson_interval(1, 100)
    assert bands.loc["Healthy", "promised_low"] == pytest.approx(low)
    assert low < 0.01 < high


def test_the_page_has_every_section_and_no_missing_values():
    promise = mon.Promise("run", "3", {"test_recall": 0.7, "test_recall_ci_low": 0.6,
                                       "test_recall_ci_high": 0.8}, pd.DataFrame(
        columns=["band", "accounts", "churners", "churn_rate", "low", "high"]))
    live = mon.evaluate_live(known_world(), D3, 50.0, DEFAULT_BANDS, mon.Thresholds(), promise,
                             n_boot=50, waiting=[D3])
    page = render_monitor(live, {"name": "healthscore", "version": "3"}, 90)
    for heading in ("Checks (monitoring)", "Per scoring date", "Churn rate per band",
                    "Calibration", "Misses", "False alarms"):
        assert heading in page
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", page))
    assert not re.search(r"\b(NaN|None|nan)\b", text)
    assert "A7" in text and "days_past_due −12.5 pts" in text
    assert "&gt; 75%" in page  # the seeds' target beside the figure


def test_summary_metrics_are_finite_and_named_for_mlflow():
    live = mon.evaluate_live(known_world(), D3, 50.0, DEFAULT_BANDS, mon.Thresholds(), None,
                             n_boot=50)
    metrics = mon.summary_metrics(live)
    assert metrics["live_recall"] == pytest.approx(0.75)
    assert "live_recent_recall_ci_low" in metrics
    assert all(np.isfinite(v) for v in metrics.values())
    table = mon.csv_table(live)
    assert list(table["as_of"]) == [str(D1), str(D2), "cumulative"]
