"""Where MLflow keeps runs and models: the tracking store in force, checked before any work.

Tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else ``training.tracking.uri``, else
``sqlite:///mlflow.db`` in the working directory (MLflow's own default; the model registry and
aliases work on it without a server). Artifacts go to ``<workdir>/mlartifacts``, or with a
tracking server (``http(s)://``) to the server's artifact store, so that other machines can
load the models (see docs/mlflow-server.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from pathlib import Path

from healthscore.errors import ConfigError, ModelError, TrackingUnavailableError
from healthscore.interrupt import uninterrupted
from healthscore.io import process_alive
from healthscore.redact import redact_url, register_url, scrub, url_problem, without_credentials
from healthscore.settings import Section
from healthscore.tracking.registry import delete_unaliased_versions
from healthscore.tracking.runs import TAG_HOST, TAG_PID

log = logging.getLogger(__name__)


class TrackingConfig(Section):
    """MLflow: ``uri`` (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the
    working directory), experiment and registered model names."""

    uri: str | None = None
    experiment: str = "healthscore"
    model_name: str = "healthscore"


DEFAULT_URI = "sqlite:///mlflow.db"
SERVER_SCHEMES = ("http://", "https://")
# MLflow 3's UI opens an experiment without this tag as a GenAI experiment; the value is the
# UI's ExperimentKind.CUSTOM_MODEL_DEVELOPMENT (mlflow/server/js, "custom_model_development").
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
CONNECT_TIMEOUT = 10  # seconds to wait for a tracking server or database to answer


def tracking_uri(config: TrackingConfig) -> str:
    """The tracking URI in force (environment first)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or config.uri or DEFAULT_URI


@uninterrupted
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


@uninterrupted
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

    try:
        urllib.request.urlopen(f"{without_credentials(uri).rstrip('/')}/health",
                               timeout=CONNECT_TIMEOUT)
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


@uninterrupted
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
        if tags.get(TAG_HOST) != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        client.set_terminated(run.info.run_id, status="FAILED")
        swept.append(run.info.run_id)
    if swept:
        delete_unaliased_versions(client, model_name, set(swept))
        log.warning("marked %d run(s) of killed processes FAILED: %s", len(swept),
                    ", ".join(r[:12] for r in swept))
    return swept
