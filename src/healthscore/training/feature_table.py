"""Bring your own features: train on a ready-made table instead of the built matrix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from healthscore.errors import DataSourceError, DataValidationError, Violation
from healthscore.features.engine import declared_directions, load_feature_modules
from healthscore.features.registry import Direction, get_spec
from healthscore.serving.model import FeatureMeta
from healthscore.training.train import feature_meta

CONTEXT = ("segment", "arr")


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet or CSV file."""
    if not path.exists():
        raise DataSourceError(f"feature table {path} does not exist")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def prepare_feature_table(frame: pd.DataFrame, id_column: str, label_column: str,
                          date_column: str | None, source: str = "feature table",
                          directions: dict[str, str] | None = None,
                          ) -> tuple[pd.DataFrame, list[FeatureMeta]]:
    """Rename the key columns to the pipeline's names and describe every other column.

    Columns named like a registered feature keep its dimension, unit and sentence; others
    become usage features (numeric) or categoricals (text). Every column's direction is
    ``learned`` on the training rows: a table nobody prepared for us carries no promise about
    which way is healthy. ``segment`` and ``arr`` are context only.
    """
    needed = [c for c in (id_column, label_column, date_column) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataValidationError([Violation(
            source, ", ".join(missing), f"required column missing; columns present: "
            f"{list(frame.columns)[:20]}", 0)])
    labels = frame[label_column]
    bad = ~labels.isin([0, 1, True, False])
    if bad.any():
        raise DataValidationError([Violation(source, label_column, "label must be 0/1",
                                             int(bad.sum()), frame.loc[bad, [id_column,
                                                                               label_column]])])
    out = frame.rename(columns={id_column: "account_id", label_column: "label_churn"})
    if date_column:
        out = out.rename(columns={date_column: "snapshot_date"})
        out["snapshot_date"] = pd.to_datetime(out["snapshot_date"]).dt.date
    out["label_churn"] = out["label_churn"].astype(bool)
    out["label_observed"] = True
    keys = {"account_id", "label_churn", "snapshot_date", "label_observed", *CONTEXT}
    metas = [_meta(out[c], c) for c in out.columns if c not in keys]
    return out, with_declared_directions(metas, directions or {})


def with_declared_directions(metas: list[FeatureMeta], directions: dict[str, str]
                             ) -> list[FeatureMeta]:
    """``metas`` with the directions ``features.directions`` declares for the table's
    columns (unknown names: one ConfigError with suggestions)."""
    if not directions:
        return metas
    declared = declared_directions([(m.name, None, None) for m in metas], directions)
    return [replace(m, direction=declared[m.name].value,
                    direction_source="config" if declared[m.name].sign else "learned")
            if m.name in declared else m for m in metas]


def _meta(column: pd.Series, name: str) -> FeatureMeta:
    load_feature_modules()
    try:
        meta = feature_meta([get_spec(name)])[0]
        return replace(meta, direction=Direction.LEARNED.value, direction_source="learned")
    except KeyError:
        categorical = not pd.api.types.is_numeric_dtype(column)
        return FeatureMeta(name, "usage", Direction.LEARNED.value, "",
                           f"{name} (from the feature table)", name + " = {value}", categorical,
                           direction_source="learned")
