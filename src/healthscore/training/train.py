"""Fit, calibrate and evaluate the configured models on an honest time split."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.features.labels import LabelSpec
from healthscore.features.registry import FeatureSpec, Kind
from healthscore.model.artifact import FeatureMeta, HealthModel
from healthscore.model.bands import (
    Band,
    band_thresholds_by_lift,
    band_thresholds_by_share,
    bands_from_config,
    default_named_bands,
)
from healthscore.model.reference import build_reference
from healthscore.progress import Progress
from healthscore.training.calibration import Calibrator
from healthscore.training.directions import (
    DirectionFinding,
    contradiction_notes,
    directions_table,
    find_directions,
)
from healthscore.training.expansion import attach_expansion, expansion_result
from healthscore.training.metrics import (
    Evaluation,
    evaluate,
)
from healthscore.training.models import FeatureInfo, make_model
from healthscore.training.settings import TrainingConfig
from healthscore.training.splits import (
    TEST,
    TRAIN,
    VALIDATION,
    TimeSplit,
    plan_split,
    random_split,
)

log = logging.getLogger(__name__)


def feature_meta(specs: list[FeatureSpec]) -> list[FeatureMeta]:
    """Freeze registry facts about the model inputs into the artifact."""
    return [
        FeatureMeta(s.name, s.dimension.value, s.direction.value, s.unit, s.description,
                    s.explain, s.kind is Kind.CATEGORICAL, s.parameter,
                    s.direction_source if s.direction.sign else "learned")
        for s in specs
    ]


def feature_infos(metas: list[FeatureMeta], findings: list[DirectionFinding]
                  ) -> list[FeatureInfo]:
    """Model inputs with the direction in use and the constraint each one earned."""
    by_name = {f.feature: f for f in findings}
    return [FeatureInfo(m.name, m.dimension, by_name[m.name].sign, m.categorical,
                        by_name[m.name].monotone) for m in metas]


def resolve_directions(metas: list[FeatureMeta], train: pd.DataFrame, config: TrainingConfig,
                       seed: int) -> list[DirectionFinding]:
    """Every feature's direction, learned or checked on the training rows only."""
    y = train[config.label].astype(int).to_numpy()
    return find_directions(metas, train, y, config.lightgbm.monotone, seed)


def bands_of(config: TrainingConfig, p_population: np.ndarray | None = None) -> list[Band]:
    """The health bands frozen into every model training builds, lowest first: the configured
    ``training.bands``, or with ``bands: auto`` the default names with edges by lift over the
    mean of ``p_population`` (the model's calibrated probabilities on its training rows) or,
    with ``band_rule: share``, at the health below which those shares of it fall."""
    if config.bands == "auto":
        if p_population is None or not len(p_population):
            raise ParameterError("training.bands", "auto bands need the training population's "
                                 "probabilities", "none given")
        edges = (band_thresholds_by_share(p_population, config.band_shares)
                 if config.band_rule == "share" else
                 band_thresholds_by_lift(p_population, tuple(config.band_lifts)))
        return list(default_named_bands(edges))
    return list(bands_from_config(config.bands))


MIN_SEGMENT_BAND_ROWS = 500  # training rows a segment needs for edges of its own


def segment_bands_of(config: TrainingConfig, p_population: np.ndarray, segments: np.ndarray
                     ) -> dict[str, tuple[Band, ...]]:
    """``bands: auto`` per segment (``training.band_segments``): each segment with at least
    :data:`MIN_SEGMENT_BAND_ROWS` training rows gets the auto edges of its own population (lift
    over its own churn rate, or its own shares); the others use the whole population's."""
    out: dict[str, tuple[Band, ...]] = {}
    for segment in sorted(set(segments)):
        rows = segments == segment
        if rows.sum() >= MIN_SEGMENT_BAND_ROWS:
            out[segment] = tuple(bands_of(config, p_population[rows]))
        else:
            log.info("bands: segment %r has %d training rows (< %d): it uses the whole "
                     "population's edges", segment, int(rows.sum()), MIN_SEGMENT_BAND_ROWS)
    return out


@dataclass
class ModelResult:
    """One fitted model and its held-out evaluation."""

    name: str
    health_model: HealthModel
    test: Evaluation
    test_rows: pd.DataFrame  # account_id, snapshot_date, segment, arr, y, p
    validation_pr_auc: float
    params: dict[str, object]
    seconds: float
    # The held-out evaluation fit (test metrics come from it); health_model is the registered
    # model: the refit on every labelled row when training.refit, else this same model.
    evaluated_model: HealthModel | None = None
    directions: pd.DataFrame = field(default_factory=pd.DataFrame)
    search: pd.DataFrame = field(default_factory=pd.DataFrame)
    # survival model only: tables/<name>.csv of training/horizons.py (every horizon's metrics,
    # churn per band and horizon)
    horizon_tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def refit(self) -> bool:
        """True when the registered model was refit after the held-out evaluation."""
        return self.evaluated_model is not None and self.evaluated_model is not self.health_model


@dataclass
class TrainingRun:
    """Every model of one training session on one split."""

    results: dict[str, ModelResult]
    split_kind: str  # "time", "account" or "random"
    split: TimeSplit | None
    sizes: dict[str, int]
    positives: dict[str, float]
    notes: list[str] = field(default_factory=list)
    # The expansion readiness model (training.expansion), also carried inside every result's
    # models; None when not enabled or not fitted (the notes say why).
    expansion: ModelResult | None = None

    @property
    def best(self) -> ModelResult:
        """The model with the best validation PR-AUC (test is never used to choose)."""
        return max(self.results.values(), key=lambda r: r.validation_pr_auc)


def assign_splits(frame: pd.DataFrame, config: TrainingConfig, horizon_days: int, seed: int,
                  ) -> tuple[pd.Series, TimeSplit | None]:
    """The part of every labelled row and the time split, if the rows were split by time
    (see :func:`split_rows`)."""
    assignment, _, split, _ = split_rows(frame, config, horizon_days, seed)
    return assignment, split


def split_rows(frame: pd.DataFrame, config: TrainingConfig, horizon_days: int, seed: int,
               ) -> tuple[pd.Series, str, TimeSplit | None, list[str]]:
    """Split labelled rows by time, by account when the history is too short (see
    :func:`plan_split`), or stratified at random when there are no dates.

    Returns (part of every row, split kind, the time split if any, notes to show)."""
    if "snapshot_date" in frame.columns and frame["snapshot_date"].notna().all():
        assignment, plan = plan_split(frame, config.label, horizon_days, config.split, seed)
        return assignment, plan.kind, plan.time, plan.notes
    return (random_split(frame[config.label].astype(int), seed), "random", None,
            ["No snapshot dates: stratified random split (60/20/20); results may be "
             "optimistic compared with a time split."])


SPLIT_NAMES = {"account": "by account 60/20/20", "random": "random 60/20/20"}


def split_description(run: TrainingRun) -> dict[str, str]:
    """The parts of a run's split for the CLI, the report and MLflow params."""
    return run.split.describe() if run.split else {"kind": SPLIT_NAMES[run.split_kind]}


def fit_health_model(name: str, train: pd.DataFrame, valid: pd.DataFrame,
                     metas: list[FeatureMeta], config: TrainingConfig, horizon_days: int,
                     seed: int, findings: list[DirectionFinding] | None = None) -> HealthModel:
    """Fit one model on ``train``; tune, stop early and calibrate on ``valid``; store the
    training rows' binned distribution in the artifact for drift checks.

    ``findings``: the features' directions resolved on ``train`` (computed when not given).
    """
    y_train = train[config.label].astype(int).to_numpy()
    y_valid = valid[config.label].astype(int).to_numpy()
    for part, y in (("training", y_train), ("validation", y_valid)):
        if len(np.unique(y)) < 2:
            raise ParameterError(f"{part} rows", "rows of both classes (churned and retained)",
                                 f"{len(y)} rows, {int(y.sum())} positive")
    findings = findings or resolve_directions(metas, train, config, seed)
    model = make_model(name, feature_infos(metas, findings), config, seed).fit(
        train, y_train, valid, y_valid)
    calibrator = Calibrator(config.calibration).fit(model.predict_proba(valid), y_valid)
    return _health_model(model, calibrator, metas, findings, train, config, horizon_days,
                         {"model": name, "seed": seed,
                          "directions": [asdict(f) for f in findings]})


def _health_model(model, calibrator, metas, findings, reference_rows, config, horizon_days,
                  info) -> HealthModel:
    used = set(model.feature_names)
    directions = {f.feature: f for f in findings}
    kept = [replace(m, direction_source=directions[m.name].source) for m in metas
            if m.name in used]
    health_model = HealthModel(model, calibrator, kept, config.label, horizon_days, info)
    population = health_model.predict_proba(reference_rows) if config.bands == "auto" else None
    health_model.bands = tuple(bands_of(config, population))
    if population is not None and config.band_segments and "segment" in reference_rows:
        health_model.segment_bands = segment_bands_of(
            config, population, reference_rows["segment"].astype(str).to_numpy())
    health_model.reference = build_reference(health_model, reference_rows, seed=info["seed"])
    return health_model


def account_folds(rows: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """Fold number of each row, whole accounts per fold (an account's snapshots share
    behaviour, so splitting them would leak), assigned by a seeded shuffle of the accounts."""
    if "account_id" not in rows.columns:
        return np.random.default_rng(seed).permutation(len(rows)) % folds
    accounts = pd.unique(rows["account_id"].astype(str))
    order = np.random.default_rng(seed).permutation(len(accounts))
    fold_of = pd.Series(order % folds, index=accounts)
    return fold_of.reindex(rows["account_id"].astype(str)).to_numpy()


def refit_health_model(evaluated: HealthModel, rows: pd.DataFrame, metas: list[FeatureMeta],
                       config: TrainingConfig, seed: int) -> HealthModel:
    """Refit ``evaluated``'s kind on every labelled row with the settings it chose.

    The calibrator is fitted on out-of-fold predictions (``refit_folds`` folds of whole
    accounts, each predicted by a model fitted on the other folds with the same settings), so it
    still learns from rows its model did not see.
    """
    findings = [DirectionFinding(**d) for d in evaluated.info["directions"]]
    infos = feature_infos(metas, findings)
    name = evaluated.kind
    y = rows[config.label].astype(int).to_numpy()
    fold = account_folds(rows, config.refit_folds, seed)
    oof = np.full(len(rows), np.nan)
    for k in range(config.refit_folds):
        inside, held = fold != k, fold == k
        if not held.any() or len(np.unique(y[inside])) < 2:
            continue
        part = rows[inside]
        model_k = make_model(name, infos, config, seed, chosen_from=evaluated.model).fit(
            part, y[inside], part, y[inside])
        oof[held] = model_k.predict_proba(rows[held])
    model = make_model(name, infos, config, seed, chosen_from=evaluated.model).fit(
        rows, y, rows, y)
    known = ~np.isnan(oof)
    calibrator = Calibrator(config.calibration).fit(oof[known], y[known])
    info = {**evaluated.info, "refit": True, "refit_rows": len(rows)}
    if "snapshot_date" in rows.columns:
        info["refit_through"] = str(max(rows["snapshot_date"]))
    return _health_model(model, calibrator, metas, findings, rows, config,
                         evaluated.horizon_days, info)


def evaluate_predictions(predictions: pd.DataFrame, config: TrainingConfig, seed: int,
                         n_boot: int | None = None, bands: Sequence[Band] | None = None,
                         segment_bands: Mapping[str, Sequence[Band]] | None = None,
                         ) -> Evaluation:
    """Evaluate scored rows as training does: ``y`` and ``p`` columns, optionally ``arr`` and
    ``segment`` (a run's logged ``tables/test_predictions.parquet`` has them all), with the
    configured at-risk threshold and bootstrap (``n_boot`` overrides it) and ``bands`` (the
    model's; default the configured ones, or with ``bands: auto`` lift over these rows), a
    segment of ``segment_bands`` (the model's) banded by its own edges."""
    arr = predictions["arr"].fillna(0).to_numpy(float) if "arr" in predictions else None
    segment = (predictions["segment"].astype(str).to_numpy() if "segment" in predictions
               else None)
    return evaluate(predictions["y"].to_numpy(), predictions["p"].to_numpy(), arr=arr,
                    segment=segment, health_threshold=config.at_risk_threshold,
                    bands=bands_of(config, predictions["p"].to_numpy()) if bands is None
                    else bands,
                    n_boot=config.bootstrap if n_boot is None else n_boot, seed=seed,
                    segment_bands=segment_bands)


def evaluate_model(model: HealthModel, rows: pd.DataFrame, config: TrainingConfig, seed: int,
                   n_boot: int | None = None) -> tuple[Evaluation, pd.DataFrame]:
    """The model's evaluation on ``rows`` (bootstrap intervals unless ``n_boot`` is 0) and
    the scored rows it was computed from."""
    keep = [c for c in ("account_id", "snapshot_date", "segment", "arr") if c in rows]
    out = rows[keep].copy()
    out["y"] = rows[config.label].astype(int).to_numpy()
    out["p"] = model.predict_proba(rows)
    out = out.reset_index(drop=True)
    return evaluate_predictions(out, config, seed, n_boot, bands=model.health_bands,
                                segment_bands=model.segment_bands), out


def informative_features(train: pd.DataFrame, metas: list[FeatureMeta]
                         ) -> tuple[list[FeatureMeta], list[str]]:
    """(features holding a value in some training row, names of the all-null ones): a column
    that is empty everywhere (an optional column the source left blank) teaches nothing and
    breaks the encoders."""
    keep = [m for m in metas if m.name not in train or train[m.name].notna().any()]
    return keep, [m.name for m in metas if m not in keep]


def train_and_evaluate(frame: pd.DataFrame, metas: list[FeatureMeta], config: TrainingConfig,
                       horizon_days: int, seed: int, progress: Progress | None = None,
                       labels: Mapping[str, LabelSpec] | None = None) -> TrainingRun:
    """Split labelled rows, fit each configured model, evaluate on the untouched test period.

    ``labels``: what each label column means (the feature matrix's ``labels``); every model
    of the run carries its own label's definition, for comparisons of runs."""
    if config.label not in frame.columns:
        raise ParameterError("label column", f"present in the feature table ({config.label!r})",
                             "missing")
    every_row = frame  # survival rows need not be observed for the whole label horizon
    if "label_observed" in frame.columns:
        frame = frame[frame["label_observed"].astype(bool)]
    assignment, kind, split, notes = split_rows(frame, config, horizon_days, seed)
    parts = {name: frame[assignment == name] for name in (TRAIN, VALIDATION, TEST)}
    metas, empty = informative_features(parts[TRAIN], metas)
    if empty:
        notes.append(f"Left out {len(empty)} feature(s) with no value in any training row: "
                     + ", ".join(empty))
        log.warning("features with no value in any training row are left out: %s",
                    ", ".join(empty))
    findings = resolve_directions(metas, parts[TRAIN], config, seed)
    notes += contradiction_notes(findings)
    labelled = frame  # every row with an observed label, gaps included
    results: dict[str, ModelResult] = {}
    for i, name in enumerate(config.models):
        started = time.perf_counter()
        model = fit_health_model(name, parts[TRAIN], parts[VALIDATION], metas, config,
                                 horizon_days, seed, findings)
        test, rows = evaluate_model(model, parts[TEST], config, seed)
        valid, _ = evaluate_model(model.__class__(model.model, _Identity(), model.features,
                                             bands=model.bands,
                                             segment_bands=model.segment_bands),
                             parts[VALIDATION], config, seed, n_boot=0)
        registered = refit_health_model(model, labelled, metas, config, seed) \
            if config.refit else model
        if registered is not model:
            registered.evaluation = model
        params = model.model.params()
        if registered is not model:
            params |= {"refit": True, "refit_rows": len(labelled)}
            refit_params = registered.model.params()
            params |= {k: refit_params[k] for k in ("shap_ms_per_row", "shap_ms_per_row_est")
                       if k in refit_params}
        search = (model.model.trials_table() if hasattr(model.model, "trials_table")
                  else pd.DataFrame())
        results[name] = ModelResult(name, registered, test, rows, valid.overall["pr_auc"],
                                    params, time.perf_counter() - started, model,
                                    directions_table(findings), search)
        if params.get("penalty_at_edge"):
            notes.append(f"{name}: the chosen penalty C={params['C']} is on the edge of "
                         "training.logistic.c_grid; widen the grid.")
        log.info("%s: test ROC-AUC %.3f PR-AUC %.3f in %.1fs", name, test.overall["roc_auc"],
                 test.overall["pr_auc"], results[name].seconds)
        if progress:
            progress("train", i + 1, len(config.models))
    if config.survival.enabled:
        started = time.perf_counter()
        survival, survival_notes = survival_result(every_row, parts, split, metas, findings,
                                                   config, horizon_days, seed)
        notes += survival_notes
        if survival is not None:
            survival.seconds = time.perf_counter() - started
            results[survival.name] = survival
    expansion = None
    if config.expansion.enabled and config.label == "label_churn":
        expansion, expansion_notes = expansion_result(every_row, metas, config, horizon_days,
                                                      seed, train_and_evaluate)
        notes += expansion_notes
        if expansion is not None:
            attach_expansion(results.values(), expansion)
    stamp_labels([*results.values(), *([expansion] if expansion else [])], labels or {},
                 getattr(split, "validation_end", None))
    if config.refit:
        notes.append(f"The registered models were refit on all {len(labelled):,} labelled rows "
                     "with the settings chosen on the validation period; the test metrics come "
                     "from the evaluation fit on the training period, which never saw the test "
                     "rows.")
    return TrainingRun(
        results, kind, split,
        {k: len(v) for k, v in parts.items()},
        {k: float(v[config.label].mean()) for k, v in parts.items() if len(v)}, notes,
        expansion,
    )


def survival_result(every_row: pd.DataFrame, parts: dict[str, pd.DataFrame],
                    split: TimeSplit | None, metas: list[FeatureMeta],
                    findings: list[DirectionFinding], config: TrainingConfig,
                    horizon_days: int, seed: int) -> tuple[ModelResult | None, list[str]]:
    """The survival model as one more result: fitted on the training period censored at the
    validation start, calibrated on the validation period censored at the test start, and
    evaluated at the label horizon on the same test rows as the direct classifiers; the
    registered model is refit on every row (censored at the data's end) and gives health on
    ``training.survival.health_horizon_days``, or on the longest horizon the rows teach.

    Returns (result or None, notes); None with a note saying why when it cannot be fitted."""
    from healthscore.training import horizons as hz
    from healthscore.training import survival as sv

    cfg = config.survival
    if config.label != "label_churn" or not sv.has_survival_labels(every_row):
        return None, ["training.survival: the feature rows carry no survival labels (contract "
                      "churn, label_churn_days and label_observed_days; rebuild the features "
                      "with subscriptions), so the survival model was not fitted."]
    if split is None:
        return None, ["training.survival: the survival model needs a split by time; the "
                      "history was too short for one, so it was not fitted."]
    rows = every_row[every_row[sv.OBSERVED_DAYS].notna()]
    part = split.assign(rows["snapshot_date"])
    train = sv.censor_at(rows[part == TRAIN], pd.Timestamp(split.validation_start))
    valid = sv.censor_at(rows[part == VALIDATION], pd.Timestamp(split.test_start))
    infos = feature_infos(metas, findings)
    try:
        fitted = sv.fit_survival(cfg.score_model, infos, train, valid, config, seed,
                                 cfg.horizons, horizon_days)
    except ParameterError as error:  # too few churned intervals in a period: say so, go on
        log.warning("survival model not fitted: %s", error)
        return None, [f"training.survival: the survival model was not fitted: {error}"]
    info = {"model": "survival", "seed": seed, "score_model": cfg.score_model,
            "directions": [asdict(f) for f in findings]}
    evaluated = _health_model(fitted, sv.NoCalibration(), metas, findings, train, config,
                              horizon_days, info)
    test, test_rows = evaluate_model(evaluated, parts[TEST], config, seed)
    valid_eval, _ = evaluate_model(evaluated, parts[VALIDATION], config, seed, n_boot=0)
    params: dict[str, object] = fitted.params()
    notes: list[str] = []
    test_all = rows[part == TEST]
    z = fitted.raw_score(test_all) if len(test_all) else np.array([])
    p_within = {h: fitted.proba_within(z, h) for h in fitted.horizons}
    churn_days = test_all[sv.CHURN_DAYS].to_numpy(float)
    observed_days = test_all[sv.OBSERVED_DAYS].to_numpy(float)
    per_horizon = hz.horizon_metrics(p_within, churn_days, observed_days)
    for row in per_horizon.dropna(subset=["td_roc_auc"]).itertuples():
        params[f"test_roc_auc_{row.horizon_days}d"] = round(row.td_roc_auc, 4)
        params[f"test_ece_{row.horizon_days}d"] = round(row.ece, 4)
    if len(test_all):
        params["test_concordance"] = round(sv.concordance_index(
            p_within[max(fitted.horizons)], churn_days, observed_days), 4)
    tested = [h for h in fitted.horizons if f"test_roc_auc_{h}d" in params]
    registered_fit = copy.copy(fitted)  # its health horizon may differ from the evaluated one
    if config.refit:
        accounts = pd.unique(rows["account_id"].astype(str))
        order = np.random.default_rng(seed).permutation(len(accounts))
        held = set(accounts[order[:max(1, len(accounts) // 5)]])
        in_held = rows["account_id"].astype(str).isin(held).to_numpy()
        registered_fit = sv.fit_survival(cfg.score_model, infos, rows[~in_held], rows[in_held],
                                         config, seed, cfg.horizons, horizon_days)
    health_h = cfg.health_horizon_days
    if health_h > max(registered_fit.horizons):
        health_h = max(registered_fit.horizons)
        notes.append(f"training.survival: the history is too short to learn P(churn within "
                     f"{cfg.health_horizon_days} days); health is on {health_h} days, the "
                     "longest horizon the rows teach.")
    if not tested or health_h > max(tested):
        notes.append(f"training.survival: health is on {health_h} days but the test period "
                     f"checks horizons up to {max(tested) if tested else 0} days only; "
                     "bench/survival.py validates longer horizons on a longer history.")
    registered_fit.horizon_days = health_h
    registered = _health_model(registered_fit, sv.NoCalibration(), metas, findings, rows,
                               config, health_h, {**info, "refit": config.refit,
                                                  "health_horizon_days": health_h})
    if registered is not evaluated:
        registered.evaluation = evaluated
    params |= {"health_horizon_days": health_h, "refit": config.refit}
    health = 100.0 * (1.0 - fitted.proba_within(z, health_h)) if len(test_all) else z
    tables = {hz.HORIZON_METRICS: per_horizon, hz.BAND_CHURN: hz.band_churn_by_horizon(
        health, churn_days, observed_days, fitted.horizons, registered.health_bands)}
    return ModelResult("survival", registered, test, test_rows, valid_eval.overall["pr_auc"],
                       params, 0.0, evaluated, directions_table(findings),
                       horizon_tables=tables), notes


def stamp_labels(results: Iterable[ModelResult], labels: Mapping[str, LabelSpec],
                 fitted_through: dt.date | None) -> None:
    """Give every model of ``results`` (registered and evaluation fit) its label's
    definition, and the last snapshot its fit or calibration saw (``info['fitted_through']``,
    the validation period's end; kept when a nested run already set its own)."""
    for result in results:
        for model in (result.health_model, result.evaluated_model):
            if model is None:
                continue
            model.label_spec = labels.get(model.label)
            if fitted_through is not None:
                model.info.setdefault("fitted_through", str(fitted_through))


class _Identity:
    """No calibration: ranks on validation are judged before the calibrator fitted there."""

    def transform(self, p: np.ndarray) -> np.ndarray:
        return p
