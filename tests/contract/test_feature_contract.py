"""Checks every registered feature must pass (like scikit-learn's parametrize_with_checks)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "features"))
from tiny_world import END, tiny_frames  # noqa: E402

from healthscore.data.dataset import dataset_from_frames  # noqa: E402
from healthscore.errors import ConfigError  # noqa: E402
from healthscore.features import registry  # noqa: E402
from healthscore.features.engine import (  # noqa: E402
    build_feature_matrix,
    candidate_features,
    load_feature_modules,
    select_features,
)
from healthscore.features.families import FAMILIES, SPINE_FAMILY  # noqa: E402
from healthscore.features.metrics import TEMPLATE_NAMES, metric_specs  # noqa: E402
from healthscore.features.settings import (  # noqa: E402
    FeatureConfig,
    FeatureSelection,
    MetricDefinition,
    MetricFeatures,
)

load_feature_modules()
METRIC_SPECS = metric_specs("seats_used", MetricDefinition(), 45) + metric_specs(
    "Open Opps", MetricDefinition(dimension="commercial", direction="higher_is_riskier",
                                  label="Open opportunities", unit="deals"), 30)
SPECS = registry.all_features() + [t.spec for t in registry.all_templates()] + METRIC_SPECS


@pytest.fixture(scope="module")
def matrix():
    return build_feature_matrix(dataset_from_frames(tiny_frames(), END), FeatureConfig())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_declaration_is_complete(spec):
    assert len(spec.description) > 20, "the docstring is the description"
    assert spec.unit
    assert spec.family == SPINE_FAMILY or spec.family in FAMILIES
    assert isinstance(spec.dimension, registry.Dimension)
    assert isinstance(spec.direction, registry.Direction)
    sample = "x" if spec.kind is registry.Kind.CATEGORICAL else 0.25
    sentence = spec.sentence(sample)
    assert sentence and "{" not in sentence
    assert spec.sentence(float("nan")).endswith("no data")


def test_registry_covers_every_dimension():
    assert {s.dimension for s in SPECS} == set(registry.Dimension)


@pytest.mark.parametrize("spec", registry.all_features(), ids=lambda s: s.name)
def test_built_column_has_the_declared_type(matrix, spec):
    column = matrix.frame[spec.name]
    if spec.kind is registry.Kind.NUMERIC:
        assert pd.api.types.is_float_dtype(column)
        if spec.fill is not None:
            assert column.notna().all(), "a filled feature is never missing"
    else:
        assert column.dropna().map(type).eq(str).all()


def metric_columns(matrix) -> list:
    return [s for s in matrix.features if s.family == "metrics"]


def test_metric_features_are_built_for_every_metric_of_the_data(matrix):
    built = {(s.template, s.parameter) for s in metric_columns(matrix)}
    assert built == {(t, m) for t in TEMPLATE_NAMES for m in ("seats_used", "crm_health")}


@pytest.fixture(scope="module")
def history_matrix():
    """Snapshots from April 2023, while the tiny world's metrics are being measured."""
    config = FeatureConfig(snapshots={"start": dt.date(2023, 4, 1)})
    return build_feature_matrix(dataset_from_frames(tiny_frames(), END), config)


@pytest.mark.parametrize("statistic", TEMPLATE_NAMES)
def test_built_metric_column_has_the_declared_type(history_matrix, statistic):
    matrix = history_matrix
    specs = [s for s in metric_columns(matrix) if s.template == statistic]
    assert specs
    for spec in specs:
        column = matrix.frame[spec.name]
        assert pd.api.types.is_float_dtype(column)
        if spec.fill is not None:
            assert column.notna().all() and column.isin([0.0, 1.0]).all()
    values = matrix.frame[specs[0].name].dropna()  # seats_used: measured in every window
    assert len(values)
    sentence = specs[0].sentence(float(values.iloc[0]))
    assert "{" not in sentence and sentence


def test_metric_directions_follow_the_definition():
    by_template = {s.template: s for s in METRIC_SPECS if s.parameter == "Open Opps"}
    riskier = registry.Direction.HIGHER_IS_RISKIER
    assert {t for t, s in by_template.items() if s.direction is riskier} == set(
        TEMPLATE_NAMES) - {"metric_days_since", "metric_stale"}
    assert by_template["metric_last"].dimension is registry.Dimension.COMMERCIAL
    assert by_template["metric_last"].name == "metric_last__open_opps"
    assert by_template["metric_last"].sentence(3) == "Open opportunities: 3"
    braces = metric_specs("x", MetricDefinition(label="Open {deals}"), 30)
    assert braces[0].sentence(3) == "Open {deals}: 3", "a label is text, not a template"
    assert by_template["metric_stale"].unit == "flag"
    assert by_template["metric_slope_90d"].unit == "deals per 30 days"
    default = {s.template: s for s in METRIC_SPECS if s.parameter == "seats_used"}
    assert {s.direction for s in default.values()} == {registry.Direction.NEUTRAL}
    assert default["metric_pct_change_30d"].sentence(-0.25) == "Seats used -25% vs 30 days earlier"


def test_metric_definitions_name_metrics_of_the_data_or_warn(caplog):
    dataset = dataset_from_frames(tiny_frames(), END)
    config = MetricFeatures(definitions={"seat_used": {"direction": "higher_is_healthier"}})
    names = {s.name for s in candidate_features(dataset, config)}
    assert "metric_last__seats_used" in names
    assert ("features.metrics.definitions.seat_used: no such metric in the metrics table; "
            "did you mean 'seats_used'?") in caplog.text


def test_default_definitions_describe_the_synthetic_world_quietly(caplog):
    dataset = dataset_from_frames(tiny_frames(), END)  # has seats_used, lacks the other three
    specs = {s.name: s for s in candidate_features(dataset, MetricFeatures())}
    assert "no such metric" not in caplog.text
    assert specs["metric_last__seats_used"].direction is registry.Direction.HIGHER_IS_HEALTHIER
    assert specs["metric_last__seats_used"].sentence(12) == "12 seats in use"
    assert specs["metric_last__crm_health"].direction is registry.Direction.NEUTRAL


def test_only_defined_and_max_metrics_limit_the_metrics():
    dataset = dataset_from_frames(tiny_frames(), END)
    only = MetricFeatures(only_defined=True, definitions={"crm_health": {}})
    assert {s.parameter for s in candidate_features(dataset, only)
            if s.family == "metrics"} == {"crm_health"}
    capped = MetricFeatures(max_metrics=1)
    assert {s.parameter for s in candidate_features(dataset, capped)
            if s.family == "metrics"} == {"seats_used"}  # the most often measured


def test_metric_features_are_selected_by_statistic_or_dimension():
    dataset = dataset_from_frames(tiny_frames(), END)
    config = MetricFeatures(definitions={"crm_health": {"dimension": "sentiment"}})
    chosen = select_features(candidate_features(dataset, config), FeatureSelection(
        dimensions=["sentiment"], names=["metric_last"], exclude=["metric_stale",
                                                                  "latest_nps"]))
    names = {s.name for s in chosen}
    assert "metric_last__seats_used" in names and "metric_min_90d__crm_health" in names
    assert not {n for n in names if n.startswith(("metric_stale", "metric_min_90d__seats"))}
    with pytest.raises(ConfigError, match="did you mean 'metric_last'"):
        select_features(candidate_features(dataset), FeatureSelection(names=["metric_lst"]))


def test_one_row_per_account_and_snapshot(matrix):
    assert not matrix.frame.duplicated(["account_id", "snapshot_date"]).any()
    assert list(matrix.frame.columns[:2]) == ["account_id", "snapshot_date"]


def test_registry_refuses_duplicates_and_missing_docstrings():
    kwargs = {"family": "usage", "dimension": registry.Dimension.USAGE,
              "direction": registry.Direction.NEUTRAL, "unit": "x", "explain": "{value}"}
    with pytest.raises(registry.RegistryError, match="must match"):
        registry.feature(**kwargs)(lambda: "1")
    with pytest.raises(registry.RegistryError, match="declared twice"):

        def events_30d() -> str:
            """Again."""
            return "1"

        registry.feature(**kwargs)(events_30d)
    with pytest.raises(registry.RegistryError, match="docstring"):

        def undocumented_feature() -> str:
            return "1"

        registry.feature(**kwargs)(undocumented_feature)


def test_unknown_feature_name_suggests_the_closest():
    dataset = dataset_from_frames(tiny_frames(), END)
    with pytest.raises(ConfigError) as err:
        select_features(candidate_features(dataset),
                        FeatureSelection(names=["event_30d", "tickets_30d"], exclude=["latest_np"]))
    message = str(err.value)
    assert "features.select.names[0]: unknown feature 'event_30d'; did you mean 'events_30d'" \
        in message
    assert "features.select.exclude[0]" in message and "'latest_nps'" in message


def test_selection_by_dimension_name_and_exclusion():
    dataset = dataset_from_frames(tiny_frames(), END)
    chosen = select_features(candidate_features(dataset), FeatureSelection(
        dimensions=["sentiment"], names=["events_30d_by_type"], exclude=["nps_change"]))
    names = {s.name for s in chosen}
    assert names == {"latest_nps", "days_since_last_survey", "events_30d_by_type__login",
                     "events_30d_by_type__report"}


def test_cache_reuses_unchanged_inputs_and_rebuilds_changed_ones(tmp_path):
    frames = tiny_frames()
    first = build_feature_matrix(dataset_from_frames(frames, END), FeatureConfig(),
                                 cache_dir=tmp_path)
    again = build_feature_matrix(dataset_from_frames(frames, END), FeatureConfig(),
                                 cache_dir=tmp_path)
    assert not first.from_cache and again.from_cache
    pd.testing.assert_frame_equal(first.frame, again.frame)
    other_config = build_feature_matrix(dataset_from_frames(frames, END),
                                        FeatureConfig(horizon_days=60), cache_dir=tmp_path)
    frames["events"].loc[0, "quantity"] = 99.0
    other_data = build_feature_matrix(dataset_from_frames(frames, END), FeatureConfig(),
                                      cache_dir=tmp_path)
    assert not other_config.from_cache and not other_data.from_cache
    assert len(list(tmp_path.glob("features-*.parquet"))) == 3


def test_leakage_audit_flags_a_feature_that_is_the_label(monkeypatch):
    from healthscore.features.engine import leakage_audit

    frame = pd.DataFrame({"label_observed": True, "label_churn": [True, False] * 20,
                          "leak": [1.0, 0.0] * 20, "noise": [0.3, 0.1, 0.2, 0.4] * 10})
    specs = [registry.FeatureSpec(n, "usage", registry.Dimension.USAGE,
                                  registry.Direction.NEUTRAL, "x", "d", "{value}", "1")
             for n in ("leak", "noise")]
    audit = leakage_audit(frame, specs, 0.95).set_index("feature")
    assert audit.loc["leak", "flagged"] and audit.loc["leak", "auc"] == 1.0
    assert not audit.loc["noise", "flagged"]


def test_scoring_dates_build_a_single_snapshot():
    dataset = dataset_from_frames(tiny_frames(), END)
    matrix = build_feature_matrix(dataset, FeatureConfig(), dates=[dt.date(2024, 3, 15)])
    assert set(matrix.frame.snapshot_date) == {dt.date(2024, 3, 15)}
    assert set(matrix.frame.account_id) == {1, 2}


def test_flags_read_yes_or_no():
    specs = {s.name: s for s in SPECS}
    renewal = specs["in_renewal_window"]
    assert renewal.sentence(1.0) == "In the renewal window: yes"
    assert renewal.sentence(0) == "In the renewal window: no"
    assert renewal.sentence(0.5) == "In the renewal window: 0 (1 = yes)"  # not a flag value
    assert renewal.sentence(float("nan")).endswith("no data")
