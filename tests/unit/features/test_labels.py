"""Label definitions: fixed when a feature matrix is built, from the config and the data
(contract churn with a subscriptions table, inactivity without one), whether or not the
matrix came from the cache."""

from __future__ import annotations

from tiny_world import END, tiny_frames

from healthscore.data.dataset import dataset_from_frames
from healthscore.features.engine import build_feature_matrix
from healthscore.features.labels import LabelSpec, label_specs
from healthscore.features.settings import FeatureConfig


def test_each_label_says_the_settings_that_decide_it() -> None:
    config = FeatureConfig.model_validate({
        "horizon_days": 60, "expansion_pct": 0.2,
        "churn": {"grace_days": 14, "inactivity_event_types": ["login", "api_call"]}})
    contract = label_specs(config, "contract")
    assert contract["label_churn"].definition() == {
        "label": "label_churn", "horizon_days": 60, "churn": "contract", "grace_days": 14}
    inactivity = label_specs(config, "inactivity")["label_churn"]
    assert inactivity.definition() == {"label": "label_churn", "horizon_days": 60,
                                       "churn": "inactivity",
                                       "activity_events": ["api_call", "login"]}
    assert contract["label_expansion"].describe() == (
        "label label_expansion, horizon_days 60, expansion_pct 0.2")
    assert LabelSpec("label_churn", 90, "inactivity").definition()["activity_events"] == "all"


def _built_twice(frames: dict, cache_dir) -> tuple:
    """The matrix of ``frames`` built into an empty cache, then again (read from it)."""
    return tuple(build_feature_matrix(dataset_from_frames(frames, END), FeatureConfig(),
                                      cache_dir=cache_dir) for _ in range(2))


def test_the_matrix_carries_the_definition_in_force_fresh_and_from_the_cache(tmp_path) -> None:
    frames = tiny_frames()
    built, again = _built_twice(frames, tmp_path)
    assert not built.from_cache and again.from_cache
    assert built.labels["label_churn"].churn == "contract"  # a subscriptions table: contract
    assert again.labels == built.labels
    no_subscriptions = {k: v for k, v in frames.items() if k != "subscriptions"}
    shop = build_feature_matrix(dataset_from_frames(no_subscriptions, END), FeatureConfig())
    assert shop.labels["label_churn"].definition()["churn"] == "inactivity"


def test_the_matrix_names_the_cache_file_that_holds_its_frame(tmp_path) -> None:
    # write_features copies that file instead of encoding the frame a second time
    import pandas as pd

    frames = tiny_frames()
    built, again = _built_twice(frames, tmp_path)
    assert not built.from_cache and again.from_cache
    assert built.cache_path is not None and built.cache_path.parent == tmp_path
    assert again.cache_path == built.cache_path
    stored = pd.read_parquet(built.cache_path)
    stored["snapshot_date"] = pd.to_datetime(stored["snapshot_date"]).dt.date
    pd.testing.assert_frame_equal(stored, again.frame)
    assert build_feature_matrix(dataset_from_frames(frames, END),
                                FeatureConfig()).cache_path is None
