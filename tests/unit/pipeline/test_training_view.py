"""The training summary a person reads: each model's test ROC-AUC with its interval, and the
expansion readiness model's line when the run fitted one."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from healthscore.pipeline import views

KEYS = ("roc_auc", "pr_auc", "recall", "precision", "lift_top_10pct", "ece", "brier")


def _result(name: str, auc: float, low: float, high: float) -> SimpleNamespace:
    overall = dict.fromkeys(KEYS, 0.5) | {"roc_auc": auc}
    intervals = pd.DataFrame({"metric": ["roc_auc"], "low": [low], "high": [high]})
    return SimpleNamespace(name=name, test=SimpleNamespace(overall=overall, intervals=intervals))


def test_roc_auc_reads_with_its_interval_and_without_one() -> None:
    assert views.roc_auc_with_interval(_result("m", 0.81234, 0.797, 0.826)) == \
        "0.812 [0.797-0.826]"
    assert views.roc_auc_with_interval(_result("m", 0.81234, np.nan, np.nan)) == "0.812"


def _run(expansion) -> SimpleNamespace:
    return SimpleNamespace(results={"lightgbm": _result("lightgbm", 0.85, 0.8, 0.9)},
                           expansion=expansion, split=None, split_kind="random",
                           sizes={"train": 10, "test": 5}, notes=[], seconds={})


def _print(run, monkeypatch, capsys) -> str:
    session = SimpleNamespace(best="lightgbm", runs={"lightgbm": SimpleNamespace(
        run_id="abcdef1234567890")}, registered_version=1, champion_set=False)
    monkeypatch.setattr(views, "print_fitting", lambda run: None)
    monkeypatch.setattr(views.console, "width", 200)
    views.print_training(run, session, {})
    return capsys.readouterr().out


def test_the_training_summary_names_the_expansion_model_only_when_fitted(monkeypatch,
                                                                          capsys) -> None:
    with_it = _print(_run(_result("lightgbm", 0.812, 0.797, 0.826)), monkeypatch, capsys)
    assert "expansion readiness (lightgbm, label_expansion): test ROC-AUC 0.812 " \
           "[0.797-0.826]" in with_it
    assert "0.850 [0.800-0.900]" in with_it
    assert "expansion readiness" not in _print(_run(None), monkeypatch, capsys)
