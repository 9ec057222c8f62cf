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
    assert weaker.deploy and "margin waived by --force" in weaker.reasons[-1]
    below = decide("1", {"roc_auc": 0.6}, "roc_auc", {"roc_auc": 0.7}, 0.01, "2", {"roc_auc": 0.80}, force=True)
    assert not below.deploy and "below the required" in below.reasons[0]


def test_decision_renders_and_round_trips():
    decision = decide("2", {"roc_auc": 0.83, "accuracy": 0.8}, "roc_auc", {"roc_auc": 0.7}, 0.01, "1", {"roc_auc": 0.8})
    assert DeploymentDecision.from_json(decision.to_json()) == decision
    html = decision.to_html()
    assert "DEPLOY" in html and "<td>0.8300</td><td>0.8000</td>" in html and "<td>0.8000</td><td>-</td>" in html
