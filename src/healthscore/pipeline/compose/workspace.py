"""Where a config's work lives: the data folder, the MLflow store and its artifact root.

Every compose function that reads or writes runs goes through :func:`use_tracking`, so the
store is configured one way (artifacts under ``<workdir>/mlartifacts``) in one place.
"""

from __future__ import annotations

from pathlib import Path

from healthscore.pipeline.config import Config


def data_dir(config: Config) -> Path:
    """Where the demo/synthetic data lives: ``data.dir``, else ``<workdir>/data``."""
    return config.data.dir or config.workdir / "data"


def artifacts_dir(config: Config) -> Path:
    """Where MLflow keeps run artifacts for a local store: ``<workdir>/mlartifacts``."""
    return config.workdir / "mlartifacts"


def use_tracking(config: Config, create: bool = False) -> None:
    """Point MLflow at the config's tracking store; with ``create`` (training) the store and
    experiment may be created and killed runs are swept first (see tracking.configure)."""
    from healthscore import tracking

    tracking.configure(config.training.tracking, artifacts_dir(config), create=create)


def check_tracking(config: Config, create: bool) -> None:
    """Fail fast (bad URL, server down, missing store) before loading data or fitting."""
    from healthscore import tracking

    tracking.check_store(tracking.tracking_uri(config.training.tracking), artifacts_dir(config),
                         create)


def tracking_uri(config: Config) -> str:
    """The MLflow tracking URI in force for this config."""
    from healthscore.tracking import tracking_uri as uri

    return uri(config.training.tracking)
