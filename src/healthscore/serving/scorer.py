"""From churn probability to the health a team sees: bands (with per-segment, lifecycle and
renewal-window overrides), hard stops, and manual overrides, each application recorded."""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.errors import ConfigError, DataSourceError, DataValidationError, Violation
from healthscore.model.artifact import FeatureMeta, HealthModel, horizon_columns
from healthscore.model.bands import (
    DEFAULT_BANDS,
    Band,
    assign_band,
    assign_segment_band,
    bands_from_config,
    healthiest_band,
)
from healthscore.model.explain import (
    Drivers,
    describe,
    expansion_columns,
    health_points,
    material_playbooks,
)
from healthscore.serving.settings import HardStop, ScoringConfig

log = logging.getLogger(__name__)
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
       "==": operator.eq, "!=": operator.ne}
OVERRIDE_COLUMNS = ("account_id", "reason", "author", "expires_at")


def assign_bands(health: np.ndarray, context: pd.DataFrame, config: ScoringConfig,
                 bands: Sequence[Band] = DEFAULT_BANDS,
                 segment_bands: Mapping[str, Sequence[Band]] | None = None) -> np.ndarray:
    """Band per row: the first of ``config.band_overrides`` whose conditions match, else
    ``bands`` (the model's own, :attr:`HealthModel.health_bands`, in `healthscore score`), or
    for a row of a segment in ``segment_bands`` (the model's per-segment edges) its own."""
    segments = context["segment"].to_numpy() if "segment" in context else None
    result = assign_segment_band(health, bands, segments, segment_bands)
    decided = np.zeros(len(health), dtype=bool)
    for override in config.band_overrides:
        match = ~decided
        for column in ("segment", "lifecycle_stage", "in_renewal_window"):
            wanted = getattr(override, column)
            if wanted is not None and column in context:
                match &= (context[column] == wanted).to_numpy()
            elif wanted is not None:
                match &= False
        if match.any():
            result[match] = assign_band(health[match], bands_from_config(override.bands))
            decided |= match
    return result


def apply_hard_stops(health: np.ndarray, features: pd.DataFrame, stops: Sequence[HardStop]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Cap health where a rule fires; return (health, names of the rules applied per row).

    A rule is recorded wherever its condition holds and its cap is below the model's health,
    even when another rule caps lower.
    """
    health, applied, _ = _hard_stops(health, features, stops)
    return health, applied


def _hard_stops(health: np.ndarray, features: pd.DataFrame, stops: Sequence[HardStop]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(capped health, rules applied per row, index in ``stops`` of the binding rule or -1)."""
    model_health = health
    health = health.copy()
    applied = [[] for _ in range(len(health))]
    binding = np.full(len(health), -1)
    for k, stop in enumerate(stops):
        if stop.feature not in features:
            log.warning("hard stop %r: feature %r is not in the model's features; skipped",
                        stop.name, stop.feature)
            continue
        values = pd.to_numeric(features[stop.feature], errors="coerce").to_numpy(float)
        fires = OPS[stop.op](values, stop.value) & ~np.isnan(values) & (model_health > stop.cap)
        binding = np.where(fires & (stop.cap < health), k, binding)
        health[fires] = np.minimum(health[fires], stop.cap)
        for i in np.flatnonzero(fires):
            applied[i].append(stop.name)
    return health, np.array([",".join(a) for a in applied], dtype=object), binding


def _stop_meta(stop: HardStop, metas: dict[str, FeatureMeta]) -> FeatureMeta:
    """Metadata for a hard stop's feature: the model's, else the feature registry's."""
    if stop.feature in metas:
        return metas[stop.feature]
    from healthscore.features.registry import get_spec

    try:
        spec = get_spec(stop.feature)
    except KeyError:
        return FeatureMeta(stop.feature, "commercial", "learned", "", stop.feature,
                           stop.feature + " = {value}", False)
    return FeatureMeta(spec.name, spec.dimension.value, spec.direction.value, spec.unit,
                       spec.description, spec.explain, False, spec.parameter)


def check_hard_stops(stops: Sequence[HardStop], model_features: Sequence[str]) -> None:
    """Refuse a hard stop whose feature no model has (a misspelt name would silently never
    fire). A known feature the model lacks (its table is absent) only skips the rule."""
    from healthscore.features.engine import load_feature_modules
    from healthscore.features.registry import get_spec

    load_feature_modules()  # a model of a feature table did not load the registry

    problems = []
    for i, stop in enumerate(stops):
        if stop.feature in model_features:
            continue
        try:
            get_spec(stop.feature)
        except KeyError as exc:
            message = str(exc.args[0]) if exc.args else stop.feature
            problems.append(f"scoring.hard_stops[{i}].feature: {message} (hard stop "
                            f"{stop.name!r})")
    if problems:
        raise ConfigError("scoring.hard_stops", problems)


def read_overrides(path) -> pd.DataFrame:
    """Read and check the manual overrides table (CSV or Parquet)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("scoring.overrides", [f"scoring.overrides: {path} does not exist"])
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataSourceError(f"table 'overrides': cannot read {path}: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                              ) from None
    problems = [Violation("overrides", c, "required column missing", 0)
                for c in OVERRIDE_COLUMNS if c not in frame]
    if "value" not in frame and "cap" not in frame:
        problems.append(Violation("overrides", "value, cap", "give a value or a cap column", 0))
    if problems:
        raise DataValidationError(problems)
    for column in ("value", "cap"):
        if column not in frame:
            frame[column] = np.nan
    both = frame["value"].notna() & frame["cap"].notna()
    neither = frame["value"].isna() & frame["cap"].isna()
    bad_range = ~frame["value"].fillna(50).between(0, 100) | ~frame["cap"].fillna(50).between(
        0, 100)
    for mask, rule in ((both, "both value and cap set"), (neither, "neither value nor cap set"),
                       (bad_range, "value/cap outside 0-100")):
        if mask.any():
            problems.append(Violation("overrides", "value, cap", rule, int(mask.sum()),
                                      frame.loc[mask].head(5)))
    if problems:
        raise DataValidationError(problems)
    frame["expires_at"] = pd.to_datetime(frame["expires_at"]).dt.date
    return frame


def apply_overrides(health: np.ndarray, account_ids: pd.Series, overrides: pd.DataFrame | None,
                    as_of: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Apply unexpired manual overrides (``as_of`` before ``expires_at``); the latest-expiring
    override per account wins. Returns (health, description of the override applied)."""
    health = health.copy()
    applied = np.full(len(health), "", dtype=object)
    if overrides is None or overrides.empty:
        return health, applied
    active = overrides[overrides["expires_at"] > as_of].sort_values("expires_at")
    active = active.drop_duplicates("account_id", keep="last").set_index("account_id")
    position = pd.Series(np.arange(len(account_ids)), index=account_ids.to_numpy())
    for account, row in active.iterrows():
        if account not in position.index:
            continue
        i = int(position[account])
        if pd.notna(row["value"]):
            health[i] = float(row["value"])
            what = f"set to {row['value']:g}"
        else:
            health[i] = min(health[i], float(row["cap"]))
            what = f"capped at {row['cap']:g}"
        applied[i] = f"{what} by {row['author']} until {row['expires_at']}: {row['reason']}"
    return health, applied


@dataclass
class Explained:
    """Driver points after hard stops: ``drivers.points`` add up, per row, to ``health`` (the
    model's health capped by the hard stops) minus ``base_health``."""

    drivers: Drivers
    base_health: float
    model_health: np.ndarray  # unrounded, before hard stops
    health: np.ndarray  # unrounded, after hard stops (before manual overrides)
    hard_stops: np.ndarray  # names of the rules applied per row, comma-separated


def explain_with_hard_stops(model: HealthModel, frame: pd.DataFrame,
                            stops: Sequence[HardStop]) -> Explained:
    """Driver points in health points with each binding hard stop's cut credited to its
    rule's feature (see :mod:`healthscore.model.explain`)."""
    base_health, points, model_health = health_points(model, frame)
    drivers = Drivers(list(model.model.feature_names), {m.name: m for m in model.features},
                      points, frame)
    capped, applied, binding = _hard_stops(model_health, frame, stops)
    for k in np.unique(binding[binding >= 0]):
        stop = stops[int(k)]
        delta = np.where(binding == k, capped - model_health, 0.0)
        drivers.add_points(stop.feature, _stop_meta(stop, drivers.metas), delta)
    return Explained(drivers, base_health, model_health, capped, applied)


def score_accounts(model: HealthModel, frame: pd.DataFrame, config: ScoringConfig,
                   as_of: dt.date, overrides: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score a feature frame (one row per account): probability, model health, drivers,
    hard stops and overrides applied, final health and band (the model's bands, or a
    matching ``config.band_overrides``).

    Driver points add up to the health after hard stops minus the base health: a binding hard
    stop's cap is credited to its feature. Manual overrides are shown, not explained.
    """
    explained = explain_with_hard_stops(model, frame, config.hard_stops)
    scored = describe(explained.drivers, explained.model_health, explained.base_health,
                      top_risks=config.top_risks, top_strengths=config.top_strengths,
                      playbooks=dict(config.playbooks))
    health, manual = apply_overrides(explained.health, frame["account_id"], overrides, as_of)
    context = [c for c in ("account_id", "segment", "lifecycle_stage", "arr", "days_to_renewal",
                           "in_renewal_window") if c in frame]
    out = frame[context].copy()
    out.insert(1, "as_of", as_of)
    out["health"] = np.round(health, 1)
    out["band"] = assign_bands(out["health"].to_numpy(), frame, config, model.health_bands,
                               model.segment_bands)
    out["hard_stops"] = explained.hard_stops
    out["override"] = manual
    scored["playbook"] = material_playbooks(
        scored, out["band"].to_numpy() == healthiest_band(model.health_bands),
        config.playbook_min_points)
    out = pd.concat([out, scored, horizon_columns(model, frame),
                     expansion_columns(model, frame)], axis=1)
    return out.reset_index(drop=True)
