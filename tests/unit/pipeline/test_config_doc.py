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


def test_types_read_without_their_constraints_and_keep_every_table_row_whole():
    import re
    from typing import Annotated, Literal

    from pydantic import Field

    from healthscore.pipeline.config_doc import _type_name

    bounded = Annotated[float, Field(ge=0, le=1)]
    assert _type_name(bounded | None) == "float | null"
    assert _type_name(dict[Literal["a", "b"], bounded] | None) == (
        "dict[Literal['a', 'b'], float] | null")
    assert _type_name(list[int] | Literal["auto"]) == "list[int] | Literal['auto']"
    # a pipe inside a cell is escaped, so every key row has exactly four cells
    rows = [line for line in render_reference().splitlines() if line.startswith("| `")]
    assert rows and all(len(re.split(r"(?<!\\)\|", row)) == 6 for row in rows), [
        row for row in rows if len(re.split(r"(?<!\\)\|", row)) != 6][:3]
