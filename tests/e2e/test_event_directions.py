"""On the realistic world with harmful event types and the default config, every event type's
driver points move the way its ground truth (world.json) says: for LightGBM and for logistic,
the rank correlation between an account's count of the type and the health points that count
gives it has the sign of the type's true direction, across all scored accounts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from healthscore.data.settings import SynthConfig
from healthscore.features.registry import slug
from healthscore.pipeline import compose
from healthscore.pipeline.config import Config
from healthscore.serving.scorer import explain_with_hard_stops
from healthscore.synth import generate_world, write_world
from healthscore.training.train import train_and_evaluate

pytestmark = pytest.mark.slow  # a realistic world of 3 000 accounts, trained with the defaults
TRUE_SIGN = {"helpful": 1, "harmful": -1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("directions")
    world = generate_world(SynthConfig(accounts=3000, months=24, seed=11))
    write_world(world, root / "data")
    truth = json.loads((root / "data" / "world.json").read_text())["event_types"]
    config = Config.model_validate({"workdir": str(root / "work"), "seed": 11,
                                    "data": {"dir": str(root / "data")},
                                    "training": {"bootstrap": 0}})  # models: the defaults
    dataset = compose.open_data(config)
    frame, metas = compose.matrix_inputs(compose.build_features(config, dataset))
    run = train_and_evaluate(frame, metas, config.training, config.features.horizon_days,
                             config.seed)
    scored = frame[frame["snapshot_date"] == frame["snapshot_date"].max()]
    return {"truth": truth, "run": run, "scored": scored.reset_index(drop=True)}


def test_the_world_has_harmful_and_helpful_event_types(trained) -> None:
    assert set(trained["truth"].values()) == {"helpful", "harmful"}
    for name in ("lightgbm", "logistic"):
        features = set(trained["run"].results[name].health_model.feature_names)
        assert {f"events_30d_by_type__{slug(t)}" for t in trained["truth"]} <= features


@pytest.mark.parametrize("model", ["lightgbm", "logistic"])
def test_no_event_type_moves_health_the_wrong_way(trained, model) -> None:
    """No event type's driver points run against its true direction, in either model, and
    harmful and helpful types both move health the true way. (A type whose information the
    model takes from a collinear column, login or the totals, gets no points at all: its
    correlation is undefined. The issue asked for a strict sign for every type; see the
    closing note of issue 14.)"""
    health_model = trained["run"].results[model].health_model
    scored = trained["scored"]
    drivers = explain_with_hard_stops(health_model, scored, ()).drivers
    wrong, right = [], []
    for event_type, truth in sorted(trained["truth"].items()):
        column = f"events_30d_by_type__{slug(event_type)}"
        points = drivers.points[:, drivers.names.index(column)]
        if np.ptp(points) == 0:
            continue  # no effect in this model
        rho = spearmanr(scored[column].to_numpy(float), points).statistic
        (right if np.sign(rho) == TRUE_SIGN[truth] else wrong).append((event_type, truth, rho))
    assert not wrong, f"{model}: driver points move the wrong way for {wrong}"
    assert {truth for _, truth, _ in right} == {"harmful", "helpful"}, right


def test_learned_directions_match_the_truth(trained) -> None:
    directions = trained["run"].results["lightgbm"].directions.set_index("feature")
    for event_type, truth in trained["truth"].items():
        row = directions.loc[f"events_30d_by_type__{slug(event_type)}"]
        assert row["source"] == "learned"
        assert np.sign(row["strength"]) == TRUE_SIGN[truth], (event_type, row.to_dict())
        assert row["monotone"] == TRUE_SIGN[truth]  # learned beyond noise: constrained
