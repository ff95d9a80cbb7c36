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
                        lambda name, artifact_location=None, tags=None: calls.append(
                            artifact_location))
    monkeypatch.setattr(tracking.store, "_check_server", lambda uri: None)  # no server here
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


def test_the_experiment_opens_as_a_model_development_experiment(monkeypatch, tmp_path):
    """MLflow 3's UI shows an experiment without ``mlflow.experimentKind`` as a GenAI one; new
    experiments get the tag, and so do ones created before it existed."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.configure(tracking.TrackingConfig(experiment="new"), tmp_path / "mlartifacts")
    assert mlflow.get_experiment_by_name("new").tags[
        "mlflow.experimentKind"] == "custom_model_development"
    mlflow.create_experiment("old")
    assert "mlflow.experimentKind" not in mlflow.get_experiment_by_name("old").tags
    tracking.configure(tracking.TrackingConfig(experiment="old"), tmp_path / "mlartifacts")
    assert mlflow.get_experiment_by_name("old").tags[
        "mlflow.experimentKind"] == "custom_model_development"
