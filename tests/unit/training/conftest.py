"""Shared fixtures for the training tests: one small synthetic world, built once per session.

The world's parameters are being re-tuned, so tests built on it assert properties and relative
facts (orderings, bounds, identities), never exact metric values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features.engine import build_feature_matrix
from healthscore.features.settings import FeatureConfig
from healthscore.model.artifact import FeatureMeta
from healthscore.synth import generate_world
from healthscore.training.settings import SplitConfig
from healthscore.training.splits import TEST, TRAIN, VALIDATION, TimeSplit, time_split
from healthscore.training.train import feature_meta

HORIZON_DAYS = 90


@dataclass(frozen=True)
class World:
    """The built feature matrix of the synthetic world and its model-input metadata."""

    frame: pd.DataFrame
    metas: list[FeatureMeta]

    @property
    def labelled(self) -> pd.DataFrame:
        """Rows whose label window is fully observed."""
        return self.frame[self.frame["label_observed"].astype(bool)].reset_index(drop=True)


@dataclass(frozen=True)
class Parts:
    """The labelled rows split by time with the default split config."""

    split: TimeSplit
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    @staticmethod
    def y(rows: pd.DataFrame) -> np.ndarray:
        """The churn label as 0/1."""
        return rows["label_churn"].astype(int).to_numpy()


@pytest.fixture(scope="module", autouse=True)
def single_threaded_blas() -> Iterator[None]:
    """One BLAS/OpenMP thread per test module: on a busy shared machine, oversubscribed
    threads make the logistic fits 10-20x slower; results do not depend on it."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def world() -> World:
    """1,500 accounts over 30 months (seed 3), featurised with the default feature config."""
    synth = generate_world(SynthConfig(accounts=1500, months=30, seed=3))
    dataset = dataset_from_frames(synth.tables, synth.end_date)
    matrix = build_feature_matrix(dataset, FeatureConfig())
    return World(matrix.frame, feature_meta(matrix.features))


@pytest.fixture(scope="session")
def parts(world: World) -> Parts:
    """Train / validation / test rows of the default time split (gaps dropped)."""
    labelled = world.labelled
    split = time_split(labelled["snapshot_date"], HORIZON_DAYS, SplitConfig())
    assignment = split.assign(labelled["snapshot_date"])
    train, validation, test = (labelled[assignment == name].reset_index(drop=True)
                               for name in (TRAIN, VALIDATION, TEST))
    return Parts(split, train, validation, test)
