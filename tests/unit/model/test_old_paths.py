"""Models registered before :mod:`healthscore.model` existed were pickled with serving's module
paths (the artifact, its bands and drift reference, and the pyfunc wrapper whose class path
MLflow pickles): those paths must still resolve to today's classes."""

from __future__ import annotations

import pickle

import pytest

from healthscore.model.artifact import FeatureMeta, HealthModel
from healthscore.model.bands import Band
from healthscore.model.pyfunc import HealthScorePyfunc
from healthscore.model.reference import DriftReference, FeatureReference

OLD_PATHS = [
    ("healthscore.serving.model", "HealthModel", HealthModel),
    ("healthscore.serving.model", "FeatureMeta", FeatureMeta),
    ("healthscore.serving.bands", "Band", Band),
    ("healthscore.serving.drift", "DriftReference", DriftReference),
    ("healthscore.serving.drift", "FeatureReference", FeatureReference),
    ("healthscore.serving.pyfunc", "HealthScorePyfunc", HealthScorePyfunc),
]


@pytest.mark.parametrize(("module", "name", "today"), OLD_PATHS,
                         ids=[f"{m}.{n}" for m, n, _ in OLD_PATHS])
def test_a_pickle_naming_the_old_path_loads_todays_class(module, name, today):
    # protocol 0 GLOBAL opcode: exactly how a pickle refers to a class by module and name
    assert pickle.loads(f"c{module}\n{name}\n.".encode()) is today


def test_an_old_band_pickle_loads_as_a_band():
    old = pickle.dumps(Band("At risk", 25, 50), protocol=0).replace(
        b"healthscore.model.bands", b"healthscore.serving.bands")
    assert b"healthscore.serving.bands" in old
    assert pickle.loads(old) == Band("At risk", 25, 50)
