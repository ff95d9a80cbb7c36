"""The gate step of ``retrain``: both runs' figures and the gate settings in, the decision with
its reasons out.

Pure (no MLflow, no files), so every branch can be tested with numbers written by hand: with
no champion only the absolute checks apply; a champion that could not be scored on the
candidate's holdout rows fails the gate; a candidate whose model and data fingerprints both
equal the champion's is a rebuilt copy and is not promoted. The checks themselves are
:mod:`healthscore.training.gate`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from healthscore.training.gate import GateDecision, evaluate_gate, identity_check, with_check
from healthscore.training.settings import PromotionConfig


@dataclass(frozen=True)
class CandidateFigures:
    """What the gate knows of the new best model.

    ``metrics``: its overall ``pr_auc``, ``ece`` and ``recall`` (at the at-risk threshold) on
    the rows it is judged on (beside the champion's when they were compared, else its own test
    period); ``fingerprints``: its ``model`` and ``data`` fingerprints.
    """

    metrics: Mapping[str, float]
    fingerprints: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChampionFigures:
    """What the gate knows of @champion.

    ``metrics`` are on the candidate's holdout rows and ``pr_auc_difference`` is the paired
    bootstrap of candidate minus champion (estimate, low, high, verdict); both None when the
    champion could not be scored there, and ``incompatible`` then says why.
    """

    fingerprints: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] | None = None
    pr_auc_difference: Mapping[str, Any] | None = None
    incompatible: str | None = None


def decide_promotion(settings: PromotionConfig, candidate: CandidateFigures,
                     champion: ChampionFigures | None, health_threshold: float,
                     ) -> GateDecision:
    """May the candidate replace the champion (``champion`` None: is there none yet)?

    Parameters
    ----------
    settings
        ``training.promotion``: the PR-AUC rule, the largest ECE, the recall drop allowed.
    health_threshold
        The at-risk threshold the recall is taken at (named in the check).

    Returns
    -------
    GateDecision
        The identity check (a new model or new data) first, then every check of the gate,
        each pass, fail or skipped with its numbers; promoted when none failed.
    """
    if champion is None:
        decision = evaluate_gate(settings, candidate.metrics, health_threshold=health_threshold)
    else:
        decision = evaluate_gate(settings, candidate.metrics, champion.metrics,
                                 champion.pr_auc_difference, has_champion=True,
                                 incompatible=champion.incompatible,
                                 health_threshold=health_threshold)
    return with_check(decision, identity_check(
        candidate.fingerprints, champion.fingerprints if champion is not None else None))
