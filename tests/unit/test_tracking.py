"""Where a new experiment keeps its artifacts: in <workdir> with a local store, on the server
with a tracking server (so that other machines can load the models)."""

from __future__ import annotations

import mlflow
import pytest

from healthscore import tracking


@pytest.fixture
def created(monkeypatch):
    """Record create_experiment calls instead of talking to a store."""
    calls = []
    monkeypatch.setattr(mlflow, "set_tracking_uri", lambda uri: None)
    monkeypatch.setattr(mlflow, "get_experiment_by_name", lambda name: None)
    monkeypatch.setattr(mlflow, "set_experiment", lambda name: None)
    monkeypatch.setattr(mlflow, "create_experiment",
                        lambda name, artifact_location=None: calls.append(artifact_location))
    monkeypatch.setattr(tracking, "_check_server", lambda uri: None)  # no server here
    return calls


@pytest.mark.parametrize("uri", ["http://mlflow.internal:5000", "https://mlflow.example.com"])
def test_a_tracking_server_keeps_the_artifacts(created, monkeypatch, tmp_path, uri):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert tracking.configure(tracking.TrackingConfig(), tmp_path / "mlartifacts") == uri
    assert created == [None]  # the server's --artifacts-destination decides


def test_a_local_store_keeps_the_artifacts_in_the_workdir(created, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.configure(tracking.TrackingConfig(), tmp_path / "mlartifacts")
    assert created == [(tmp_path / "mlartifacts").resolve().as_uri()]
