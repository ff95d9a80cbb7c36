"""The configuration reference is generated from the models and must not go stale."""

from __future__ import annotations

from pathlib import Path

from healthscore.pipeline.config import Config
from healthscore.pipeline.config_doc import render_reference

DOC = Path(__file__).parents[3] / "docs" / "configuration.md"


def test_reference_is_up_to_date():
    assert DOC.read_text() == render_reference(), (
        "docs/configuration.md is stale: python -m healthscore.pipeline.config_doc "
        "> docs/configuration.md")


def test_reference_lists_every_top_level_section_and_nested_keys():
    text = render_reference()
    for name in Config.model_fields:
        assert f"`{name}`" in text
    assert "`training.lightgbm.num_leaves`" in text
    assert "`features.churn.grace_days`" in text
    assert "`data.tables.<name>`" in text
