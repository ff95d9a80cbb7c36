"""The promotion gate of retrain: every check passes, fails or is skipped, with its numbers."""

from __future__ import annotations

import pytest

from healthscore.errors import ConfigError
from healthscore.pipeline.config import config_from_mapping
from healthscore.training.gate import evaluate_gate
from healthscore.training.settings import PromotionConfig

CHAMPION = {"pr_auc": 0.200, "ece": 0.010, "recall": 0.600, "roc_auc": 0.88}
SAME = {"estimate": 0.0, "low": -0.02, "high": 0.02, "verdict": "no significant difference"}
WORSE = {"estimate": -0.05, "low": -0.08, "high": -0.01, "verdict": "worse"}
BETTER = {"estimate": 0.04, "low": 0.01, "high": 0.07, "verdict": "better"}


def candidate(**changes: float) -> dict[str, float]:
    return CHAMPION | changes


def statuses(decision) -> dict[str, str]:
    return {c.name: c.status for c in decision.checks}


def test_defaults_pass_a_candidate_as_good_as_the_champion():
    decision = evaluate_gate(PromotionConfig(), candidate(), CHAMPION, SAME)
    assert decision.passed and decision.has_champion and decision.failed == []
    assert statuses(decision) == {
        "comparable with the champion": "pass", "PR-AUC not worse than the champion": "pass",
        "ECE <= 0.05": "pass", "recall at health < 50 >= champion - 0.02": "pass"}


def test_pr_auc_worse_beyond_its_interval_fails_with_the_numbers():
    decision = evaluate_gate(PromotionConfig(), candidate(pr_auc=0.150), CHAMPION, WORSE)
    assert not decision.passed
    (failed,) = decision.failed
    assert failed.name == "PR-AUC not worse than the champion"
    assert failed.detail == ("PR-AUC 0.150 vs champion 0.200: difference -0.050, 95 % interval "
                             "[-0.080, -0.010]: worse")


def test_pr_auc_better_mode_needs_a_significant_improvement():
    gate = PromotionConfig(pr_auc="better")
    assert not evaluate_gate(gate, candidate(), CHAMPION, SAME).passed
    assert evaluate_gate(gate, candidate(pr_auc=0.24), CHAMPION, BETTER).passed


def test_ece_above_the_maximum_fails():
    decision = evaluate_gate(PromotionConfig(), candidate(ece=0.07), CHAMPION, SAME)
    assert [c.name for c in decision.failed] == ["ECE <= 0.05"]
    assert decision.failed[0].detail == "ECE 0.0700 (max 0.05)"


def test_recall_may_drop_by_the_tolerance_and_no_further():
    at_floor = evaluate_gate(PromotionConfig(), candidate(recall=0.58), CHAMPION, SAME)
    assert at_floor.passed
    below = evaluate_gate(PromotionConfig(), candidate(recall=0.579), CHAMPION, SAME)
    assert [c.name for c in below.failed] == ["recall at health < 50 >= champion - 0.02"]
    assert below.failed[0].detail == "recall 0.579 vs champion 0.600 - 0.02 = 0.580"


def test_without_a_champion_only_the_absolute_checks_apply():
    first = evaluate_gate(PromotionConfig(), candidate(recall=0.1, pr_auc=0.01))
    assert first.passed and not first.has_champion
    assert statuses(first) == {"PR-AUC not worse than the champion": "skipped",
                               "ECE <= 0.05": "pass",
                               "recall at health < 50 >= champion - 0.02": "skipped"}
    assert first.checks[0].detail == "no champion yet; PR-AUC 0.010"
    badly_calibrated = evaluate_gate(PromotionConfig(), candidate(ece=0.2))
    assert not badly_calibrated.passed


def test_a_champion_that_cannot_be_scored_on_the_new_rows_blocks_promotion():
    decision = evaluate_gate(PromotionConfig(), candidate(), has_champion=True,
                             incompatible="run x needs 1 feature(s) the holdout rows lack: y")
    assert [c.name for c in decision.failed] == ["comparable with the champion"]
    assert decision.failed[0].detail.startswith("run x needs 1 feature")
    assert statuses(decision)["PR-AUC not worse than the champion"] == "skipped"


def test_checks_switched_off_are_skipped():
    gate = PromotionConfig(pr_auc="off", max_ece=None, recall_drop=None)
    decision = evaluate_gate(gate, candidate(ece=0.9, recall=0.0), CHAMPION, WORSE)
    assert decision.passed
    assert [c.status for c in decision.checks] == ["pass", "skipped", "skipped", "skipped"]
    assert decision.as_dict()["checks"][1]["status"] == "skipped"


def test_gate_config_is_validated_with_key_paths():
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"training": {"promotion": {"max_ece": 0, "pr_auc": "maybe",
                                                        "recal_drop": 0.1}}})
    text = str(caught.value)
    assert "training.promotion.max_ece: Input should be greater than 0" in text
    assert "training.promotion.pr_auc: Input should be 'not_worse', 'better' or 'off'" in text
    assert "training.promotion.recal_drop: unknown name 'recal_drop'; did you mean " \
           "'recall_drop'?" in text


def test_an_identical_rebuild_of_the_champion_is_refused():
    from healthscore.training.gate import identity_check, with_check

    same = identity_check({"model": "m1", "data": "d1"}, {"model": "m1", "data": "d1"})
    decision = with_check(evaluate_gate(PromotionConfig(), candidate(), CHAMPION, SAME), same)
    assert not decision.passed and decision.failed == [same]
    assert same.detail == "model and data unchanged since the champion (fingerprints m1, d1)"


@pytest.mark.parametrize(("champion", "status", "detail"), [
    ({"model": "m1", "data": "d2"}, "pass", "data changed"),
    ({"model": "m2", "data": "d1"}, "pass", "model changed"),
    ({"model": "m2", "data": "d2"}, "pass", "model and data changed"),
    ({"model": "", "data": ""}, "skipped", "champion run has no fingerprints"),
    (None, "skipped", "no champion yet"),
])
def test_a_new_model_or_new_data_passes_the_identity_check(champion, status, detail):
    from healthscore.training.gate import identity_check

    check = identity_check({"model": "m1", "data": "d1"}, champion)
    assert (check.status, check.detail) == (status, detail)
