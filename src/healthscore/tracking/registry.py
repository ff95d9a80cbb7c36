"""The model registry: aliases (@challenger, @champion), versions of runs, their
descriptions and tags, and loading a registered health model."""

from __future__ import annotations

import logging

from healthscore.errors import ModelError
from healthscore.interrupt import uninterrupted
from healthscore.redact import redact_url, scrub
from healthscore.tracking.runs import get_run, os_uri

log = logging.getLogger(__name__)


CHALLENGER, CHAMPION = "challenger", "champion"


@uninterrupted
def set_alias(model_name: str, alias: str, version: str) -> None:
    """Point ``alias`` of the registered model at ``version``."""
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(model_name, alias, version)


@uninterrupted
def version_of_run(model_name: str, run_id: str) -> str:
    """The registered version created from ``run_id`` (registering it when needed)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    for mv in client.search_model_versions(f"name = '{model_name}'"):
        if mv.run_id == run_id:
            return str(mv.version)
    run = get_run(run_id)
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


@uninterrupted
def alias_version(model_name: str, alias: str) -> tuple[str, str] | None:
    """(version, run_id) behind an alias, or None when it is not set."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        mv = MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    return str(mv.version), str(mv.run_id)


def resolve_run_id(ref: str, model_name: str) -> str:
    """A run id from a run id or an alias reference such as ``@champion``."""
    if ref.startswith("@"):
        found = alias_version(model_name, ref[1:])
        if found is None:
            raise ModelError(f"alias {ref} of model {model_name!r} is not set")
        return found[1]
    return ref


@uninterrupted
def describe_version(model_name: str, version: str, description: str) -> None:
    """Set the description of a registered model version (shown in the registry UI)."""
    from mlflow import MlflowClient

    MlflowClient().update_model_version(model_name, version, description=description)


@uninterrupted
def version_description(model_name: str, version: str) -> str:
    """The description of a registered model version ('' when none)."""
    from mlflow import MlflowClient

    return MlflowClient().get_model_version(model_name, version).description or ""


@uninterrupted
def tag_version(model_name: str, version: str, tags: dict[str, str]) -> None:
    """Set tags on a registered model version (shown in the registry UI)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, scrub(redact_url(str(value))))


@uninterrupted
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


@uninterrupted
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


@uninterrupted
def delete_unaliased_versions(client, model_name: str, run_ids: set[str]) -> None:
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
