"""The feature catalogue is generated from the registry and must not go stale."""

from __future__ import annotations

from pathlib import Path

from healthscore.features.registry import all_features
from healthscore.pipeline.feature_doc import render_feature_catalog

DOC = Path(__file__).parents[3] / "docs" / "features.md"


def test_catalogue_is_up_to_date():
    assert DOC.read_text() == render_feature_catalog(), (
        "docs/features.md is stale: python -m healthscore.pipeline.feature_doc > docs/features.md")


def test_catalogue_documents_every_feature_and_its_missing_value():
    text = render_feature_catalog()
    for spec in all_features():
        assert f"`{spec.name}`" in text
    assert "| `latest_nps` | higher is healthier | score 0-10 | unknown |" in text
    assert "| `events_30d` | higher is healthier | events | 0 |" in text


def test_catalogue_documents_the_metric_trend_templates():
    from healthscore.features.metrics import TEMPLATE_NAMES

    text = render_feature_catalog()
    for name in TEMPLATE_NAMES:
        assert f"| `{name}__<metric>` |" in text
    assert "| `metric_stale__<metric>` | learned | flag | 1 |" in text
    assert "{{" not in text
