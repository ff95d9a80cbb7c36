"""Drivers name the cause: on the synthetic world, accounts hit by a known shock get the
matching health dimension as their dominant risk dimension.

It needs a strong signal, so it runs on the ``easy`` world (the realistic one hides part of
what drives churn on purpose) with its thresholds unchanged.

The world's ground truth records each account's shocks by month. A shock is scored at the first
snapshot where the data shows it: a champion's departure and a P1 outage the month after, a
failed payment two months after (it fails on its due date, the month after its invoice).
"""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.data.dataset import dataset_from_frames
from healthscore.data.settings import SynthConfig
from healthscore.features.engine import build_feature_matrix
from healthscore.pipeline.config import Config
from healthscore.serving.scorer import score_accounts
from healthscore.synth import generate_world
from healthscore.training.splits import TRAIN, VALIDATION
from healthscore.training.train import assign_splits, feature_meta, fit_health_model

SHOCKS = {  # ground-truth column: (dimension expected, months until the data shows it)
    "champion_left": ("relationship", 1),
    "p1_outage": ("support", 1),
    "payment_failure": ("billing", 2),
}
SCORED_SNAPSHOTS = 8


@pytest.fixture(scope="module")
def shocked() -> pd.DataFrame:
    """Per shocked account and scoring date: the shock and the dominant risk dimension."""
    # LightGBM constrained on declared directions only: with the default `directed` (learned
    # directions constrained too) and the lifetime family, 19 of 38 P1-outage accounts get no
    # material risk dimension at all (match 0.77 vs 0.89 with `declared`). Open in issue 14.
    config = Config.model_validate({"training": {"lightgbm": {"monotone": "declared"}}})
    world = generate_world(SynthConfig(accounts=3000, months=24, seed=5, difficulty="easy"))
    matrix = build_feature_matrix(dataset_from_frames(world.tables, world.end_date),
                                  config.features)
    frame = matrix.frame
    labelled = frame[frame["label_observed"]]
    split, _ = assign_splits(labelled, config.training, 90, config.seed)
    model = fit_health_model("lightgbm", labelled[split == TRAIN],
                             labelled[split == VALIDATION], feature_meta(matrix.features),
                             config.training, 90, config.seed)
    truth = world.ground_truth.assign(month=lambda t: pd.to_datetime(t["month"]),
                                      account_id=lambda t: t["account_id"].astype(str))
    rows = []
    for day in sorted(frame["snapshot_date"].unique())[-SCORED_SNAPSHOTS:]:
        scores = score_accounts(model, frame[frame["snapshot_date"] == day], config.scoring,
                                day)
        scores["account_id"] = scores["account_id"].astype(str)
        for shock, (_, lag) in SHOCKS.items():
            hit = truth[(truth["month"] == pd.Timestamp(day) - pd.DateOffset(months=lag))
                        & truth[shock]]
            found = scores.merge(hit[["account_id"]], on="account_id")
            rows.append(found[["account_id", "dominant_risk_dimension", "risk_1_dimension"]]
                        .assign(shock=shock, as_of=day))
    return pd.concat(rows, ignore_index=True)


def test_shocked_accounts_get_the_matching_top_risk_dimension(shocked) -> None:
    expected = shocked["shock"].map({k: v[0] for k, v in SHOCKS.items()})
    match = shocked["dominant_risk_dimension"] == expected
    per_shock = match.groupby(shocked["shock"]).agg(["mean", "size"])
    assert (per_shock["size"] >= 25).all(), per_shock  # enough cases to judge each shock
    assert match.mean() >= 0.80, per_shock
    assert (per_shock["mean"] >= 0.65).all(), per_shock
