"""Temporary conditions (tracking server or database down, history locked) exit 75 quickly,
before any fitting or writing, and secrets stay out of every message (even with -v)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import yaml
from conftest import World, base_config, files_under, flat, invoke

from healthscore.redact import secret_forms

PASSWORD = "s3cr@t:pa/ss"
ENCODED = "s3cr%40t%3Apa%2Fss"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_file(world: World, tmp: Path, **updates) -> Path:
    config = base_config(world, tmp)
    config["data"]["dir"] = str(world.data)
    for key, value in updates.items():
        node = config
        *parents, last = key.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def no_fitting(monkeypatch):
    """Record any call that would fit a model or build the feature matrix."""
    calls: list[str] = []
    import healthscore.features.engine as engine
    import healthscore.training.train as train

    monkeypatch.setattr(train, "train_and_evaluate", lambda *a, **k: calls.append("fit"))
    monkeypatch.setattr(engine, "build_feature_matrix", lambda *a, **k: calls.append("build"))
    return calls


def assert_no_secret(text: str) -> None:
    for form in secret_forms(PASSWORD) | secret_forms(ENCODED):
        assert form not in text, f"secret {form!r} leaked"


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_train_with_the_tracking_server_down_exits_75_before_fitting(
        world, tmp_path, monkeypatch, no_fitting, verbose):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://scorer:{ENCODED}@127.0.0.1:{closed_port()}")
    started = time.perf_counter()
    result = invoke([*verbose, "-c", str(config_file(world, tmp_path)), "train"])
    seconds = time.perf_counter() - started
    text = flat(result.output)
    assert result.exit_code == 75, text
    assert "does not answer" in text and "scorer:***@127.0.0.1" in text
    assert seconds < 30 and no_fitting == []
    assert files_under(tmp_path / "work") == []
    assert_no_secret(result.output)


def test_train_with_the_tracking_database_down_exits_75(world, tmp_path, monkeypatch,
                                                         no_fitting):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    url = f"postgresql+psycopg2://ml:{ENCODED}@127.0.0.1:{closed_port()}/mlflow"
    result = invoke(["-v", "-c", str(config_file(world, tmp_path,
                                                 training__tracking__uri=url)), "train"])
    assert result.exit_code == 75, flat(result.output)
    assert "tracking database" in flat(result.output) and no_fitting == []
    assert_no_secret(result.output)


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_score_with_the_history_database_down_exits_75_before_any_work(
        world, tmp_path, monkeypatch, no_fitting, verbose):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.tracking_uri)
    url = f"postgresql+psycopg2://scorer:{ENCODED}@127.0.0.1:{closed_port()}/history"
    result = invoke([*verbose, "-c", str(config_file(world, tmp_path, scoring__history=url)),
                     "score"])
    text = flat(result.output)
    assert result.exit_code == 75, text
    assert "score history postgresql+psycopg2://scorer:***@127.0.0.1" in text
    assert no_fitting == [] and files_under(tmp_path / "work") == []
    assert_no_secret(result.output)


def test_a_raw_at_sign_in_a_password_is_refused_without_echoing_it(world, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world.tracking_uri)
    url = f"postgresql+psycopg2://scorer:{PASSWORD}@db.internal/history"
    result = invoke(["-v", "-c", str(config_file(world, tmp_path, scoring__history=url)),
                     "score"])
    assert result.exit_code == 2 and "percent-encode" in flat(result.output)
    assert_no_secret(result.output)


def test_score_and_drift_never_create_a_tracking_store(world, tmp_path, monkeypatch):
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    for command in ("score", "drift", "report"):
        args = [command, "@champion"] if command == "report" else [command]
        result = invoke(["-c", str(config_file(world, tmp_path)), *args])
        assert result.exit_code == 3, flat(result.output)
        assert "no MLflow tracking store" in flat(result.output)
        assert not store.exists()


@pytest.mark.slow
def test_a_tracking_server_that_never_answers_times_out_within_30_seconds(
        world, tmp_path, monkeypatch, no_fitting):
    with socket.socket() as server:  # accepts connections (the kernel does) but never replies
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.getsockname()[1]}")
        started = time.perf_counter()
        result = invoke(["-c", str(config_file(world, tmp_path)), "train"])
        seconds = time.perf_counter() - started
    assert result.exit_code == 75, flat(result.output)
    assert seconds <= 30 and no_fitting == []


def test_train_refuses_a_new_store_beside_the_artifacts_of_an_old_one(world, tmp_path,
                                                                      monkeypatch, no_fitting):
    """A deleted mlflow.db must not silently become an empty store that train registers into."""
    (tmp_path / "work" / "mlartifacts" / "1").mkdir(parents=True)
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    result = invoke(["-c", str(config_file(world, tmp_path)), "train"])
    assert result.exit_code == 3, flat(result.output)
    assert "is missing but" in flat(result.output) and "mlartifacts" in flat(result.output)
    assert not store.exists() and no_fitting == []
