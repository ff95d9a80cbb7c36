"""The root configuration, composed from each layer's section, and its YAML loader."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError

from healthscore.data.settings import DataConfig, SynthConfig
from healthscore.errors import ConfigError
from healthscore.features.settings import FeatureConfig
from healthscore.redact import register_secrets_of
from healthscore.serving.settings import MonitoringConfig, ScoringConfig
from healthscore.settings import Section
from healthscore.training.settings import TrainingConfig


class Config(Section):
    """Everything a run needs. The defaults are the embedded demo (configs/demo.yaml)."""

    workdir: Path = Field(
        default=Path("healthscore-out"),
        description="Where generated data, caches, scores and reports go.",
    )
    seed: int = 7
    data: DataConfig = Field(default_factory=DataConfig)
    synth: SynthConfig = Field(default_factory=SynthConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif parts:
            parts.append(f".{item}")
        else:
            parts.append(str(item))
    return "".join(parts) or "<root>"


def _sibling_keys(loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the config model found at ``loc`` (for did-you-mean hints)."""
    annotation: Any = Config
    for part in loc:
        model = _model_in(annotation)
        fields = getattr(model, "model_fields", {})
        if isinstance(annotation, type) and part in fields:
            annotation = fields[part].annotation
        elif get_origin(annotation) in (dict, list) or get_args(annotation):
            annotation = get_args(_strip_optional(annotation))[-1]  # a key or index: its value
        else:
            return []
    return list(getattr(_model_in(annotation), "model_fields", {}))


def _strip_optional(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if get_origin(annotation) in (Union, UnionType) and len(args) == 1 else (
        annotation)


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside an annotation, looking through Optional/list/dict values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(get_args(annotation)):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _unknown_name(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=2, cutoff=0.5)
    if close:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
    elif allowed:
        hint = f"expected one of {allowed}"
    else:
        hint = "remove it or check its spelling"
    return f"unknown name {name!r}; {hint}"


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into ``key.path: message; got value`` lines."""
    problems = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = _unknown_name(str(loc[-1]), _sibling_keys(loc[:-1]))
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            expected = str(err.get("ctx", {}).get("expected", ""))
            message = _unknown_name(str(err.get("input")), re.findall(r"'([^']+)'", expected))
        got = err.get("input")
        quiet = err["type"] in ("extra_forbidden", "missing") or "[key]" in err["loc"]
        suffix = "" if quiet else f"; got {got!r}"
        if isinstance(got, dict):
            suffix = ""
        problems.append(f"{_key_path(loc)}: {message}{suffix}")
    return problems


# Keys that moved: (section, key) -> the message naming where the setting lives now.
MOVED_KEYS = {
    ("scoring", "bands"): "moved to training.bands: the bands are frozen into the model at "
    "training, so the MLflow pyfunc, `healthscore score` and the validation report band "
    "health alike; move this list under training: and retrain (scoring.band_overrides stay "
    "where they are)",
}


def _moved_keys(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(``raw`` without the keys that moved, a problem line for each one found)."""
    problems = []
    for (section, key), message in MOVED_KEYS.items():
        block = raw.get(section)
        if isinstance(block, dict) and key in block:
            problems.append(f"{section}.{key}: {message}")
            raw = raw | {section: {k: v for k, v in block.items() if k != key}}
    return raw, problems


def config_from_mapping(raw: dict[str, Any], source: str = "<config>") -> Config:
    """Validate a mapping into a :class:`Config`, raising one :class:`ConfigError` that lists
    every problem (moved keys included)."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"<root>: must be a mapping of keys; got {type(raw).__name__}"])
    raw, problems = _moved_keys(raw)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += describe_validation_error(exc)
    if problems:
        raise ConfigError(source, problems) from None
    return config


def load_config(path: str | Path | None) -> Config:
    """Load and validate a YAML config; ``None`` returns the embedded demo defaults.

    Relative paths inside the file stay relative to the working directory, like every CLI.
    """
    if path is None:
        register_secrets_of({})  # the environment's (MLFLOW_TRACKING_URI)
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), ["<file>: no such file"])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"<file>: cannot read it ({exc})"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"<file>: not valid YAML: {_yaml_problem(exc, path)}"]
                          ) from None
    if raw is None:  # an empty file must not silently mean the demo defaults
        raise ConfigError(str(path), ["<file>: the file is empty (no keys); give at least "
                                      "data: and workdir:, or leave out -c for the demo"])
    register_secrets_of(raw if isinstance(raw, dict) else {})
    return config_from_mapping(raw, str(path))


def _yaml_problem(exc: yaml.YAMLError, path: Path) -> str:
    """PyYAML's message with the file named instead of ``<unicode string>``."""
    return str(exc).replace('"<unicode string>"', str(path)).replace("<unicode string>",
                                                                        str(path))
