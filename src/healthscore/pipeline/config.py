"""The root configuration, composed from each layer's section, and its YAML loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from healthscore.data.settings import DataConfig, SynthConfig
from healthscore.errors import ConfigError
from healthscore.features.settings import FeatureConfig
from healthscore.settings import Section


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


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into ``key.path: message; got value`` lines."""
    problems = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (remove it or check its spelling)"
        got = err.get("input")
        suffix = "" if err["type"] in ("extra_forbidden", "missing") else f"; got {got!r}"
        if isinstance(got, dict):
            suffix = ""
        problems.append(f"{_key_path(loc)}: {message}{suffix}")
    return problems


def config_from_mapping(raw: dict[str, Any], source: str = "<config>") -> Config:
    """Validate a mapping into a :class:`Config`, raising one :class:`ConfigError`."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"<root>: must be a mapping of keys; got {type(raw).__name__}"])
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, describe_validation_error(exc)) from None


def load_config(path: str | Path | None) -> Config:
    """Load and validate a YAML config; ``None`` returns the embedded demo defaults.

    Relative paths inside the file stay relative to the working directory, like every CLI.
    """
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), ["<file>: no such file"])
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"<file>: not valid YAML: {exc}"]) from None
    return config_from_mapping(raw, str(path))
