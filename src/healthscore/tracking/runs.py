"""Logging a run and reading it back: params, metrics, tags, artifacts, the logged health
model and its inputs, and the tags that name the process of a run."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore.errors import ModelError
from healthscore.interrupt import deferred, uninterrupted
from healthscore.redact import redact_config, redact_url, scrub

TAG_SESSION = "healthscore.session"
TAG_MODEL = "healthscore.model"
TAG_KIND = "healthscore.kind"
TAG_MODEL_FINGERPRINT = "healthscore.model_fingerprint"
TAG_DATA_FINGERPRINT = "healthscore.data_fingerprint"
TAG_HOST, TAG_PID = "healthscore.host", "healthscore.pid"


def process_tags() -> dict[str, str]:
    """Tags naming the process of a run, so a later run can tell whether it still lives."""
    return {TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid())}


@contextlib.contextmanager
def start_run(name: str, tags: dict[str, str], nested: bool = False) -> Iterator[Any]:
    """A (possibly nested) run as a context manager: FINISHED when the block completes, FAILED
    when it raises (SIGTERM included). Starting and ending it are not cut by a SIGTERM (see
    :mod:`healthscore.interrupt`)."""
    import mlflow

    active = None
    try:
        with deferred():  # a SIGTERM held here is raised once the run exists: it ends FAILED
            active = mlflow.start_run(run_name=name, tags=tags | process_tags(), nested=nested)
        yield active
    except BaseException as exc:
        if active is not None:
            with deferred():
                active.__exit__(type(exc), exc, exc.__traceback__)
        raise
    with deferred():
        active.__exit__(None, None, None)


def active_run_id() -> str:
    """Id of the active run."""
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise ModelError("no active MLflow run")
    return run.info.run_id


@uninterrupted
def log_params(params: dict[str, Any]) -> None:
    """Log params (stringified, truncated to MLflow's limit)."""
    import mlflow

    flat = {k: scrub(redact_url(str(v)))[:6000] for k, v in params.items()}
    for chunk in _chunks(list(flat.items()), 90):
        mlflow.log_params(dict(chunk))


@uninterrupted
def log_metrics(metrics: dict[str, float]) -> None:
    """Log finite metrics in batches."""
    import math

    import mlflow

    clean = {k: float(v) for k, v in metrics.items()
             if v is not None and math.isfinite(float(v))}
    for chunk in _chunks(list(clean.items()), 900):
        mlflow.log_metrics(dict(chunk))


@uninterrupted
def log_metric_steps(name: str, values: list[float]) -> None:
    """Log one metric per step (0, 1, ...) in the active run; non-finite values are skipped."""
    import math

    import mlflow

    for step, value in enumerate(values):
        if value is not None and math.isfinite(float(value)):
            mlflow.log_metric(name, float(value), step=step)


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


@uninterrupted
def set_tags(tags: dict[str, str]) -> None:
    """Tag the active run."""
    import mlflow

    mlflow.set_tags({k: scrub(redact_url(str(v))) for k, v in tags.items()})


@uninterrupted
def log_artifacts(files: dict[str, bytes | str]) -> None:
    """Log in-memory artifacts under their relative names."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        _materialise(files, Path(tmp))
        mlflow.log_artifacts(tmp)


@uninterrupted
def log_artifacts_to_run(run_id: str, files: dict[str, bytes | str]) -> None:
    """Add in-memory artifacts to a finished run."""
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        _materialise(files, Path(tmp))
        MlflowClient().log_artifacts(run_id, tmp)


def _materialise(files: dict[str, bytes | str], root: Path) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(scrub(content))


def write_json(name: str, payload: Any) -> None:
    """Log a JSON artifact in the active run."""
    log_artifacts({name: json.dumps(redact_config(payload), indent=1, default=str)})


@uninterrupted
def log_dataset(frame: pd.DataFrame, name: str, context: str, digest: str,
                target: str | None = None) -> None:
    """Record ``frame`` as an input of the active run (``mlflow.log_input``): its name, schema,
    size and our content fingerprint as digest; ``context`` says its role ("training", "test").
    The rows themselves are not uploaded."""
    import warnings

    import mlflow

    with warnings.catch_warnings():  # MLflow's hint about integer columns, not for us
        # (the schema is inferred lazily, when log_input records it)
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(frame, name=name, digest=digest, targets=target)
        if isinstance(getattr(type(dataset), "schema", None), functools.cached_property):
            # the same schema from a few rows: MLflow reads every value in Python (about a
            # minute for the 1M training rows of a 100k-account world)
            dataset.__dict__["schema"] = mlflow.data.from_pandas(schema_rows(frame)).schema
        mlflow.log_input(dataset, context=context)


def schema_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The few rows of ``frame`` MLflow infers the same column schema from as from all of
    them: the first row, each column's first missing value (a column with one is not
    required) and, in a column of Python objects, the first value of each type."""
    picks = {0} if len(frame) else set()
    for k in range(frame.shape[1]):
        column = frame.iloc[:, k]
        missing = column.isna().to_numpy()
        if missing.any():
            picks.add(int(missing.argmax()))
        if column.dtype.kind == "O":
            picks.update(np.flatnonzero(~column.map(type).duplicated().to_numpy()).tolist())
    return frame.iloc[sorted(picks)]


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    pins = ["mlflow", "pandas", "numpy", "scikit-learn", "lightgbm", "pyarrow", "duckdb",
            "pydantic", "pyyaml", "scipy"]
    return [f"{name}=={version(name)}" for name in pins]


def _package_dir() -> str:
    import healthscore

    return str(Path(healthscore.__file__).parent)


@uninterrupted
def log_health_model(python_model: Any, input_example: pd.DataFrame,
                     output_example: pd.DataFrame, registered_name: str | None = None,
                     optional: list[str] | None = None):
    """Log the pyfunc health model (with its own copy of the package) in the active run;
    the ``optional`` input columns (an id passed through) may be left out by callers."""
    import warnings

    import mlflow
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec, Schema

    with warnings.catch_warnings():  # the id column is whole numbers and never missing;
        # every numeric model input is logged as a float, so MLflow's hint does not apply
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer",
                                UserWarning)
        signature = infer_signature(input_example, output_example)
    if optional:
        inputs = Schema([ColSpec(c.type, c.name, required=c.name not in optional)
                         for c in signature.inputs.inputs])
        signature = ModelSignature(inputs, signature.outputs)
    return mlflow.pyfunc.log_model(
        name="model", python_model=python_model, signature=signature,
        input_example=input_example, pip_requirements=_pip_requirements(),
        code_paths=[_package_dir()], registered_model_name=registered_name,
    )


@dataclass
class LoggedRun:
    """What a model run wrote, for later steps (alias, report)."""

    run_id: str
    model_uri: str
    version: str | None = None


@dataclass
class RunRecord:
    """A finished run as read back from MLflow."""

    run_id: str
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    artifact_dir: Path
    start_time: int = 0  # milliseconds since the epoch, as MLflow stores it


@uninterrupted
def read_run(run_id: str, into: Path | None = None) -> RunRecord:
    """Read a run's params, metrics, tags and download its artifacts (except the model)."""
    import mlflow

    run = get_run(run_id)
    target = into or Path(tempfile.mkdtemp(prefix=f"run-{run_id[:8]}-"))
    target.mkdir(parents=True, exist_ok=True)
    from mlflow import MlflowClient

    for item in MlflowClient().list_artifacts(run_id):
        if item.path != "model":
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=item.path,
                                                dst_path=str(target))
    return RunRecord(run_id, run.info.run_name or run_id, dict(run.data.params),
                     dict(run.data.metrics), dict(run.data.tags), target,
                     int(run.info.start_time or 0))


@uninterrupted
def sibling_runs(run: RunRecord) -> list[RunRecord]:
    """Other model runs of the same training session (metrics only, no artifacts)."""
    import mlflow

    session = run.tags.get(TAG_SESSION)
    if not session:
        return []
    frame = mlflow.search_runs(
        experiment_ids=[get_run(run.run_id).info.experiment_id],
        filter_string=f"tags.`{TAG_SESSION}` = '{session}' and tags.`{TAG_KIND}` = 'model'",
    )
    out = []
    for _, row in frame.iterrows():
        if row["run_id"] == run.run_id:
            continue
        metrics = {k[len("metrics."):]: v for k, v in row.items()
                   if k.startswith("metrics.") and pd.notna(v)}
        tags = {k[len("tags."):]: v for k, v in row.items() if k.startswith("tags.")}
        out.append(RunRecord(row["run_id"], tags.get("mlflow.runName", ""), {}, metrics, tags,
                             Path()))
    return out


@uninterrupted
def run_tags(run_id: str) -> dict[str, str]:
    """The tags of a run."""
    return dict(get_run(run_id).data.tags)


@uninterrupted
def run_metrics(run_id: str) -> dict[str, float]:
    """The latest value of every metric of a run."""
    return dict(get_run(run_id).data.metrics)


@uninterrupted
def run_table(run_id: str, artifact_path: str) -> pd.DataFrame | None:
    """A CSV artifact of a run as a frame (None when the run has no such artifact)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(run_id=run_id,
                                                        artifact_path=artifact_path,
                                                        dst_path=tmp)
        except (MlflowException, OSError):
            return None
        return pd.read_csv(local)


@uninterrupted
def get_run(run_id: str):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_run(run_id)
    except MlflowException as exc:
        raise ModelError(f"no MLflow run {run_id!r} at {os_uri()}: {scrub(str(exc))}") from None


def os_uri() -> str:
    """The tracking URI MLflow is using, its password masked (for messages)."""
    import mlflow

    return redact_url(mlflow.get_tracking_uri())
