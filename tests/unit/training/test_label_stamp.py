"""Every model of a training run carries its label's definition (from the feature matrix)
and the last snapshot its fit or calibration saw, in the registered model and in the
evaluation fit, so a comparison of runs reads them instead of re-parsing logged settings."""

from __future__ import annotations

from healthscore.features.labels import label_specs
from healthscore.features.settings import FeatureConfig
from healthscore.training.settings import TrainingConfig
from healthscore.training.train import split_rows, train_and_evaluate


def test_registered_and_evaluation_models_carry_the_label_and_the_cut_off(world) -> None:
    config = TrainingConfig.model_validate({"models": ["logistic"], "bootstrap": 0})
    labels = label_specs(FeatureConfig(), "contract")
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0, labels=labels)
    result = run.results["logistic"]
    _, _, split, _ = split_rows(world.labelled, config, 90, 0)
    assert result.refit  # the registered model is the refit, the evaluation fit beside it
    for model in (result.health_model, result.evaluated_model):
        assert model.label_spec == labels["label_churn"]
        assert model.info["fitted_through"] == str(split.validation_end)


def test_without_labels_a_model_carries_none(world) -> None:
    config = TrainingConfig.model_validate({"models": ["logistic"], "bootstrap": 0,
                                            "refit": False})
    run = train_and_evaluate(world.frame, world.metas, config, 90, seed=0)
    assert run.results["logistic"].health_model.label_spec is None
