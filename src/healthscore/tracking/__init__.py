"""Every MLflow call of the project lives in this package.

Both training (logging runs, registering models) and serving (loading models) use it, so it
sits at the package root and imports no stage. Three parts: :mod:`.store` (which tracking store,
checked before any work, and the experiment), :mod:`.runs` (logging a run and reading it back)
and :mod:`.registry` (versions, aliases and loading a registered model). Import from here
(``from healthscore import tracking``; ``tracking.configure(...)``).
"""

from healthscore.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    alias_version,
    delete_unaliased_versions,
    describe_model,
    describe_version,
    load_health_model,
    promote,
    resolve_run_id,
    set_alias,
    tag_version,
    version_description,
    version_of_run,
)
from healthscore.tracking.runs import (
    TAG_DATA_FINGERPRINT,
    TAG_HOST,
    TAG_KIND,
    TAG_MODEL,
    TAG_MODEL_FINGERPRINT,
    TAG_PID,
    TAG_SESSION,
    LoggedRun,
    RunRecord,
    active_run_id,
    get_run,
    log_artifacts,
    log_artifacts_to_run,
    log_dataset,
    log_health_model,
    log_metric_steps,
    log_metrics,
    log_params,
    os_uri,
    process_tags,
    read_run,
    run_metrics,
    run_table,
    run_tags,
    set_tags,
    sibling_runs,
    start_run,
    write_json,
)
from healthscore.tracking.store import (
    CONNECT_TIMEOUT,
    DEFAULT_URI,
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    SERVER_SCHEMES,
    TrackingConfig,
    check_store,
    configure,
    sweep_interrupted_runs,
    tracking_uri,
)

__all__ = [
    "CHALLENGER", "CHAMPION", "CONNECT_TIMEOUT", "DEFAULT_URI", "EXPERIMENT_KIND",
    "EXPERIMENT_KIND_TAG", "SERVER_SCHEMES", "TAG_DATA_FINGERPRINT", "TAG_HOST", "TAG_KIND",
    "TAG_MODEL", "TAG_MODEL_FINGERPRINT", "TAG_PID", "TAG_SESSION", "LoggedRun", "RunRecord",
    "TrackingConfig", "active_run_id", "alias_version", "check_store", "configure",
    "delete_unaliased_versions", "describe_model", "describe_version", "get_run",
    "load_health_model", "log_artifacts", "log_artifacts_to_run", "log_dataset",
    "log_health_model", "log_metric_steps", "log_metrics", "log_params", "os_uri", "process_tags",
    "promote", "read_run", "resolve_run_id", "run_metrics", "run_table", "run_tags", "set_alias",
    "set_tags", "sibling_runs", "start_run", "sweep_interrupted_runs", "tag_version",
    "tracking_uri", "version_description", "version_of_run", "write_json",
]
