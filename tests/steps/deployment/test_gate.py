"""The champion/challenger gate."""

import pytest

from steps.deployment.gate import DeploymentDecision, decide


def test_first_deployment_needs_only_the_thresholds():
    decision = decide("1", {"roc_auc": 0.8}, "roc_auc", {"roc_auc": 0.7}, 0.01)
    assert decision.deploy and "no champion yet" in decision.reasons[-1]


def test_threshold_failure_blocks_even_without_champion():
    decision = decide("1", {"roc_auc": 0.6, "accuracy": 0.9}, "roc_auc", {"roc_auc": 0.7, "accuracy": 0.5}, 0.0)
    assert not decision.deploy
    assert "roc_auc = 0.6000 is below the required 0.7" in decision.reasons


def test_challenger_must_beat_the_champion_by_the_margin():
    close = decide("2", {"roc_auc": 0.805}, "roc_auc", {}, 0.01, "1", {"roc_auc": 0.80})
    assert not close.deploy and "does not beat champion 0.8000 by the margin 0.01" in close.reasons[-1]
    clear = decide("2", {"roc_auc": 0.83}, "roc_auc", {}, 0.01, "1", {"roc_auc": 0.80})
    assert clear.deploy and "beats champion" in clear.reasons[-1]


def test_unknown_threshold_metric_is_named():
    decision = decide("1", {"roc_auc": 0.9}, "roc_auc", {"r2": 0.5}, 0.0)
    assert not decision.deploy and "r2: threshold 0.5 set but the challenger has no such metric" in decision.reasons[0]


def test_same_version_is_not_redeployed_while_it_serves():
    decision = decide("3", {"roc_auc": 0.9}, "roc_auc", {}, 0.0, "3", {"roc_auc": 0.9}, serving_version="3")
    assert not decision.deploy and "already the champion and serving" in decision.reasons[-1]


@pytest.mark.parametrize("serving", [None, "2"])
def test_champion_whose_endpoint_is_down_or_elsewhere_is_served_again(serving):
    decision = decide("3", {"roc_auc": 0.9}, "roc_auc", {"roc_auc": 0.7}, 0.0, "3", {"roc_auc": 0.9},
                      serving_version=serving)
    assert decision.deploy and "is the champion but its endpoint serves" in decision.reasons[-1]


def test_force_waives_the_champion_margin_but_not_the_thresholds():
    weaker = decide("1", {"roc_auc": 0.78}, "roc_auc", {"roc_auc": 0.7}, 0.01, "2", {"roc_auc": 0.80}, force=True)
    assert weaker.deploy and "waived by --force" in weaker.reasons[-1]
    below = decide("1", {"roc_auc": 0.6}, "roc_auc", {"roc_auc": 0.7}, 0.01, "2", {"roc_auc": 0.80}, force=True)
    assert not below.deploy and "below the required" in below.reasons[0]


def test_decision_renders_and_round_trips():
    decision = decide("2", {"roc_auc": 0.83, "accuracy": 0.8}, "roc_auc", {"roc_auc": 0.7}, 0.01, "1", {"roc_auc": 0.8})
    assert DeploymentDecision.from_json(decision.to_json()) == decision
    html = decision.to_html()
    assert "DEPLOY" in html and "<td>0.8300</td><td>0.8000</td>" in html and "<td>0.8000</td><td>-</td>" in html


def _retrain_decision(recent_new, recent_old, previous_new, previous_old, recent_rows=300, previous_rows=1000):
    from steps.deployment.gate import Comparison

    recent = Comparison("recent window", recent_rows, 0, {"roc_auc": recent_new}, {"roc_auc": recent_old})
    previous = Comparison("previous holdout", previous_rows, 12, {"roc_auc": previous_new}, {"roc_auc": previous_old})
    return decide("3", recent.challenger, "roc_auc", {"roc_auc": 0.7}, 0.005, "2", recent.champion,
                  recent=recent, previous=previous, max_previous_loss=0.02, min_rows=30)


def test_retrain_must_win_the_recent_window_and_hold_the_previous_holdout():
    decision = _retrain_decision(0.79, 0.75, 0.82, 0.83)
    assert decision.deploy and not decision.failures
    assert "previous holdout: challenger 0.8200 vs champion 0.8300 (-0.0100) is within the tolerance 0.02" in \
        " ".join(decision.reasons)
    forgetful = _retrain_decision(0.79, 0.75, 0.78, 0.83)
    assert not forgetful.deploy
    assert forgetful.failures == ["previous holdout: challenger 0.7800 loses 0.0500 to champion 0.8300, more than "
                                  "the tolerance 0.02 (1000 rows)"]
    no_gain = _retrain_decision(0.752, 0.75, 0.83, 0.83)
    assert not no_gain.deploy and "on the recent window" in no_gain.failures[0]


def test_too_few_unseen_rows_is_no_fair_comparison():
    decision = _retrain_decision(0.9, 0.7, 0.8, 0.8, recent_rows=12)
    assert not decision.deploy and "fewer than the 30 needed" in decision.failures[0]
    skipped = _retrain_decision(0.9, 0.7, 0.5, 0.8, previous_rows=5)
    assert skipped.deploy and any("previous holdout: only 5 rows" in r for r in skipped.reasons)


def test_decision_shows_both_comparisons():
    decision = _retrain_decision(0.79, 0.75, 0.82, 0.83)
    assert DeploymentDecision.from_json(decision.to_json()) == decision
    html = decision.to_html()
    assert "recent window: 300 rows neither model trained on" in html
    assert "previous holdout: 1000 rows neither model trained on, 12 left out" in html
    assert "<td>0.7900</td><td>0.7500</td>" in html and "<td>0.8200</td><td>0.8300</td>" in html


def _sliced(challenger_slices, champion_slices, new=0.85, old=0.80):
    from steps.deployment.gate import Comparison

    return Comparison("challenger holdout", 500, 0, {"roc_auc": new}, {"roc_auc": old},
                      challenger_slices=challenger_slices, champion_slices=champion_slices)


def _slice(value, rows, score, feature="contract"):
    return {"feature": feature, "value": value, "rows": rows, "score": score}


def test_a_challenger_better_on_average_but_worse_on_a_slice_is_refused_naming_the_slice():
    recent = _sliced([_slice("monthly", 200, 0.70), _slice("yearly", 300, 0.95), _slice("weekly", 10, 0.1)],
                     [_slice("monthly", 200, 0.80), _slice("yearly", 300, 0.82), _slice("weekly", 10, 0.9)])
    args = ("2", {"roc_auc": 0.85}, "roc_auc", {}, 0.01, "1", {"roc_auc": 0.80})
    off = decide(*args, recent=recent)  # the slice gate is off by default: the average decides
    assert off.deploy and not any("slice" in r for r in off.reasons)
    on = decide(*args, recent=recent, max_slice_loss=0.05, min_slice_rows=30)
    assert not on.deploy
    assert on.failures == ["slice contract=monthly (200 rows): challenger 0.7000 loses 0.1000 to champion 0.8000 on "
                           "roc_auc, more than the slice margin 0.05"]  # 'weekly' has too few rows to count
    assert DeploymentDecision.from_json(on.to_json()) == on and "contract=monthly" in on.to_html()
    tolerant = decide(*args, recent=recent, max_slice_loss=0.2, min_slice_rows=30)
    assert tolerant.deploy and "slices: none of 2 with 30+ rows loses more than 0.2 on roc_auc (closest: " \
        "contract=monthly, -0.1000)" in tolerant.reasons


def test_slices_without_a_score_for_both_models_are_not_compared():
    recent = _sliced([_slice("monthly", 200, None)], [_slice("monthly", 200, 0.8)])
    decision = decide("2", {"roc_auc": 0.85}, "roc_auc", {}, 0.01, "1", {"roc_auc": 0.80}, recent=recent,
                      max_slice_loss=0.0, min_slice_rows=30)
    assert decision.deploy and any(r.startswith("slices: none with 30+ rows scored") for r in decision.reasons)


BEHAVIOUR = [
    {"name": "calls-raise-risk", "kind": "direction", "passed": True, "value": 1.0, "threshold": 0.9,
     "detail": "adding 2 to 'support_calls' did not decrease ..."},
    {"name": "region-invariant", "kind": "invariance", "passed": False, "value": 0.4, "threshold": 0.05,
     "detail": "setting 'region' to each of north, east moved the prediction by more than 0.1 on 40.0% of 300 rows"},
]


def test_a_failed_behaviour_check_blocks_when_configured_and_is_named():
    blocked = decide("2", {"roc_auc": 0.85}, "roc_auc", {"roc_auc": 0.7}, 0.01, "1", {"roc_auc": 0.80},
                     behaviour=BEHAVIOUR, block_on_behaviour=True)
    assert not blocked.deploy
    assert blocked.failures == ["behaviour check 'region-invariant' (invariance) failed: setting 'region' to each of "
                                "north, east moved the prediction by more than 0.1 on 40.0% of 300 rows"]
    assert "region-invariant" in blocked.to_html()
    # --force waives the champion comparison, never the behaviour checks
    forced = decide("2", {"roc_auc": 0.85}, "roc_auc", {}, 0.01, "1", {"roc_auc": 0.80}, force=True,
                    behaviour=BEHAVIOUR, block_on_behaviour=True)
    assert not forced.deploy and "region-invariant" in forced.failures[0]
    advisory = decide("2", {"roc_auc": 0.85}, "roc_auc", {"roc_auc": 0.7}, 0.01, "1", {"roc_auc": 0.80},
                      behaviour=BEHAVIOUR)
    assert advisory.deploy
    assert any("region-invariant" in r and "not blocking: gate.block_on_behaviour is false" in r
               for r in advisory.reasons)
    passing = decide("1", {"roc_auc": 0.85}, "roc_auc", {}, 0.0, behaviour=BEHAVIOUR[:1], block_on_behaviour=True)
    assert passing.deploy and "behaviour checks: all 1 passed (calls-raise-risk)" in passing.reasons
    assert DeploymentDecision.from_dict(blocked.to_dict()) == blocked
