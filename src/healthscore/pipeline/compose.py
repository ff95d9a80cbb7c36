"""The few functions that wire the stages together; no logic of their own."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

from healthscore.data.dataset import Dataset, open_dataset
from healthscore.data.settings import DataConfig
from healthscore.features.engine import FeatureMatrix, build_feature_matrix
from healthscore.pipeline.config import Config

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
MANIFEST = "world.json"


def data_dir(config: Config) -> Path:
    """Where the demo/synthetic data lives: ``data.dir``, else ``<workdir>/data``."""
    return config.data.dir or config.workdir / "data"


def resolved_data_config(config: Config) -> DataConfig:
    """The data config with ``end_date`` taken from a synthetic world's manifest when unset."""
    data = config.data
    manifest = (data.dir / MANIFEST) if data.dir else None
    if data.end_date is None and manifest is not None and manifest.exists():
        end = dt.date.fromisoformat(json.loads(manifest.read_text())["end_date"])
        log.info("data end date %s read from %s", end, manifest)
        return data.model_copy(update={"end_date": end})
    return data


def synthesize_world(config: Config, out_dir: Path | None = None,
                     progress: Progress | None = None):
    """Generate the configured synthetic world into ``out_dir`` (default: the data dir)."""
    from healthscore.data.synth import synthesize

    return synthesize(config.synth, out_dir or data_dir(config), progress=progress)


def open_data(config: Config) -> Dataset:
    """Load and validate the configured input tables."""
    return open_dataset(resolved_data_config(config))


def build_features(config: Config, dataset: Dataset, progress: Progress | None = None,
                   dates: list[dt.date] | None = None) -> FeatureMatrix:
    """Build (or reuse from cache) the feature matrix."""
    return build_feature_matrix(
        dataset, config.features, dates=dates, cache_dir=config.workdir / "cache",
        progress=progress,
    )
