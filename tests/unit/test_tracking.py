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


def test_the_logged_dataset_schema_from_a_few_rows_equals_mlflows_from_every_row() -> None:
    """log_dataset infers the schema from schema_rows (MLflow reads every value in Python):
    types and required flags are the same as from the whole frame."""
    import datetime as dt

    import mlflow
    import numpy as np
    import pandas as pd

    from healthscore.tracking.runs import schema_rows

    n = 3000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "account_id": [f"a{i}" for i in range(n)],
        "snapshot_date": [dt.date(2025, 1, 1) + dt.timedelta(days=i % 90) for i in range(n)],
        "events_30d": rng.normal(size=n),
        "seats": rng.integers(1, 50, n),
        "label_churn": rng.random(n) < 0.1,
        "plan": pd.Series(rng.choice(["basic", "pro"], n), dtype=object),
    })
    frame.loc[2500, "events_30d"] = np.nan  # a missing value far down: not required
    frame.loc[2700, "plan"] = None
    sample = schema_rows(frame)
    assert len(sample) <= 5
    expected = mlflow.data.from_pandas(frame).schema
    assert expected is not None and mlflow.data.from_pandas(sample).schema == expected
    required = {c.name: c.required for c in expected.inputs}
    assert not required["events_30d"] and not required["plan"] and required["seats"]
    # a column MLflow cannot type (another type far down): no schema either way
    frame["mixed"] = pd.Series([1] * (n - 1) + ["x"], dtype=object)
    assert mlflow.data.from_pandas(frame).schema is None
    assert mlflow.data.from_pandas(schema_rows(frame)).schema is None
