"""healthscore.api: every documented name exists with a docstring, and the workflow wrappers
hand the CLI's defaults and arguments to the functions the CLI runs."""

from __future__ import annotations

import datetime as dt
import inspect
import re
import typing
from pathlib import Path
from types import SimpleNamespace

import pytest

from healthscore import api
from healthscore.errors import ConfigError
from healthscore.pipeline import compose

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_exported_name_exists_and_is_documented():
    documented = DOCS.read_text()
    for name in api.__all__:
        value = getattr(api, name)
        assert re.search(rf"`[^`]*\b{name}\b[^`]*`", documented), (
            f"{name} is exported but docs/api.md does not mention it")
        if callable(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_the_api_s_own_functions_have_complete_type_hints():
    own = [f for _, f in inspect.getmembers(api, inspect.isfunction)
           if f.__module__ == api.__name__ and not f.__name__.startswith("_")]
    assert {f.__name__ for f in own} >= {"load_config", "build_features", "train", "score",
                                         "monitor"}
    for function in own:
        hints = typing.get_type_hints(function)
        missing = [p for p in inspect.signature(function).parameters if p not in hints]
        assert not missing and "return" in hints, (function.__name__, missing)


def test_every_function_the_docs_name_is_exported():
    names = set(re.findall(r"^\| `(\w+)\(", DOCS.read_text(), flags=re.M))
    assert names and names <= set(api.__all__), names - set(api.__all__)


def test_load_config_merges_overrides_into_the_file(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text(f"workdir: {tmp_path / 'work'}\ntraining:\n  models: [logistic]\n")
    config = api.load_config(path, overrides={"training": {"bootstrap": 0}, "seed": 3})
    assert config.training.models == ["logistic"]  # the file's key survives the merge
    assert config.training.bootstrap == 0 and config.seed == 3
    assert config.workdir == tmp_path / "work"
    assert api.load_config(path).training.bootstrap != 0
    assert api.load_config().training.models == api.config_from_mapping({}).training.models


def test_a_bad_override_is_one_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.bootstrap"):
        api.load_config(None, overrides={"training": {"bootstrap": -1}})


def test_score_and_monitor_default_to_the_day_after_the_data(monkeypatch):
    calls = []
    monkeypatch.setattr(compose, "score", lambda *a: calls.append(("score", a)) or "scored")
    monkeypatch.setattr(compose, "monitor", lambda *a: calls.append(("monitor", a)) or "live")
    config, dataset = object(), SimpleNamespace(end_date=dt.date(2025, 11, 30))
    assert api.score(config, dataset) == "scored"
    assert api.monitor(config, dataset) == "live"
    api.score(config, dataset, dt.date(2025, 6, 1), "models:/x@champion")
    assert calls == [("score", (config, dataset, dt.date(2025, 12, 1), None)),
                     ("monitor", (config, dataset, dt.date(2025, 12, 1))),
                     ("score", (config, dataset, dt.date(2025, 6, 1), "models:/x@champion"))]


def test_train_returns_each_model_s_run_and_the_best(monkeypatch):
    results = {"logistic": SimpleNamespace(validation_pr_auc=0.31),
               "lightgbm": SimpleNamespace(validation_pr_auc=0.35)}
    session = SimpleNamespace(runs={"logistic": SimpleNamespace(run_id="r-log"),
                                    "lightgbm": SimpleNamespace(run_id="r-gbm")},
                              best="lightgbm", registered_version="2", champion_set=False,
                              session_run_id="s1")
    seen = {}

    def fake_train(config, frame, metas, fingerprint, claim_champion, labels):
        seen.update(frame=frame, metas=metas, fingerprint=fingerprint, claim=claim_champion,
                    labels=labels)
        return SimpleNamespace(results=results), session, {"logistic": Path("a.html")}

    monkeypatch.setattr(compose, "train", fake_train)
    monkeypatch.setattr(compose, "matrix_inputs", lambda m: ("frame", ["meta"]))
    matrix = SimpleNamespace(labels={"label_churn": "what churn means"})
    training = api.train(object(), matrix, SimpleNamespace(fingerprint="fp"),
                         claim_champion=False)
    assert seen == {"frame": "frame", "metas": ["meta"], "fingerprint": "fp", "claim": False,
                    "labels": {"label_churn": "what churn means"}}
    assert training.best == "lightgbm" and training.best_run_id == "r-gbm"
    assert training.registered_version == "2" and not training.champion_set
    table = training.table()
    assert table.loc["logistic", "run"] == "r-log"
    assert table.loc["lightgbm", "validation PR-AUC"] == 0.35
    assert table.loc["logistic", "report"] == Path("a.html")
    assert table.loc["lightgbm", "report"] is None
