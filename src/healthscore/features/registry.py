"""The feature registry: every feature is declared once, with what later stages need.

A feature is a function whose name is the column it produces and whose body returns one SQL
aggregate over its *family* (the source table joined to the snapshot spine). Registering a
feature stores the function; its SQL is rendered when a matrix is built
(:meth:`FeatureSpec.render`), never at import. The engine, not
the feature, applies the point-in-time cut-off: a family only ever sees rows dated strictly
before the snapshot, with later-known columns masked (see :mod:`healthscore.features.families`).

Features that exist once per value of a column (e.g. per event type) are *templates*; the
engine expands them into ``<name>__<value>`` columns from the values found in the data.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from healthscore.features.sql import Renderer, duckdb_renderer

RENDERER_PARAMETER = "sql"  # a feature function's parameter that receives the renderer


class Dimension(StrEnum):
    """The health dimension a feature belongs to; drivers and playbooks group by it."""

    USAGE = "usage"
    ENGAGEMENT = "engagement"
    RELATIONSHIP = "relationship"
    BILLING = "billing"
    SUPPORT = "support"
    SENTIMENT = "sentiment"
    COMMERCIAL = "commercial"


class Direction(StrEnum):
    """Which way is healthy. Declared only where the domain is sure (a failed payment is bad);
    ``learned`` features get their direction from the training rows (training/directions.py).

    ``HIGHER_IS_RISKIER`` and ``NEUTRAL`` are the former names of ``LOWER_IS_HEALTHIER`` and
    ``LEARNED``; the old spellings are still read (config files, stored artifacts).
    """

    HIGHER_IS_HEALTHIER = "higher_is_healthier"
    LOWER_IS_HEALTHIER = "lower_is_healthier"
    LEARNED = "learned"
    HIGHER_IS_RISKIER = "lower_is_healthier"  # alias
    NEUTRAL = "learned"  # alias

    @classmethod
    def _missing_(cls, value: object) -> Direction | None:
        return {"higher_is_riskier": cls.LOWER_IS_HEALTHIER, "neutral": cls.LEARNED}.get(
            str(value))

    @property
    def sign(self) -> int:
        """+1 higher is healthier, -1 lower is healthier, 0 learned from the data."""
        return direction_sign(self.value)


def direction_sign(direction: str) -> int:
    """+1 / -1 / 0 for a direction spelled as a string (old spellings included)."""
    return {"higher_is_healthier": 1, "lower_is_healthier": -1,
            "higher_is_riskier": -1}.get(direction, 0)


class Kind(StrEnum):
    """Value type of a feature column."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class FeatureSpec:
    """Everything known about one feature column."""

    name: str
    family: str
    dimension: Dimension
    direction: Direction
    unit: str
    description: str
    explain: str
    sql: str
    kind: Kind = Kind.NUMERIC
    fill: float | None = None
    template: str | None = None  # the template name when expanded from one
    parameter: str | None = None  # the value it was expanded for
    direction_source: str = "registry"  # "config" when features.directions declared it
    requires: tuple[str, ...] = ()  # tables without which the feature means nothing
    # the declared function: called by render() (with the parameter for a template's column)
    build: Callable[..., str] | None = field(default=None, repr=False, compare=False)

    def render(self, renderer: Renderer | None = None) -> str:
        """The feature's SQL aggregate, rendered now from its declaration (``sql`` when it has
        no function, e.g. the metric features computed by their kernel). A function with a
        parameter named ``sql`` is given the engine's renderer (DuckDB by default)."""
        if self.build is None:
            return self.sql
        args = () if self.parameter is None else (self.parameter,)
        if RENDERER_PARAMETER in inspect.signature(self.build).parameters:
            return self.build(*args, sql=renderer or duckdb_renderer())
        return self.build(*args)

    def sentence(self, value: object) -> str:
        """The human sentence for this feature's value, used in driver explanations."""
        return render_sentence(self.explain, self.description, value, self.parameter)


FLAG_TEMPLATE = "{value:.0f} (1 = yes)"


def render_sentence(explain: str, description: str, value: object,
                    parameter: str | None = None) -> str:
    """A feature's explanation sentence for ``value``: "no data" when missing, "yes"/"no" for
    a 0/1 flag declared as ``{value:.0f} (1 = yes)`` (so "Renewal within 90 days: yes")."""
    if _missing(value):
        return f"{description.rstrip('.')}: no data"
    if FLAG_TEMPLATE in explain and _is_flag(value):
        explain = explain.replace(FLAG_TEMPLATE, "yes" if float(value) == 1 else "no")
    try:
        return explain.format(value=value, param=parameter or "")
    except (ValueError, TypeError):
        pass
    try:  # a number template given a text value (or the other way round)
        return explain.format(value=str(value), param=parameter or "")
    except (ValueError, TypeError):
        return f"{description.rstrip('.')}: {value}"


def _missing(value: object) -> bool:
    """None, NaN or pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN is the one value unequal to itself
    except TypeError:  # pd.NA: its comparisons are NA, whose truth is undefined
        return True


def _is_flag(value: object) -> bool:
    try:
        return float(value) in (0.0, 1.0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class FeatureTemplate:
    """A feature declared once and expanded per value of ``over`` (e.g. event_type)."""

    spec: FeatureSpec
    over: str
    build: Callable[[str], str]

    def expand(self, value: str) -> FeatureSpec:
        """The concrete feature for one value."""
        return replace(
            self.spec,
            name=f"{self.spec.name}__{slug(value)}",
            template=self.spec.name,
            parameter=value,
            build=self.build,
        )


_FEATURES: dict[str, FeatureSpec] = {}
_TEMPLATES: dict[str, FeatureTemplate] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def slug(value: str) -> str:
    """A column-safe version of a data value: lower case, [a-z0-9_] only."""
    text = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")
    return text or "blank"


class RegistryError(Exception):
    """A feature declaration is invalid (raised at import time: a programming error)."""


def _check_declaration(name: str, doc: str | None) -> str:
    if not _NAME.match(name):
        raise RegistryError(f"feature name {name!r} must match {_NAME.pattern}")
    if name in _FEATURES or name in _TEMPLATES:
        raise RegistryError(f"feature {name!r} is declared twice")
    if not doc or not doc.strip():
        raise RegistryError(f"feature {name!r} needs a docstring (its description)")
    return " ".join(doc.split())


def feature(
    *,
    family: str,
    dimension: Dimension,
    direction: Direction,
    unit: str,
    explain: str,
    kind: Kind = Kind.NUMERIC,
    fill: float | None = None,
    over: str | None = None,
    requires: tuple[str, ...] = (),
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register the decorated function as a feature named after it.

    The function returns the SQL aggregate (referencing ``t.<column>`` of the family and
    ``s.snapshot_date``); with ``over`` it takes that column's value and is a template; a
    keyword parameter ``sql`` receives the engine's renderer, for constructs engines spell
    differently (:mod:`healthscore.features.sql`). It is called when a matrix is built
    (:meth:`FeatureSpec.render`), not here.
    ``fill`` replaces NULL (only where the fill value means the same thing, e.g. 0 events);
    ``None`` keeps NULL as "unknown" for the models to handle. ``requires``: tables the
    feature needs beyond its family's (e.g. contract context read from the spine).
    """

    def register(func: Callable[..., str]) -> Callable[..., str]:
        description = _check_declaration(func.__name__, func.__doc__)
        spec = FeatureSpec(
            name=func.__name__, family=family, dimension=dimension, direction=direction,
            unit=unit, description=description, explain=explain, sql="",
            kind=kind, fill=fill, requires=requires, build=None if over else func,
        )
        if over:
            _TEMPLATES[spec.name] = FeatureTemplate(spec, over, func)
        else:
            _FEATURES[spec.name] = spec
        return func

    return register


def all_features() -> list[FeatureSpec]:
    """Every plain (non-template) feature, in declaration order."""
    return list(_FEATURES.values())


def all_templates() -> list[FeatureTemplate]:
    """Every feature template, in declaration order."""
    return list(_TEMPLATES.values())


def get_spec(name: str) -> FeatureSpec:
    """Look up a feature column by name, including expanded template columns."""
    if name in _FEATURES:
        return _FEATURES[name]
    base, sep, _ = name.partition("__")
    if sep and base in _TEMPLATES:
        template = _TEMPLATES[base]
        # The parameter's original spelling is not recoverable from the slug; the slug is shown.
        return template.expand(name.split("__", 1)[1])
    raise KeyError(unknown_name_message(name, known_names()))


def known_names() -> list[str]:
    """All feature and template names."""
    return [*_FEATURES, *_TEMPLATES]


def unknown_name_message(name: str, known: Iterable[str]) -> str:
    """``unknown feature 'x'; did you mean 'y'?``"""
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown feature {name!r}{hint}"


def by_dimension(specs: Iterable[FeatureSpec]) -> dict[Dimension, list[FeatureSpec]]:
    """Group features by health dimension."""
    groups: dict[Dimension, list[FeatureSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.dimension, []).append(spec)
    return groups
