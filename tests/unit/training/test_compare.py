"""Comparing runs on one holdout: verdicts, refusals, disagreements, HTML and MLflow payload,
on hand-built linear models (no training, no MLflow)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ModelError
from healthscore.features.labels import LabelSpec
from healthscore.model.artifact import FeatureMeta, HealthModel
from healthscore.model.bands import DEFAULT_BANDS, Band, segment_band_index
from healthscore.tracking import RunRecord
from healthscore.training import record  # test_frame_for would be collected as a test
from healthscore.training.compare import (
    Contender,
    IncompatibleRunsError,
    compare_runs,
    comparison_metrics,
    comparison_tags,
    compatibility_problems,
    display_names,
    fitted_through,
    formatted_differences,
    newest,
    render_comparison,
    side_by_side,
)

MLFLOW_NAME = re.compile(r"^[\w\-\. /]+$")
SPLIT = {"split_train": "<= 2025-01-01", "split_validation": "(2025-03-01, 2025-06-01]",
         "split_test": "(2025-09-01, 2025-12-01]"}
SETTINGS = {"features": {"horizon_days": 90, "expansion_pct": 0.1,
                         "churn": {"definition": "contract", "grace_days": 30}}}


class Linear:
    """Churn log-odds = bias + w . x over the named columns."""

    name = "linear"

    def __init__(self, weights: dict[str, float], bias: float = -2.0) -> None:
        self.feature_names = list(weights)
        self.w = np.array(list(weights.values()))
        self.bias = bias

    def contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]:
        return self.bias, x[self.feature_names].to_numpy(float) * self.w

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        return self.bias + x[self.feature_names].to_numpy(float) @ self.w

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))


class NoCalibration:
    def transform(self, p: np.ndarray) -> np.ndarray:
        return p


def health_model(weights: dict[str, float], horizon: int = 90,
                 label: str = "label_churn") -> HealthModel:
    metas = [FeatureMeta(n, "usage", "higher_is_riskier", "", f"{n} level", n + " is {value}",
                         False) for n in weights]
    return HealthModel(Linear(weights), NoCalibration(), metas, label, horizon)


def contender(name: str, weights: dict[str, float], *, start: int = 1, session: str = "s1",
              horizon: int = 90, params: dict | None = None, settings: dict | None = None,
              split: str = "time", label: str = "label_churn") -> Contender:
    return Contender(name, f"run-{name}", health_model(weights, horizon, label),
                     {"model": "linear", **SPLIT, **(params or {})},
                     {"healthscore.session": session, "healthscore.split": split},
                     SETTINGS if settings is None else settings, start)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """600 rows of 300 accounts at two snapshots; churn driven by ``signal``, not ``noise``."""
    rng = np.random.default_rng(3)
    n = 600
    signal = rng.normal(size=n)
    y = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 2.5 * signal)))
    return pd.DataFrame({
        "account_id": np.tile(np.arange(300), 2),
        "snapshot_date": [dt.date(2025, 10, 1)] * 300 + [dt.date(2025, 11, 1)] * 300,
        "arr": rng.uniform(1_000, 50_000, n), "signal": signal, "noise": rng.normal(size=n),
        "label_churn": y,
    })


def compare(contenders, rows, n_boot=60):
    return compare_runs(contenders, rows, health_threshold=50.0, bands=DEFAULT_BANDS,
                        n_boot=n_boot, seed=0)


# ---------------------------------------------------------------------------------- verdicts


def test_informative_model_is_better_than_noise_on_every_difference_metric(rows):
    result = compare([contender("noise", {"noise": 1.0}), contender("signal", {"signal": 2.5})],
                     rows)
    diffs = result.differences.set_index("metric")
    assert list(diffs.index) == ["roc_auc", "pr_auc", "recall"]
    assert (diffs["verdict"] == "better").all(), diffs
    assert (diffs["low"] > 0).all()
    roc = result.difference("signal", "roc_auc")
    assert roc["estimate"] == pytest.approx(roc["value"] - roc["reference_value"])
    # and the other way round
    flipped = compare([contender("signal", {"signal": 2.5}), contender("noise", {"noise": 1.0})],
                      rows)
    assert (flipped.differences["verdict"] == "worse").all()


def test_a_run_against_itself_shows_no_significant_difference(rows):
    same = contender("signal", {"signal": 2.5})
    result = compare([same, same], rows)
    assert (result.differences["verdict"] == "no significant difference").all()
    assert (result.differences["estimate"] == 0).all()
    assert result.disagreements.empty


def test_side_by_side_has_every_headline_metric_and_band_churn(rows):
    result = compare([contender("noise", {"noise": 1.0}), contender("signal", {"signal": 2.5})],
                     rows, n_boot=0)
    table = side_by_side(result)
    assert {"roc_auc", "pr_auc", "brier", "ece", "precision", "recall", "lift_top_10pct",
            "band_critical_churn_rate", "band_healthy_churn_rate"} <= set(table["key"])
    roc = table.set_index("key").loc["roc_auc"]
    assert roc["signal"] > roc["noise"]
    recall = formatted_differences(result).set_index("metric").loc["Recall at health < 50"]
    assert recall["difference"].endswith(" pp")  # shares differ in percentage points


def test_every_run_is_banded_by_the_holdout_models_per_segment_edges(rows):
    """A model with per-segment bands bands the rows of a listed segment by that segment's
    edges; the comparison's band tables must count them so, for every run."""
    rows = rows.assign(segment=np.where(rows["account_id"] % 2 == 0, "enterprise", "smb"))
    strict = (Band("Critical", 0, 60), Band("At risk", 60, 80), Band("Moderate", 80, 90),
              Band("Healthy", 90, 100))
    contenders = [contender("noise", {"noise": 1.0}), contender("signal", {"signal": 2.5})]
    result = compare_runs(contenders, rows, health_threshold=50.0, bands=DEFAULT_BANDS,
                          n_boot=0, seed=0, segment_bands={"enterprise": strict})
    plain = compare(contenders, rows, n_boot=0)
    for name, p in result.probabilities.items():
        health = 100 * (1 - p)
        expected = np.bincount(segment_band_index(health, DEFAULT_BANDS, rows["segment"],
                                                  {"enterprise": strict}), minlength=4)
        table = result.evaluations[name].bands
        assert table["accounts"].tolist() == expected.tolist()
        assert set(table["health_range"]) == {"per segment"}
        assert table["accounts"].tolist() != plain.evaluations[name].bands["accounts"].tolist()


def test_disagreements_one_row_per_account_largest_spread_first_with_both_drivers(rows):
    result = compare([contender("noise", {"noise": 1.0}), contender("signal", {"signal": 2.5})],
                     rows, n_boot=0)
    table = result.disagreements
    assert len(table) == 10 and table["account_id"].is_unique
    assert table["spread"].is_monotonic_decreasing
    first = table.iloc[0]
    assert first["spread"] == pytest.approx(abs(first["noise: health"] - first["signal: health"]),
                                            abs=0.051)
    assert {"noise: drivers", "signal: drivers"} <= set(table.columns)
    worse = "signal: drivers" if first["signal: health"] < first["noise: health"] else (
        "noise: drivers")
    assert re.match(r"^-\d+\.\d \w+ is ", first[worse]), first[worse]


# ---------------------------------------------------------------------------------- refusals


def test_a_model_needing_a_feature_the_holdout_lacks_is_refused(rows):
    old = contender("old", {"signal": 2.5, "logins_30d": 0.1, "seats": 0.2}, start=1)
    new = contender("new", {"signal": 2.5}, start=2)
    with pytest.raises(IncompatibleRunsError) as caught:
        compare([old, new], rows)
    message = str(caught.value)
    assert caught.value.exit_code == 3 and isinstance(caught.value, ModelError)
    assert "holdout rows of run run-new" in message
    assert "run run-old (old) needs 2 feature(s) the holdout rows lack: logins_30d, seats" \
        in message


@pytest.mark.parametrize(("change", "expected"), [
    ({"horizon": 60}, "horizon_days 60"),
    ({"label": "label_expansion"}, "predicts label label_expansion"),
    ({"settings": {"features": {"churn": {"definition": "contract", "grace_days": 7}}}},
     "grace_days 7"),
])
def test_different_label_definitions_are_refused(rows, change, expected):
    other = contender("other", {"signal": 1.0}, **change)
    problems = compatibility_problems([contender("a", {"signal": 1.0}), other],
                                      contender("a", {"signal": 1.0}), rows)
    assert len(problems) == 1
    assert expected in problems[0] and "run run-other (other) predicts" in problems[0]
    assert "horizon_days 90, churn contract, grace_days 30" in problems[0]


def test_a_run_fitted_into_the_holdout_period_is_refused(rows):
    later = contender("later", {"signal": 1.0}, session="s0",
                      params={"split_validation": "(2025-08-01, 2025-10-01]"})
    holdout = contender("new", {"signal": 1.0}, start=2)
    problems = compatibility_problems([later, holdout], holdout, rows)
    assert problems == [
        "run run-later (later) was fitted on snapshots up to 2025-10-01, after the holdout "
        "run's cut-off 2025-06-01: its labels reach into the holdout period "
        "(2025-09-01, 2025-12-01], so its scores there are not out of sample"]
    earlier = contender("earlier", {"signal": 1.0}, session="s0",
                        params={"split_validation": "(2024-12-01, 2025-03-01]"})
    assert compatibility_problems([earlier, holdout], holdout, rows) == []


def test_random_split_runs_compare_only_within_their_session(rows):
    holdout = contender("new", {"signal": 1.0}, start=2, split="random")
    same_session = contender("same", {"noise": 1.0}, split="random")
    other_session = contender("other", {"noise": 1.0}, session="s0")
    assert compatibility_problems([same_session, holdout], holdout, rows) == []
    problems = compatibility_problems([other_session, holdout], holdout, rows)
    assert len(problems) == 1 and "split at random" in problems[0]


# ---------------------------------------------------------------------------------- helpers


def test_the_newest_run_is_the_holdout_and_ties_go_to_the_later_one():
    a, b = contender("a", {"x": 1.0}, start=5), contender("b", {"x": 1.0}, start=9)
    assert newest([a, b]) is b and newest([b, a]) is b
    c = contender("c", {"x": 1.0}, start=9)
    assert newest([b, c]) is c


def test_display_names_are_unique_and_say_the_alias():
    def record(run_id: str, model: str) -> RunRecord:
        return RunRecord(run_id, model, {"model": model}, {}, {}, None)

    records = [record("aaaaaaaa11", "lightgbm"), record("bbbbbbbb22", "scorecard"),
               record("aaaaaaaa11", "lightgbm")]
    assert display_names(["@champion", "bbbbbbbb22", "@champion"], records) == [
        "lightgbm@champion", "scorecard bbbbbbbb", "lightgbm@champion #2"]


def test_fitted_through_reads_the_validation_end():
    assert fitted_through(SPLIT) == dt.date(2025, 6, 1)
    assert fitted_through({"split_kind": "random 60/20/20"}) is None


def test_html_embeds_the_plots_and_mlflow_payload_has_valid_names(rows):
    result = compare([contender("noise", {"noise": 1.0}), contender("signal", {"signal": 2.5})],
                     rows, n_boot=20)
    page = render_comparison(result)
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4
    assert "<script" not in page and '<td class="better">better</td>' in page
    assert "Where the runs disagree most" in page and "Health bands side by side" in page
    metrics = comparison_metrics(result)
    assert all(MLFLOW_NAME.match(k) for k in metrics)
    assert {"signal_roc_auc", "noise_roc_auc", "diff_signal_roc_auc",
            "diff_signal_roc_auc_low", "diff_signal_recall_high"} <= set(metrics)
    tags = comparison_tags(result)
    assert tags["healthscore.compared_runs"] == "run-noise,run-signal"
    assert tags["healthscore.kind"] == "comparison"


# ---------------------------------------------------------------------- record: test rows


def test_feature_table_without_dates_keeps_its_test_rows_aligned():
    frame = pd.DataFrame({"account_id": [5, 3, 9, 1], "x": [0.5, 0.3, 0.9, 0.1]})
    result = SimpleNamespace(test_rows=pd.DataFrame({"account_id": [9, 3], "y": [1, 0]}))
    test = record.test_frame_for(frame, None, result)
    assert test["x"].tolist() == [0.9, 0.3] and record.rows_aligned(test, result.test_rows)


def test_rows_that_cannot_be_matched_are_not_called_aligned():
    frame = pd.DataFrame({"account_id": [1, 1, 2], "x": [0.1, 0.2, 0.3]})
    result = SimpleNamespace(test_rows=pd.DataFrame({"account_id": [2], "y": [1]}))
    test = record.test_frame_for(frame, None, result)  # duplicated ids: the first rows stand in
    assert not record.rows_aligned(test, result.test_rows)


# ------------------------------------------------------------- label definitions carried


def carrying(c: Contender, spec: LabelSpec | None, through: str | None = None) -> Contender:
    """``c`` with its model carrying ``spec`` (and ``fitted_through``), as models trained from
    a feature matrix do; the logged settings and split params are left as they were."""
    c.model.label_spec = spec
    if through is not None:
        c.model.info["fitted_through"] = through
    return c


CONTRACT = LabelSpec("label_churn", 90, "contract", grace_days=30)


def test_carried_label_definitions_are_compared_not_the_logged_settings(rows):
    holdout = carrying(contender("a", {"signal": 1.0}), CONTRACT)
    # the logged settings say grace 7, but both models carry the same definition: comparable
    same = carrying(contender("b", {"signal": 1.0}, settings={"features": {"churn": {
        "definition": "contract", "grace_days": 7}}}), CONTRACT)
    assert compatibility_problems([same, holdout], holdout, rows) == []
    inactive = carrying(contender("c", {"signal": 1.0}), LabelSpec(
        "label_churn", 90, "inactivity", activity_events=("login",)))
    problems = compatibility_problems([inactive, holdout], holdout, rows)
    assert len(problems) == 1
    assert "churn inactivity, activity_events ['login']" in problems[0]
    assert "churn contract, grace_days 30" in problems[0]


def test_a_model_without_a_carried_definition_is_compared_on_the_logged_settings(rows):
    holdout = carrying(contender("a", {"signal": 1.0}), CONTRACT)
    older = contender("old", {"signal": 1.0}, settings={"features": {"churn": {
        "definition": "contract", "grace_days": 7}}})
    problems = compatibility_problems([older, holdout], holdout, rows)
    assert len(problems) == 1 and "grace_days 7" in problems[0]


def test_the_carried_fitting_cut_off_wins_over_the_logged_split(rows):
    # the logged split says 2025-06-01; the holdout model carries 2025-02-01, so a run of
    # another session fitted through 2025-03-01 reaches past the holdout's own cut-off
    holdout = carrying(contender("new", {"signal": 1.0}, start=2), CONTRACT, "2025-02-01")
    other = carrying(contender("other", {"signal": 1.0}, session="s0", params={
        "split_validation": "(2024-12-01, 2025-03-01]"}), CONTRACT)
    problems = compatibility_problems([other, holdout], holdout, rows)
    assert len(problems) == 1 and "after the holdout run's cut-off 2025-02-01" in problems[0]
