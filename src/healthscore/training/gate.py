"""The promotion gate of ``healthscore retrain``: may the new best model replace the champion?

Pure: the candidate's metrics, the champion's on the same rows and their paired PR-AUC
difference in; one line per check (pass, fail or skipped, with its numbers) out. With no
champion yet only the absolute checks apply, so the first model that passes them becomes the
champion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from healthscore.training.settings import PromotionConfig

if TYPE_CHECKING:
    from healthscore.training.compare import Comparison
    from healthscore.training.record import RecordedSession
    from healthscore.training.train import TrainingRun

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass(frozen=True)
class GateCheck:
    """One check of the gate; ``passed`` is None when it was not evaluated."""

    name: str
    passed: bool | None
    detail: str

    @property
    def status(self) -> str:
        """pass, fail or skipped."""
        return SKIPPED if self.passed is None else PASS if self.passed else FAIL


@dataclass(frozen=True)
class GateDecision:
    """Every check of the gate; the candidate is promoted when none failed."""

    checks: tuple[GateCheck, ...]
    has_champion: bool

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(check.passed is not False for check in self.checks)

    @property
    def failed(self) -> list[GateCheck]:
        """The checks that failed."""
        return [check for check in self.checks if check.passed is False]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (logged with the retrain session)."""
        return {"passed": self.passed, "has_champion": self.has_champion,
                "checks": [asdict(c) | {"status": c.status} for c in self.checks]}


def evaluate_gate(gate: PromotionConfig, candidate: Mapping[str, float],
                  champion: Mapping[str, float] | None = None,
                  pr_auc_difference: Mapping[str, Any] | None = None, *,
                  has_champion: bool | None = None, incompatible: str | None = None,
                  health_threshold: float = 50.0) -> GateDecision:
    """Apply the gate to a candidate.

    Parameters
    ----------
    candidate, champion
        Overall metrics (``pr_auc``, ``ece``, ``recall`` at the at-risk threshold) of both
        models on the same rows; ``champion`` None when there is none or it could not be scored.
    pr_auc_difference
        The paired bootstrap of candidate minus champion PR-AUC: estimate, low, high, verdict.
    has_champion
        Whether a champion exists (default: ``champion is not None``).
    incompatible
        Why the champion could not be scored on the candidate's holdout rows, if it could not:
        the gate then fails, since nothing shows the candidate is not worse.
    """
    has_champion = champion is not None if has_champion is None else has_champion
    checks: list[GateCheck] = []
    why_not = "no champion yet" if not has_champion else "champion not comparable"
    if has_champion:
        checks.append(GateCheck(
            "comparable with the champion", incompatible is None,
            "scored on the same holdout rows" if incompatible is None else incompatible))
    compared = has_champion and incompatible is None and champion is not None
    checks.append(_pr_auc_check(gate, candidate, champion, pr_auc_difference, compared,
                                why_not))
    if gate.max_ece is None:
        checks.append(GateCheck("calibration error", None, "off (max_ece: null)"))
    else:
        ece = candidate["ece"]
        checks.append(GateCheck(f"ECE <= {gate.max_ece:g}", ece <= gate.max_ece,
                                f"ECE {ece:.4f} (max {gate.max_ece:g})"))
    name = f"recall at health < {health_threshold:g}"
    if gate.recall_drop is None:
        checks.append(GateCheck(name, None, "off (recall_drop: null)"))
    elif not compared:
        checks.append(GateCheck(f"{name} >= champion - {gate.recall_drop:g}", None,
                                f"{why_not}; recall {candidate['recall']:.3f}"))
    else:
        floor = champion["recall"] - gate.recall_drop
        mine = candidate["recall"]
        checks.append(GateCheck(
            f"{name} >= champion - {gate.recall_drop:g}", mine >= floor - 1e-12,
            f"recall {mine:.3f} vs champion {champion['recall']:.3f} - "
            f"{gate.recall_drop:g} = {floor:.3f}"))
    return GateDecision(tuple(checks), has_champion)


def _pr_auc_check(gate: PromotionConfig, candidate: Mapping[str, float],
                  champion: Mapping[str, float] | None, difference: Mapping[str, Any] | None,
                  compared: bool, why_not: str) -> GateCheck:
    rule = {"not_worse": "PR-AUC not worse than the champion",
            "better": "PR-AUC better than the champion", "off": "PR-AUC vs the champion"}
    name = rule[gate.pr_auc]
    if gate.pr_auc == "off":
        return GateCheck(name, None, "off (pr_auc: off)")
    if not compared or champion is None or difference is None:
        return GateCheck(name, None, f"{why_not}; PR-AUC {candidate['pr_auc']:.3f}")
    verdict = str(difference["verdict"])
    passed = verdict != "worse" if gate.pr_auc == "not_worse" else verdict == "better"
    return GateCheck(name, passed, (
        f"PR-AUC {candidate['pr_auc']:.3f} vs champion {champion['pr_auc']:.3f}: difference "
        f"{difference['estimate']:+.3f}, 95 % interval [{difference['low']:+.3f}, "
        f"{difference['high']:+.3f}]: {verdict}"))


SAME_AS_CHAMPION = "a new model or new data"


def identity_check(candidate: Mapping[str, str], champion: Mapping[str, str] | None,
                   ) -> GateCheck:
    """Fails when the candidate's model and data fingerprints both equal the champion's.

    Retraining on unchanged data with the same config and seed rebuilds the champion; promoting
    that copy would only churn versions. ``candidate`` and ``champion`` map ``model`` and
    ``data`` to fingerprints; the check is skipped when the champion has none (older runs).
    """
    if champion is None:
        return GateCheck(SAME_AS_CHAMPION, None, "no champion yet")
    if not champion.get("model") or not champion.get("data"):
        return GateCheck(SAME_AS_CHAMPION, None, "champion run has no fingerprints")
    same_model = candidate.get("model") == champion["model"]
    same_data = candidate.get("data") == champion["data"]
    if same_model and same_data:
        return GateCheck(SAME_AS_CHAMPION, False, (
            f"model and data unchanged since the champion (fingerprints "
            f"{candidate['model'][:8]}, {candidate['data'][:8]})"))
    changed = [part for part, same in (("model", same_model), ("data", same_data)) if not same]
    return GateCheck(SAME_AS_CHAMPION, True, f"{' and '.join(changed)} changed")


def with_check(decision: GateDecision, check: GateCheck) -> GateDecision:
    """The decision with one more check first."""
    return GateDecision((check, *decision.checks), decision.has_champion)


def gate_from_comparison(gate: PromotionConfig, comparison: Comparison) -> GateDecision:
    """The gate for the comparison's second run (candidate) against its first (champion)."""
    champion, candidate = comparison.names[0], comparison.names[1]
    return evaluate_gate(
        gate, comparison.evaluations[candidate].overall,
        comparison.evaluations[champion].overall, comparison.difference(candidate, "pr_auc"),
        health_threshold=comparison.health_threshold)


@dataclass
class RetrainOutcome:
    """What ``retrain`` did: the session, the backtest, the comparison and the decision."""

    run: TrainingRun
    session: RecordedSession
    reports: dict[str, Path]
    folds: pd.DataFrame
    champion_before: tuple[str, str] | None  # (version, run id) of @champion before
    comparison: Comparison | None
    comparison_path: Path | None
    comparison_run_id: str | None
    decision: GateDecision
    promoted_version: str | None
    backtest_summary: str = ""  # how many backtest folds fit and why the others did not

    @property
    def candidate_run_id(self) -> str:
        """Run id of the session's best model, the candidate."""
        return self.session.runs[self.session.best].run_id
