"""The ``retrain`` command as its steps: train → backtest → compare with @champion → gate →
promote if the gate passed. The decision is the gate step's
(:mod:`~healthscore.pipeline.compose.promotion_gate`); this module only wires."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from healthscore.features.labels import LabelSpec
from healthscore.pipeline.compose.promotion_gate import (
    CandidateFigures,
    ChampionFigures,
    decide_promotion,
)
from healthscore.pipeline.compose.runs import backtest, compare, train
from healthscore.pipeline.config import Config
from healthscore.progress import Progress

if TYPE_CHECKING:
    from healthscore.training.compare import Comparison
    from healthscore.training.gate import RetrainOutcome


def retrain(config: Config, frame: pd.DataFrame, metas: list, data_fingerprint: str,
            progress: Progress | None = None, labels: Mapping[str, LabelSpec] | None = None,
            ) -> RetrainOutcome:
    """Train, backtest, compare the best model with @champion on the new test period, and
    promote it only when ``training.promotion`` passes (with no champion: the first model that
    passes the absolute checks). ``labels``: as for :func:`train`. Returns a
    :class:`~healthscore.training.gate.RetrainOutcome`.
    """
    from healthscore import tracking
    from healthscore.training.gate import RetrainOutcome

    run, session, reports = train(config, frame, metas, data_fingerprint, progress,
                                  claim_champion=False, labels=labels)
    folds, plan = backtest(config, frame, metas, progress)
    model_name = config.training.tracking.model_name
    candidate = session.runs[session.best].run_id
    champion = tracking.alias_version(model_name, tracking.CHAMPION)
    compared = compare_with_champion(config, candidate, run.results[session.best].test.overall,
                                     champion, progress)
    decision = decide_promotion(config.training.promotion, compared.candidate,
                                compared.champion, config.training.at_risk_threshold)
    version = tracking.promote(model_name, candidate) if decision.passed else None
    tracking.log_artifacts_to_run(session.session_run_id, {
        "retrain/gate.json": json.dumps(decision.as_dict() | {
            "candidate_run": candidate, "champion_before": champion,
            "comparison_run": compared.run_id, "promoted_version": version}, indent=1)})
    return RetrainOutcome(run, session, reports, folds, champion, compared.comparison,
                          compared.path, compared.run_id, decision, version, plan.summary())


@dataclass(frozen=True)
class ChampionComparison:
    """The figures the gate reads of both runs, and the comparison they come from (None with
    no champion, or one that could not be scored on the candidate's rows)."""

    candidate: CandidateFigures
    champion: ChampionFigures | None
    comparison: Comparison | None = None
    path: Path | None = None
    run_id: str | None = None


def compare_with_champion(config: Config, candidate_run: str,
                          candidate_test: Mapping[str, float],
                          champion: tuple[str, str] | None,
                          progress: Progress | None = None) -> ChampionComparison:
    """Score @champion and the candidate run on the candidate's holdout rows (the comparison
    page and run are written as by ``compare``) and read both runs' fingerprints.

    ``candidate_test`` (the candidate's own test metrics) stands in when there is no champion
    or it cannot be scored on those rows; ``champion`` is its (version, run id) or None.
    """
    from healthscore import tracking
    from healthscore.training.compare import IncompatibleRunsError

    mine = _fingerprints(tracking.run_tags(candidate_run))
    if champion is None:
        return ChampionComparison(CandidateFigures(candidate_test, mine), None)
    theirs = _fingerprints(tracking.run_tags(champion[1]))
    try:
        comparison, path, run_id = compare(config, [f"@{tracking.CHAMPION}", candidate_run],
                                           progress=progress)
    except IncompatibleRunsError as exc:
        return ChampionComparison(CandidateFigures(candidate_test, mine), ChampionFigures(
            theirs, incompatible="; ".join(exc.problems)))
    champion_name, candidate_name = comparison.names[0], comparison.names[1]
    return ChampionComparison(
        CandidateFigures(comparison.evaluations[candidate_name].overall, mine),
        ChampionFigures(theirs, comparison.evaluations[champion_name].overall,
                        comparison.difference(candidate_name, "pr_auc")),
        comparison, path, run_id)


def _fingerprints(tags: dict[str, str]) -> dict[str, str]:
    from healthscore import tracking

    return {"model": tags.get(tracking.TAG_MODEL_FINGERPRINT, ""),
            "data": tags.get(tracking.TAG_DATA_FINGERPRINT, "")}
