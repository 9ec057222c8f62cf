"""A/B tests on the Kubernetes backend: the same start/stop map to the SeldonDeployment's champion/challenger
predictors; the stateful fake API server sees the split, the promotion and the abort, and every object it stored
validates against the vendored SeldonDeployment CRD."""

from __future__ import annotations

import pytest

from stacks.seldon.spec import ABTestNotSupported, ABTestRunningError, DeploymentError, TrafficSplit
from tests.stacks.kubernetes.conftest import NAMESPACE, model_spec, served_versions
from tests.stacks.kubernetes.crd_schema import crd_errors


def _all_valid(fake_api) -> bool:
    return all(crd_errors({"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
                           "metadata": {"name": "credit"}, "spec": s}) == [] for s in fake_api.history["credit"])


def test_split_then_promote_leaves_the_challenger_alone_at_100(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    checked = []
    backend.start_challenger(model_spec(2), TrafficSplit(challenger_percent=25), timeout=10, verify=checked.append)
    assert checked, "the challenger is verified on its own URL before it takes traffic"
    assert served_versions(fake_api) == [("champion", "1", 75, False), ("challenger", "2", 25, False)]
    test = backend.challenger("credit")
    assert test["shares"] == {"champion": 75, "challenger": 25} and test["spec"]["model"]["version"] == "2"
    with pytest.raises(ABTestRunningError):
        backend.start_challenger(model_spec(3), TrafficSplit(challenger_percent=10), timeout=10)
    uid = fake_api.get(NAMESPACE, "credit")["metadata"]["uid"]
    info = backend.end_challenger("credit", promote=True, timeout=10)
    assert served_versions(fake_api) == [("champion", "2", 100, False)]
    assert (info.model_version, info.state) == ("2", "active")
    assert fake_api.get(NAMESPACE, "credit")["metadata"]["uid"] == uid, "ending a canary updates in place"
    assert backend.challenger("credit") is None
    assert _all_valid(fake_api)


def test_shadow_then_abort_leaves_the_champion_alone(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    backend.start_challenger(model_spec(2), TrafficSplit(shadow=True), timeout=10)
    assert served_versions(fake_api) == [("champion", "1", 100, False), ("challenger", "2", 0, True)]
    assert backend.challenger("credit")["split"]["shadow"] is True
    backend.end_challenger("credit", promote=False, timeout=10)
    assert served_versions(fake_api) == [("champion", "1", 100, False)]
    with pytest.raises(DeploymentError, match="no A/B test"):
        backend.end_challenger("credit", promote=False, timeout=10)
    assert _all_valid(fake_api)


def test_sticky_routing_and_a_missing_champion_are_refused_clearly(backend, fake_api):
    with pytest.raises(DeploymentError, match="no champion is serving"):
        backend.start_challenger(model_spec(2), TrafficSplit(challenger_percent=10), timeout=10)
    backend.deploy(model_spec(1), timeout=10)
    with pytest.raises(ABTestNotSupported, match="header-based routing"):
        backend.start_challenger(model_spec(2), TrafficSplit(challenger_percent=10, sticky_header="X-User"),
                                 timeout=10)
    assert served_versions(fake_api) == [("champion", "1", 100, False)]
