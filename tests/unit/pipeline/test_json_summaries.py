"""The --json summaries a scheduler reads (score, drift, monitor, retrain): one JSON object on
stdout with the exit code, and nothing else."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner

from healthscore.pipeline import cli as cli_module
from healthscore.training.gate import GateCheck


def test_emit_json_writes_plain_numbers_and_null_for_nan(capsys):
    import numpy as np

    cli_module._emit_json({"a": np.float64(0.5), "b": float("nan"), "c": [np.int64(3)],
                           "d": Path("/x/y.html"), "e": dt.date(2025, 1, 1)})
    assert json.loads(capsys.readouterr().out) == {"a": 0.5, "b": None, "c": [3],
                                                   "d": "/x/y.html", "e": "2025-01-01"}


def test_retrain_summary_says_what_the_gate_decided():
    outcome = SimpleNamespace(
        champion_before=("1", "run-old"), promoted_version=None,
        session=SimpleNamespace(best="lightgbm"), candidate_run_id="run-new",
        decision=SimpleNamespace(checks=[GateCheck("a new model or new data", False,
                                               "model and data unchanged since the champion")]),
        run=SimpleNamespace(results={"lightgbm": SimpleNamespace(test=SimpleNamespace(
            overall={"roc_auc": 0.8, "pr_auc": 0.3, "recall": 0.6, "precision": 0.4,
                     "ece": 0.01}))}),
        reports={"lightgbm": Path("r.html")}, comparison_path=None)
    summary = cli_module.retrain_summary(outcome, "healthscore")
    assert summary["exit_code"] == 4 and summary["promoted"] is False
    assert summary["champion_before"] == {"version": "1", "run_id": "run-old"}
    assert summary["checks"][0]["status"] == "fail"
    assert summary["test_metrics"]["recall"] == 0.6
    json.dumps(summary)  # serialisable as it is


def test_drift_summary_lists_what_reached_the_threshold():
    report = pd.DataFrame({"feature": ["logins_30d", "health", "nps"], "psi": [0.4, 0.05, 0.01],
                           "status": ["act", "stable", "stable"]})
    summary = cli_module.drift_summary(report, {"csv": Path("d.csv")}, {"version": "2"},
                                       dt.date(2025, 6, 1), "act", ["logins_30d"])
    assert summary["exit_code"] == 5
    assert summary["status_counts"] == {"stable": 2, "act": 1}
    assert summary["health_psi"] == pytest.approx(0.05)
    assert summary["top"][0] == {"feature": "logins_30d", "psi": 0.4, "status": "act"}


def test_monitor_summary_before_anything_matured():
    outcome = SimpleNamespace(live=None, window_days=120, scored_dates=[dt.date(2025, 6, 1)],
                              paths={}, model={}, run_id="")
    summary = cli_module.monitor_summary(outcome, dt.date(2025, 7, 1))
    assert summary == {"command": "monitor", "as_of": "2025-07-01", "window_days": 120,
                       "scored_dates": ["2025-06-01"], "exit_code": 0, "matured_dates": [],
                       "checks": []}


def test_json_flag_is_offered_by_every_command_a_scheduler_runs():
    runner = CliRunner()
    for command in ("score", "drift", "monitor", "retrain"):
        result = runner.invoke(cli_module.cli, [command, "--help"])
        assert result.exit_code == 0
        assert "--json" in result.output, command
