"""Every MLflow call of the project lives here.

Both training (logging runs, registering models) and serving (loading models) use it, so it
sits at the package root. Tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else
``training.tracking.uri``, else ``sqlite:///mlflow.db`` in the working directory (MLflow's own
default; the model registry and aliases work on it without a server). Artifacts go to
``<workdir>/mlartifacts``, or with a tracking server (``http(s)://``) to the server's artifact
store, so that other machines can load the models (see docs/mlflow-server.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.errors import ConfigError, ModelError, TrackingUnavailableError
from healthscore.redact import redact_config, redact_url, register_url, scrub, url_problem
from healthscore.settings import Section

log = logging.getLogger(__name__)


class TrackingConfig(Section):
    """MLflow: ``uri`` (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the
    working directory), experiment and registered model names."""

    uri: str | None = None
    experiment: str = "healthscore"
    model_name: str = "healthscore"

DEFAULT_URI = "sqlite:///mlflow.db"
SERVER_SCHEMES = ("http://", "https://")
CHALLENGER, CHAMPION = "challenger", "champion"
TAG_SESSION = "healthscore.session"
TAG_MODEL = "healthscore.model"
TAG_KIND = "healthscore.kind"
TAG_MODEL_FINGERPRINT = "healthscore.model_fingerprint"
TAG_DATA_FINGERPRINT = "healthscore.data_fingerprint"
# MLflow 3's UI opens an experiment without this tag as a GenAI experiment; the value is the
# UI's ExperimentKind.CUSTOM_MODEL_DEVELOPMENT (mlflow/server/js, "custom_model_development").
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
TAG_HOST, TAG_PID = "healthscore.host", "healthscore.pid"


def tracking_uri(config: TrackingConfig) -> str:
    """The tracking URI in force (environment first)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or config.uri or DEFAULT_URI


def configure(config: TrackingConfig, artifact_root: Path, create: bool = True) -> str:
    """Point MLflow at the tracking store, after checking that it answers, and select the
    experiment.

    ``create``: training may create the store and the experiment, and first marks runs left
    RUNNING by killed processes of this machine as FAILED (:func:`sweep_interrupted_runs`).
    Without it (scoring, drift, reports) a missing store or experiment is an error instead of a
    new empty one.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow retries an unreachable server 7 times with backoff (over 4 minutes): fail sooner
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    uri = tracking_uri(config)
    register_url(uri)
    check_store(uri, artifact_root, create)
    import mlflow

    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(config.experiment) is None:
        if not create:
            raise ModelError(f"the tracking store {redact_url(uri)} has no experiment "
                             f"{config.experiment!r}: train a model first (healthscore train) "
                             "or check training.tracking.experiment")
        location = artifact_root.resolve().as_uri() if "://" not in str(artifact_root) else str(
            artifact_root)
        # A tracking server stores artifacts where its --artifacts-destination says, so that
        # every machine can load the models; a local store keeps them in <workdir>.
        server = uri.startswith(SERVER_SCHEMES)
        mlflow.create_experiment(config.experiment, artifact_location=None if server else location,
                                 tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    experiment = mlflow.set_experiment(config.experiment)
    if create and experiment is not None and EXPERIMENT_KIND_TAG not in (experiment.tags or {}):
        # experiments created before the tag existed: mark them too (the UI reads it on open)
        from mlflow import MlflowClient

        MlflowClient().set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG,
                                          EXPERIMENT_KIND)
    if create:
        sweep_interrupted_runs(config.experiment, config.model_name)
    return uri


CONNECT_TIMEOUT = 10  # seconds to wait for a tracking server or database to answer


def check_store(uri: str, artifact_root: Path, create: bool) -> None:
    """Fail fast and clearly when the tracking store is unusable, before any work.

    A URL with a raw ``@`` in its password is bad config; a server or database that does not
    answer within :data:`CONNECT_TIMEOUT` is retryable; a missing local store is an error for
    commands that only read (and for training when its artifacts show it existed).
    """
    register_url(uri)
    problem = url_problem(uri)
    if problem:
        raise ConfigError("training.tracking.uri", [
            f"training.tracking.uri (or $MLFLOW_TRACKING_URI): {redact_url(uri)}: {problem}"])
    if uri.startswith(SERVER_SCHEMES):
        _check_server(uri)
    elif uri.startswith("sqlite:"):
        _check_sqlite(uri, artifact_root, create)
    elif "://" in uri and "+" in uri.split("://", 1)[0] or uri.startswith(
            ("postgresql", "mysql", "mssql")):
        _check_database(uri, create)


def _check_server(uri: str) -> None:
    import urllib.error
    import urllib.request

    head, _, rest = uri.partition("://")
    host = rest.rsplit("@", 1)[-1] if "@" in rest.split("/", 1)[0] else rest
    try:
        urllib.request.urlopen(f"{head}://{host.rstrip('/')}/health", timeout=CONNECT_TIMEOUT)
    except urllib.error.HTTPError:
        return  # it answered (an auth proxy may refuse /health): reachable
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailableError(
            f"the MLflow tracking server {redact_url(uri)} does not answer ({reason}); nothing "
            "was fitted or written. Run again when it is up (or fix "
            "training.tracking.uri / $MLFLOW_TRACKING_URI).") from None


def _sqlite_path(uri: str) -> Path | None:
    rest = uri.split(":", 1)[1].lstrip("/") if uri.startswith("sqlite:") else ""
    if not rest or rest == ":memory:":
        return None
    return Path("/" + rest) if uri.startswith("sqlite:////") else Path(rest)


def _check_sqlite(uri: str, artifact_root: Path, create: bool) -> None:
    path = _sqlite_path(uri)
    if path is None or path.exists():
        return
    if not create:
        raise ModelError(f"no MLflow tracking store at {uri} ({path} does not exist in "
                         f"{Path.cwd()}); train a model first, run from the folder that holds "
                         "it, or set training.tracking.uri / $MLFLOW_TRACKING_URI. Scoring never "
                         "creates an empty store.")
    root = Path(str(artifact_root))
    if root.is_dir() and any(root.iterdir()):
        raise ModelError(f"the MLflow tracking store {path} is missing but {root} holds "
                         "artifacts of earlier runs: restore the store (or point "
                         "training.tracking.uri at it); to start afresh, remove the artifacts "
                         "folder too.")


def _check_database(uri: str, create: bool) -> None:
    import sqlalchemy

    args = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}} if uri.startswith(
        "postgresql") else {}
    try:
        engine = sqlalchemy.create_engine(uri, **args)
        with engine.connect() as connection:
            has_store = sqlalchemy.inspect(connection).has_table("alembic_version")
    except (sqlalchemy.exc.ArgumentError, ImportError, ValueError) as exc:
        raise ConfigError("training.tracking.uri", [
            f"training.tracking.uri: {redact_url(uri)} is not a usable database URL "
            f"({scrub(str(exc))})"]) from None
    except sqlalchemy.exc.OperationalError as exc:
        reason = (scrub(str(exc.orig)).strip().splitlines() or ["no answer"])[0]
        raise TrackingUnavailableError(
            f"the MLflow tracking database {redact_url(uri)} does not answer ({reason}); "
            "nothing was fitted or written. Run again when it is up.") from None
    finally:
        with contextlib.suppress(NameError):
            engine.dispose()
    if not has_store and not create:
        raise ModelError(f"the database {redact_url(uri)} holds no MLflow tracking store: "
                         "train a model first. Scoring never creates an empty store.")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_tags() -> dict[str, str]:
    """Tags naming the process of a run, so a later run can tell whether it still lives."""
    return {TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid())}


def sweep_interrupted_runs(experiment_name: str, model_name: str) -> list[str]:
    """Mark runs left RUNNING by a dead process of this machine FAILED, and delete the
    registered versions they created that no alias points at. Returns the run ids swept."""
    import mlflow
    from mlflow import MlflowClient

    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    client = MlflowClient()
    host = socket.gethostname()
    swept = []
    for run in client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'",
                                  max_results=1000):
        tags = run.data.tags
        pid = tags.get(TAG_PID, "")
        if tags.get(TAG_HOST) != host or not pid.isdigit() or _process_alive(int(pid)):
            continue
        client.set_terminated(run.info.run_id, status="FAILED")
        swept.append(run.info.run_id)
    if swept:
        _delete_unaliased_versions(client, model_name, set(swept))
        log.warning("marked %d run(s) of killed processes FAILED: %s", len(swept),
                    ", ".join(r[:12] for r in swept))
    return swept


def _delete_unaliased_versions(client, model_name: str, run_ids: set[str]) -> None:
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return
    for mv in versions:
        if mv.run_id in run_ids and not getattr(mv, "aliases", None):
            client.delete_model_version(model_name, mv.version)
            log.warning("deleted version %s of %s: its training run was killed", mv.version,
                        model_name)


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    pins = ["mlflow", "pandas", "numpy", "scikit-learn", "lightgbm", "pyarrow", "duckdb",
            "pydantic", "pyyaml", "scipy"]
    return [f"{name}=={version(name)}" for name in pins]


def _package_dir() -> str:
    import healthscore

    return str(Path(healthscore.__file__).parent)


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


def log_params(params: dict[str, Any]) -> None:
    """Log params (stringified, truncated to MLflow's limit)."""
    import mlflow

    flat = {k: scrub(redact_url(str(v)))[:6000] for k, v in params.items()}
    for chunk in _chunks(list(flat.items()), 90):
        mlflow.log_params(dict(chunk))


def log_metrics(metrics: dict[str, float]) -> None:
    """Log finite metrics in batches."""
    import math

    import mlflow

    clean = {k: float(v) for k, v in metrics.items()
             if v is not None and math.isfinite(float(v))}
    for chunk in _chunks(list(clean.items()), 900):
        mlflow.log_metrics(dict(chunk))


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def log_artifacts(files: dict[str, bytes | str]) -> None:
    """Log in-memory artifacts under their relative names."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        _materialise(files, Path(tmp))
        mlflow.log_artifacts(tmp)


def _materialise(files: dict[str, bytes | str], root: Path) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(scrub(content))


def set_tags(tags: dict[str, str]) -> None:
    """Tag the active run."""
    import mlflow

    mlflow.set_tags({k: scrub(redact_url(str(v))) for k, v in tags.items()})


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
        mlflow.log_input(dataset, context=context)


def describe_version(model_name: str, version: str, description: str) -> None:
    """Set the description of a registered model version (shown in the registry UI)."""
    from mlflow import MlflowClient

    MlflowClient().update_model_version(model_name, version, description=description)


def version_description(model_name: str, version: str) -> str:
    """The description of a registered model version ('' when none)."""
    from mlflow import MlflowClient

    return MlflowClient().get_model_version(model_name, version).description or ""


def run_tags(run_id: str) -> dict[str, str]:
    """The tags of a run."""
    return dict(_get_run(run_id).data.tags)


def start_run(name: str, tags: dict[str, str], nested: bool = False):
    """Start a (possibly nested) run; use as a context manager."""
    import mlflow

    return mlflow.start_run(run_name=name, tags=tags | process_tags(), nested=nested)


def active_run_id() -> str:
    """Id of the active run."""
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise ModelError("no active MLflow run")
    return run.info.run_id


def set_alias(model_name: str, alias: str, version: str) -> None:
    """Point ``alias`` of the registered model at ``version``."""
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(model_name, alias, version)


def version_of_run(model_name: str, run_id: str) -> str:
    """The registered version created from ``run_id`` (registering it when needed)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    for mv in client.search_model_versions(f"name = '{model_name}'"):
        if mv.run_id == run_id:
            return str(mv.version)
    run = _get_run(run_id)
    uri = run.data.tags.get("healthscore.model_uri")
    if not uri:
        raise ModelError(f"run {run_id} has no logged health model to register")
    return str(mlflow.register_model(uri, model_name).version)


def promote(model_name: str, run_id: str, alias: str = CHAMPION) -> str:
    """Move ``alias`` (default champion) to the version built by ``run_id``."""
    version = version_of_run(model_name, run_id)
    set_alias(model_name, alias, version)
    log.info("%s@%s -> version %s (run %s)", model_name, alias, version, run_id)
    return version


def alias_version(model_name: str, alias: str) -> tuple[str, str] | None:
    """(version, run_id) behind an alias, or None when it is not set."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        mv = MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    return str(mv.version), str(mv.run_id)


def _get_run(run_id: str):
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


def resolve_run_id(ref: str, model_name: str) -> str:
    """A run id from a run id or an alias reference such as ``@champion``."""
    if ref.startswith("@"):
        found = alias_version(model_name, ref[1:])
        if found is None:
            raise ModelError(f"alias {ref} of model {model_name!r} is not set")
        return found[1]
    return ref


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


def read_run(run_id: str, into: Path | None = None) -> RunRecord:
    """Read a run's params, metrics, tags and download its artifacts (except the model)."""
    import mlflow

    run = _get_run(run_id)
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


def sibling_runs(run: RunRecord) -> list[RunRecord]:
    """Other model runs of the same training session (metrics only, no artifacts)."""
    import mlflow

    session = run.tags.get(TAG_SESSION)
    if not session:
        return []
    frame = mlflow.search_runs(
        experiment_ids=[_get_run(run.run_id).info.experiment_id],
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


def load_health_model(model_uri: str):
    """Load the HealthModel inside a logged pyfunc (``runs:/...`` or ``models:/name@alias``)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        pyfunc = mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        raise ModelError(f"cannot load model {model_uri!r} from {os_uri()}: {scrub(str(exc))}"
                         ) from None
    return pyfunc.unwrap_python_model().health_model


def describe_model(model_uri: str) -> dict[str, str]:
    """Registered name, version and run id behind a model URI (empty strings when unknown)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    info = {"uri": model_uri, "name": "", "version": "", "run_id": ""}
    try:
        if model_uri.startswith("models:/"):
            ref = model_uri[len("models:/"):]
            if "@" in ref:
                name, alias = ref.split("@", 1)
                mv = client.get_model_version_by_alias(name, alias)
            elif "/" in ref:
                name, version = ref.split("/", 1)
                mv = client.get_model_version(name, version)
            else:
                return info
            info.update(name=mv.name, version=str(mv.version), run_id=str(mv.run_id))
        elif model_uri.startswith("runs:/"):
            info["run_id"] = model_uri[len("runs:/"):].split("/", 1)[0]
    except MlflowException as exc:
        raise ModelError(f"cannot resolve model {model_uri!r} at {os_uri()}: {scrub(str(exc))}"
                         ) from None
    return info


def write_json(name: str, payload: Any) -> None:
    """Log a JSON artifact in the active run."""
    log_artifacts({name: json.dumps(redact_config(payload), indent=1, default=str)})


def log_artifacts_to_run(run_id: str, files: dict[str, bytes | str]) -> None:
    """Add in-memory artifacts to a finished run."""
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        _materialise(files, Path(tmp))
        MlflowClient().log_artifacts(run_id, tmp)


def run_metrics(run_id: str) -> dict[str, float]:
    """The latest value of every metric of a run."""
    return dict(_get_run(run_id).data.metrics)


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


def log_metric_steps(name: str, values: list[float]) -> None:
    """Log one metric per step (0, 1, ...) in the active run; non-finite values are skipped."""
    import math

    import mlflow

    for step, value in enumerate(values):
        if value is not None and math.isfinite(float(value)):
            mlflow.log_metric(name, float(value), step=step)


def tag_version(model_name: str, version: str, tags: dict[str, str]) -> None:
    """Set tags on a registered model version (shown in the registry UI)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, scrub(redact_url(str(value))))
