"""Generate docs/configuration.md from the config models, so the reference cannot drift.

Regenerate with: python -m healthscore.pipeline.config_doc > docs/configuration.md
(tests/unit/pipeline/test_config_doc.py fails when the file is stale).
"""

from __future__ import annotations

import json
import re
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from healthscore.pipeline.config import Config

HEADER = """# Configuration reference

Generated from the pydantic models in `src/healthscore/*/settings.py` and
`src/healthscore/pipeline/config.py` by `python -m healthscore.pipeline.config_doc`; do not edit.
Every key is optional unless marked *required*. Unknown keys are errors, reported with their key
path together with every other problem in the file. `configs/demo.yaml` is the embedded default.
"""


def _type_name(annotation: Any) -> str:
    """A readable type: constraints (``Annotated`` metadata) left out, ``X | None`` kept."""
    if get_origin(annotation) is Annotated:
        return _type_name(get_args(annotation)[0])
    args = get_args(annotation)
    if args and get_origin(annotation) is not Literal:
        inner = [_type_name(a) for a in args]
        if get_origin(annotation) in (Union, UnionType):
            return " | ".join(inner)
        origin = getattr(get_origin(annotation), "__name__", str(get_origin(annotation)))
        return f"{origin}[{', '.join(inner)}]"
    text = re.sub(r"typing\.|pathlib\.|datetime\.|healthscore\.[\w.]+\.", "", str(annotation))
    text = re.sub(r"<class '([\w.]+)'>", r"\1", text)
    return text.replace("NoneType", "null")


def _default(field: Any) -> str:
    if field.is_required():
        return "*required*"
    value = field.default
    if value is PydanticUndefined:
        value = field.default_factory() if field.default_factory else None
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return "see below"
    return f"`{json.dumps(value, default=str)}`"


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    args = get_args(annotation)
    if get_origin(annotation) is dict and args:
        inner, _ = _nested_model(args[-1])
        return inner, ".<name>"
    if get_origin(annotation) is list and args:
        inner, _ = _nested_model(args[0])
        return inner, "[]"
    for arg in args:  # a union such as list[BandConfig] | Literal["auto"]
        inner, suffix = _nested_model(arg)
        if inner is not None:
            return inner, suffix
    return None, ""


def _rows(model: type[BaseModel], prefix: str, sections: list[tuple[str, type[BaseModel]]]):
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested, suffix = _nested_model(field.annotation)
        if nested is not None:
            sections.append((path + suffix, nested))
            if suffix == "":
                continue
        description = (field.description or "").replace("\n", " ").replace("|", "\\|")
        kind = _type_name(field.annotation).replace("|", "\\|")  # a pipe would split the cell
        yield f"| `{path}` | `{kind}` | {_default(field)} | {description} |"


def render_reference() -> str:
    """The whole Markdown reference."""
    out = [HEADER]
    sections: list[tuple[str, type[BaseModel]]] = [("", Config)]
    seen = set()
    while sections:
        path, model = sections.pop(0)
        if (path, model) in seen:
            continue
        seen.add((path, model))
        doc = " ".join((model.__doc__ or "").split())
        out.append(f"\n## `{path or '<root>'}`\n\n{doc}\n")
        out.append("| key | type | default | meaning |\n|---|---|---|---|")
        out.extend(_rows(model, f"{path}." if path else "", sections))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_reference())
