"""Record a training session in MLflow: one parent run, one nested run per model.

Each model run holds its params, every metric (overall, per segment, intervals, bands) under
names that line up across runs, the band and segment tables, the test predictions (so later
comparisons can re-evaluate on identical rows), the plots, the feature list, the pyfunc model
and its validation report. The test feature rows are stored too
(``tables/test_features.parquet``), so ``healthscore compare`` can score other runs' models on
exactly these rows. The best model by validation PR-AUC is registered as ``challenger``; with no
``champion`` yet it becomes the champion too, unless the caller (``retrain``, whose promotion
gate decides) says otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore import tracking
from healthscore.model.bands import Band
from healthscore.report import figure_png
from healthscore.training import plots
from healthscore.training.settings import TrainingConfig
from healthscore.training.train import ModelResult, TrainingRun, split_description

log = logging.getLogger(__name__)
SAMPLE_FOR_DRIVERS = 2000
ROW_KEYS = ("account_id", "snapshot_date")
TEST_FEATURES = "tables/test_features.parquet"
TEST_PREDICTIONS = "tables/test_predictions.parquet"
DIRECTIONS = "tables/directions.csv"  # each feature's direction, its source and strength
SEARCH = "tables/lightgbm_search.csv"
AT_RISK_DIMENSIONS = "tables/at_risk_dimensions.csv"  # what puts flagged accounts at risk


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """Content hash of a feature matrix."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def model_fingerprint(result: ModelResult) -> str:
    """Content hash of a fitted model: its kind, parameters, inputs and what it predicts on the
    test rows (the same data, config and seed give the same model, hence the same hash)."""
    digest = hashlib.blake2b(digest_size=12)
    model = result.health_model
    params = {k: v for k, v in result.params.items()
              if k != "shap_ms_per_row"}  # a wall-clock measurement, not a property of the model
    digest.update(json.dumps([result.name, model.feature_names, params],
                             sort_keys=True, default=str).encode())
    digest.update(np.round(result.test_rows["p"].to_numpy(float), 12).tobytes())
    return digest.hexdigest()


def data_fingerprint(fingerprints: dict[str, str]) -> str:
    """One hash of every data fingerprint of a session (inputs, feature matrix)."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(json.dumps(fingerprints, sort_keys=True).encode())
    return digest.hexdigest()


def describe_version(result: ModelResult, run: TrainingRun, config: TrainingConfig,
                     fingerprints: dict[str, str]) -> str:
    """The registry description of a model version: what it predicts, over which horizon, how
    it was tested, the test metrics with their 95 % intervals and the data it learnt from."""
    model = result.health_model
    overall = result.test.overall
    intervals = result.test.intervals.set_index("metric") if len(result.test.intervals) else None

    def metric(key: str, label: str) -> str:
        text = f"{label} {overall[key]:.3f}"
        if intervals is not None and key in intervals.index:
            low, high = intervals.loc[key, "low"], intervals.loc[key, "high"]
            if low == low and high == high:  # not NaN
                text += f" [{low:.3f}, {high:.3f}]"
        return text

    target = "churns" if config.label == "label_churn" else "expands"
    split = run.split.describe() if run.split else {"split": "random 60/20/20"}
    period = ", ".join(f"{k} {v}" for k, v in split.items())
    figures = "; ".join(metric(k, label) for k, label in (
        ("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("recall", "recall"),
        ("precision", "precision"), ("ece", "ECE")) if k in overall)
    return (
        f"Probability p that an account {target} within {model.horizon_days} days after the "
        f"scoring date ({config.label}); health = 100 - 100*p. Model: {result.name}, "
        f"{len(model.feature_names)} features, calibration {config.calibration}. "
        f"{run.split_kind.capitalize()} split: {period}; {run.sizes.get('test', 0):,} test "
        f"rows. Test metrics (95 % bootstrap intervals; recall and precision at health < "
        f"{config.at_risk_threshold:g}): {figures}. Data fingerprint "
        f"{data_fingerprint(fingerprints)}.")


@dataclass
class RecordedSession:
    """Run ids of a recorded training session."""

    session_run_id: str
    runs: dict[str, tracking.LoggedRun]
    best: str
    registered_version: str | None
    champion_set: bool


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


SEGMENT_BANDS = "tables/segment_bands.csv"


def segment_band_edges(segment_bands: Mapping[str, Sequence[Band]]) -> pd.DataFrame:
    """One row per segment with per-segment band edges: where each band begins."""
    return pd.DataFrame([{"segment": segment, **{b.name: round(b.low, 1) for b in bands}}
                         for segment, bands in segment_bands.items()])


def model_artifacts(result: ModelResult, test_frame: pd.DataFrame,
                    at_risk_threshold: float = 50.0) -> dict[str, bytes | str]:
    """Tables and plots of one model's held-out evaluation."""
    ev = result.test
    y, p = result.test_rows["y"].to_numpy(), result.test_rows["p"].to_numpy()
    scores = {result.name: (y, p)}
    files: dict[str, bytes | str] = {
        "tables/band_table.csv": ev.bands.to_csv(index=False),
        "tables/segment_metrics.csv": ev.by_segment.to_csv(index=False),
        "tables/intervals.csv": ev.intervals.to_csv(index=False),
        TEST_PREDICTIONS: _parquet_bytes(result.test_rows),
        "plots/roc.png": figure_png(plots.roc_figure(scores)),
        "plots/pr.png": figure_png(plots.pr_figure(scores)),
        "plots/calibration.png": figure_png(plots.calibration_figure(scores)),
        "plots/band_churn.png": figure_png(plots.band_churn_figure({result.name: ev.bands})),
        "plots/score_distribution.png": figure_png(plots.score_distribution_figure(y, p)),
    }
    model = result.health_model
    if model.segment_bands:
        files[SEGMENT_BANDS] = segment_band_edges(model.segment_bands).to_csv(index=False)
    sample = test_frame.sample(n=min(SAMPLE_FOR_DRIVERS, len(test_frame)), random_state=0)
    _, phi = model.model.contributions(sample)
    names = model.model.feature_names
    files["tables/global_drivers.csv"] = plots.global_drivers(phi, names).to_csv(index=False)
    files[AT_RISK_DIMENSIONS] = at_risk_dimensions(
        model.health(sample), phi, [m.dimension for m in model.features],
        at_risk_threshold).to_csv(index=False)
    files["plots/shap_summary.png"] = figure_png(
        plots.drivers_figure(phi, sample[names].reset_index(drop=True)))
    files["features.json"] = json.dumps([m.__dict__ for m in model.features], indent=1)
    if not result.directions.empty:
        files[DIRECTIONS] = result.directions.to_csv(index=False)
    if not result.search.empty:
        files[SEARCH] = result.search.to_csv(index=False)
    for name, table in result.horizon_tables.items():
        files[f"tables/{name}.csv"] = table.to_csv(index=False)
    if rows_aligned(test_frame, result.test_rows):
        files[TEST_FEATURES] = _parquet_bytes(test_frame)
    else:
        log.warning("%s: test feature rows cannot be matched to the test predictions (no "
                    "unique account_id/snapshot_date); %s not logged, so this run cannot be "
                    "the holdout of a comparison", result.name, TEST_FEATURES)
    return files


def at_risk_dimensions(health: np.ndarray, phi: np.ndarray, dimensions: list[str],
                       at_risk_threshold: float) -> pd.DataFrame:
    """Among rows with health below ``at_risk_threshold``, how many have each actionable
    dimension as their largest push towards churn (the sum of its features' contributions,
    on the raw score: positive raises the churn probability); the dimension a playbook is
    chosen by. Columns: dimension, flagged_rows, share (of the flagged rows); largest first.

    Rows whose actionable dimensions all point towards staying count under "(none)"."""
    from healthscore.model.explain import ACTIONABLE as ACTIONABLE_DIMENSIONS

    flagged = np.asarray(health, dtype=float) < at_risk_threshold
    dims = np.asarray(dimensions)
    pushes = np.column_stack([np.asarray(phi)[flagged][:, dims == d].sum(axis=1)
                              for d in ACTIONABLE_DIMENSIONS])
    labels = np.array(ACTIONABLE_DIMENSIONS)[pushes.argmax(axis=1)] if len(pushes) else \
        np.array([], dtype=object)
    dominant = np.where(pushes.max(axis=1) > 0, labels, "(none)") if len(pushes) else labels
    counts = pd.Series(dominant, dtype=object).value_counts()
    out = pd.DataFrame({"dimension": counts.index.astype(str),
                        "flagged_rows": counts.to_numpy(int)})
    out["share"] = out["flagged_rows"] / max(int(flagged.sum()), 1)
    return out.sort_values(["flagged_rows", "dimension"], ascending=[False, True],
                           ignore_index=True)


def rows_aligned(test_frame: pd.DataFrame, test_rows: pd.DataFrame) -> bool:
    """True when ``test_frame`` holds the rows of ``test_rows`` in the same order (by keys)."""
    keys = [k for k in ROW_KEYS if k in test_rows.columns and k in test_frame.columns]
    if not keys or len(test_frame) != len(test_rows):
        return False
    return bool((test_frame[keys].reset_index(drop=True) == test_rows[keys]).all(axis=None))


def record_session(run: TrainingRun, frames: dict[str, pd.DataFrame], config: TrainingConfig,
                   settings: dict[str, Any], fingerprints: dict[str, str],
                   artifact_root: Path, claim_champion: bool = True,
                   training_rows: pd.DataFrame | None = None) -> RecordedSession:
    """Log the whole session; ``frames[name]`` is the test feature frame of each model.

    Every model run logs its training rows (``training_rows``, when given) and its test rows as
    MLflow dataset inputs, and carries its model and data fingerprints as tags; the registered
    version gets a description. The best model becomes ``@challenger``; with
    ``claim_champion`` it also becomes ``@champion`` when no champion exists yet.
    """
    from healthscore.model.pyfunc import HealthScorePyfunc

    tracking.configure(config.tracking, artifact_root)
    session = uuid.uuid4().hex[:12]
    common = {tracking.TAG_SESSION: session, "healthscore.split": run.split_kind,
              "healthscore.split_notes": " ".join(run.notes)[:5000]}
    best = run.best.name
    runs: dict[str, tracking.LoggedRun] = {}
    with tracking.start_run(f"train-{session}", common | {tracking.TAG_KIND: "session"}):
        session_id = tracking.active_run_id()
        tracking.log_params({"models": ",".join(run.results), "best_model": best,
                             **{f"data_{k}": v for k, v in fingerprints.items()}})
        tracking.write_json("config.json", settings)
        for name, result in run.results.items():
            tags = common | {tracking.TAG_KIND: "model", tracking.TAG_MODEL: name}
            with tracking.start_run(name, tags, nested=True):
                run_id = tracking.active_run_id()
                tracking.log_params(_model_params(result, run, config, fingerprints))
                tracking.log_metrics(result.test.flat_metrics("test")
                                     | {"validation_pr_auc": result.validation_pr_auc,
                                        "fit_seconds": result.seconds}
                                     | _cost_metrics(result)
                                     | expansion_metrics(run.expansion))
                tracking.log_artifacts(model_artifacts(result, frames[name],
                                                       config.at_risk_threshold))
                tracking.write_json("config.json", settings)
                example, id_column = input_example(frames[name], result.health_model)
                wrapped = HealthScorePyfunc(result.health_model)
                info = tracking.log_health_model(
                    wrapped, example, wrapped.predict(None, example),
                    registered_name=config.tracking.model_name if name == best else None,
                    optional=[id_column])
                tracking.set_tags({"healthscore.model_uri": info.model_uri,
                                   tracking.TAG_MODEL_FINGERPRINT: model_fingerprint(result),
                                   tracking.TAG_DATA_FINGERPRINT: data_fingerprint(fingerprints)})
                _log_datasets(frames[name], training_rows, config.label)
                version = getattr(info, "registered_model_version", None)
                runs[name] = tracking.LoggedRun(run_id, info.model_uri,
                                                str(version) if version else None)
    version = runs[best].version
    champion_set = False
    if version is not None:
        tracking.describe_version(config.tracking.model_name, version, describe_version(
            run.results[best], run, config, fingerprints))
        tracking.set_alias(config.tracking.model_name, tracking.CHALLENGER, version)
        if claim_champion and tracking.alias_version(config.tracking.model_name,
                                                     tracking.CHAMPION) is None:
            tracking.set_alias(config.tracking.model_name, tracking.CHAMPION, version)
            champion_set = True
    return RecordedSession(session_id, runs, best, version, champion_set)


def input_example(rows: pd.DataFrame, model) -> tuple[pd.DataFrame, str]:
    """(five input rows for the pyfunc signature, the id column's name in it).

    Numeric inputs are floats, so the signature accepts a missing value in a column that
    happens to hold only whole numbers; the id column (the feature table's own name for it)
    is an optional input the pyfunc passes through.
    """
    id_column = str(model.info.get("id_column") or "account_id")
    example = rows[model.feature_names].head(5).copy()
    numeric = [m.name for m in model.features if not m.categorical]
    if numeric:
        example[numeric] = example[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    if "account_id" in rows.columns and id_column not in example.columns:
        ids = pd.DataFrame({id_column: rows["account_id"].head(5).to_numpy()},
                           index=example.index)
        example = pd.concat([ids, example], axis=1)
    return example, id_column


def _log_datasets(test_rows: pd.DataFrame, training_rows: pd.DataFrame | None,
                  label: str) -> None:
    target = label if label in test_rows.columns else None
    if training_rows is not None:
        tracking.log_dataset(training_rows, "training rows", "training",
                             frame_fingerprint(training_rows), target)
    tracking.log_dataset(test_rows, "test rows", "test", frame_fingerprint(test_rows), target)


def training_rows_of(frame: pd.DataFrame, run: TrainingRun, config: TrainingConfig,
                     horizon_days: int, seed: int) -> pd.DataFrame:
    """The rows the session's models were fitted on (labelled, in the training period)."""
    from healthscore.training.splits import TRAIN
    from healthscore.training.train import assign_splits

    if "label_observed" in frame.columns:
        frame = frame[frame["label_observed"].astype(bool)]
    assignment, _ = assign_splits(frame, config, horizon_days, seed)
    rows = frame[assignment == TRAIN]
    if len(rows) != run.sizes.get(TRAIN, len(rows)):
        log.warning("training rows recomputed for MLflow (%d) differ from the session's (%d)",
                    len(rows), run.sizes.get(TRAIN))
    return rows


def _model_params(result: ModelResult, run: TrainingRun, config: TrainingConfig,
                  fingerprints: dict[str, str]) -> dict[str, Any]:
    model = result.health_model
    split = split_description(run)
    return {
        "model": result.name, "calibration": config.calibration, "label": config.label,
        "at_risk_threshold": config.at_risk_threshold,
        "horizon_days": model.horizon_days,
        **({"label_definition": model.label_spec.describe()} if model.label_spec else {}),
        "n_features": len(model.feature_names), "seed": model.info.get("seed"),
        "refit": result.refit, "metrics_from": "evaluation fit (training period)",
        **({"refit_rows": model.info.get("refit_rows"),
            "refit_through": model.info.get("refit_through")} if result.refit else {}),
        **_direction_params(result),
        **{f"split_{k}": v for k, v in split.items()},
        **{f"rows_{k}": v for k, v in run.sizes.items()},
        **{f"positive_rate_{k}": round(v, 5) for k, v in run.positives.items()},
        **{f"param_{k}": v for k, v in result.params.items()},
        **{f"data_{k}": v for k, v in fingerprints.items()},
        **({"expansion_model": run.expansion.name} if run.expansion is not None else {}),
    }


EXPANSION_PREFIX = "expansion_test"


def expansion_metrics(expansion: ModelResult | None) -> dict[str, float]:
    """The expansion readiness model's overall test metrics and their bootstrap intervals
    (``expansion_test_roc_auc``, ``expansion_test_roc_auc_ci_low``, ...), its test base rate
    and fit time, logged to every model run that carries it; empty without one."""
    if expansion is None:
        return {}
    flat = expansion.test.flat_metrics(EXPANSION_PREFIX)
    out = {k: v for k, v in flat.items() if "_seg_" not in k and "_band_" not in k}
    out[f"{EXPANSION_PREFIX}_base_rate"] = float(expansion.test_rows["y"].mean())
    out["expansion_fit_seconds"] = float(expansion.seconds)
    return out


def _cost_metrics(result: ModelResult) -> dict[str, float]:
    """TreeSHAP ms per row of the registered model (measured and estimated), when known."""
    return {k: float(result.params[k]) for k in ("shap_ms_per_row", "shap_ms_per_row_est")
            if isinstance(result.params.get(k), (int, float))}


def _direction_params(result: ModelResult) -> dict[str, Any]:
    """Counts of directions by source and use, so runs can be filtered on them."""
    d = result.directions
    if d.empty:
        return {}
    return {"directions_declared": int((d["source"].isin(["registry", "config"])).sum()),
            "directions_learned": int((d["source"] == "learned").sum()),
            "directions_contradicted": int(d["contradicted"].sum()),
            "monotone_constraints": int((d["monotone"] != 0).sum())}


def test_frame_for(frame: pd.DataFrame, run: TrainingRun, result: ModelResult) -> pd.DataFrame:
    """The feature rows of the test period, aligned with ``result.test_rows``.

    Rows are matched on account_id and snapshot_date (account_id alone for a feature table
    without dates). When those do not identify rows uniquely the first rows stand in (only good
    for the driver sample and the input example; :func:`rows_aligned` then says False).
    """
    keys = [k for k in ROW_KEYS if k in frame.columns and k in result.test_rows.columns]
    if keys and not frame.duplicated(keys).any():
        return result.test_rows[keys].merge(frame, on=keys, how="left")
    return frame.iloc[np.arange(len(result.test_rows))]
