"""The gate step of retrain: both runs' figures and training.promotion in, the decision out.

Every branch retrain can reach, with numbers written by hand: no champion, a champion scored
on the candidate's rows, one that could not be, and a candidate that is the champion rebuilt.
"""

from __future__ import annotations

from healthscore.pipeline.compose import CandidateFigures, ChampionFigures, decide_promotion
from healthscore.training.settings import PromotionConfig

METRICS = {"pr_auc": 0.200, "ece": 0.010, "recall": 0.600, "roc_auc": 0.88}
SAME = {"estimate": 0.0, "low": -0.02, "high": 0.02, "verdict": "no significant difference"}
WORSE = {"estimate": -0.05, "low": -0.08, "high": -0.01, "verdict": "worse"}
OLD = {"model": "m-old-0123456789", "data": "d-old-0123456789"}
NEW_DATA = {"model": "m-old-0123456789", "data": "d-new-0123456789"}
IDENTITY = "a new model or new data"
PR_AUC = "PR-AUC not worse than the champion"


def candidate(fingerprints: dict[str, str] = NEW_DATA, **metrics: float) -> CandidateFigures:
    return CandidateFigures(METRICS | metrics, fingerprints)


def champion(difference: dict | None = SAME, fingerprints: dict[str, str] = OLD,
             **metrics: float) -> ChampionFigures:
    return ChampionFigures(fingerprints, METRICS | metrics, difference)


def decide(cand: CandidateFigures, champ: ChampionFigures | None,
           settings: PromotionConfig | None = None):
    return decide_promotion(settings or PromotionConfig(), cand, champ, health_threshold=50.0)


def statuses(decision) -> dict[str, str]:
    return {c.name: c.status for c in decision.checks}


def test_a_candidate_as_good_as_the_champion_on_new_data_is_promoted():
    decision = decide(candidate(), champion())
    assert decision.passed and decision.failed == []
    assert decision.checks[0].name == IDENTITY  # the identity check comes first
    assert decision.checks[0].detail == "data changed"
    assert statuses(decision) == {
        IDENTITY: "pass", "comparable with the champion": "pass", PR_AUC: "pass",
        "ECE <= 0.05": "pass", "recall at health < 50 >= champion - 0.02": "pass"}


def test_with_no_champion_only_the_absolute_checks_apply():
    decision = decide(candidate(), None)
    assert decision.passed and not decision.has_champion
    assert statuses(decision) == {
        IDENTITY: "skipped", PR_AUC: "skipped", "ECE <= 0.05": "pass",
        "recall at health < 50 >= champion - 0.02": "skipped"}
    assert decision.checks[0].detail == "no champion yet"


def test_the_first_model_is_not_promoted_when_its_calibration_is_too_poor():
    decision = decide(candidate(ece=0.07), None)
    assert not decision.passed
    assert [c.name for c in decision.failed] == ["ECE <= 0.05"]
    assert decision.failed[0].detail == "ECE 0.0700 (max 0.05)"


def test_a_candidate_worse_than_the_champion_is_not_promoted():
    decision = decide(candidate(pr_auc=0.150), champion(WORSE))
    assert not decision.passed
    (failed,) = decision.failed
    assert failed.name == PR_AUC
    assert failed.detail == ("PR-AUC 0.150 vs champion 0.200: difference -0.050, 95 % interval "
                             "[-0.080, -0.010]: worse")


def test_a_recall_drop_beyond_the_allowance_fails():
    decision = decide(candidate(recall=0.55), champion())
    assert [c.name for c in decision.failed] == ["recall at health < 50 >= champion - 0.02"]
    assert decision.failed[0].detail == "recall 0.550 vs champion 0.600 - 0.02 = 0.580"


def test_a_champion_that_could_not_be_scored_on_the_same_rows_fails_the_gate():
    reason = "label definition differs: contract vs inactivity"
    decision = decide(candidate(), ChampionFigures(OLD, incompatible=reason))
    assert not decision.passed and decision.has_champion
    assert [c.name for c in decision.failed] == ["comparable with the champion"]
    assert decision.failed[0].detail == reason
    checks = statuses(decision)
    assert checks[PR_AUC] == "skipped" and checks[IDENTITY] == "pass"
    assert next(c for c in decision.checks if c.name == PR_AUC).detail.startswith(
        "champion not comparable")


def test_the_champion_rebuilt_from_unchanged_model_and_data_is_not_promoted():
    decision = decide(candidate(fingerprints=OLD), champion())
    assert not decision.passed
    (failed,) = decision.failed
    assert failed.name == IDENTITY
    assert failed.detail == ("model and data unchanged since the champion (fingerprints "
                             "m-old-01, d-old-01)")


def test_a_champion_without_fingerprints_skips_the_identity_check():
    decision = decide(candidate(fingerprints=OLD), champion(fingerprints={}))
    assert decision.passed
    assert decision.checks[0].status == "skipped"
    assert decision.checks[0].detail == "champion run has no fingerprints"


def test_the_settings_decide_which_checks_run():
    strict = PromotionConfig(pr_auc="better", max_ece=None, recall_drop=None)
    decision = decide(candidate(), champion(), strict)
    assert not decision.passed
    assert [c.name for c in decision.failed] == ["PR-AUC better than the champion"]
    assert statuses(decision)["calibration error"] == "skipped"
