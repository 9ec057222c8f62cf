"""Per-variant data of an A/B test from the endpoint's records and the ingress log: pure, no daemons."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.config import GuardrailsSection
from serving import live_store
from stacks.seldon.local_variants import VariantLinks
from stacks.seldon.spec import TrafficSplit
from stacks.seldon.variant_log import p99, variant_traffic
from steps.abtest.statistics import plan_test
from steps.abtest.status import evaluate_test
from steps.abtest.variants import variant_records

CLASSES = [0, 1]


def _write_log(directory, rows):
    path = directory / live_store.PREDICTIONS / "20260101T000000Z-w1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _served(directory, n, version, correct, start_t, features_offset=0, seed=0):
    """n binary predictions by `version`, labelled so that a share `correct` is right."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(n):
        predicted = int(rng.random() < 0.5)
        rows.append({"id": f"{version}-{i}", "t": start_t + i, "version": version, "features": {"x": i + features_offset},
                     "prediction": str(predicted), "scores": [0.3, 0.7] if predicted else [0.7, 0.3]})
        labels.append({"id": f"{version}-{i}", "truth": predicted if rng.random() < correct else 1 - predicted})
    return rows, labels


def test_records_split_by_version_and_join_labels(tmp_path):
    champion, champion_labels = _served(tmp_path, 300, "1", 0.70, 1000.0, seed=1)
    challenger, challenger_labels = _served(tmp_path, 300, "2", 0.95, 1000.0, features_offset=10_000, seed=2)
    old = [{"id": "old", "t": 10.0, "version": "1", "features": {"x": 0}, "prediction": "1", "scores": [0.1, 0.9]}]
    _write_log(tmp_path, old + champion + challenger)
    live_store.append_feedback(tmp_path, "t", champion_labels + challenger_labels[:-50])
    records = variant_records(tmp_path, {"champion": "1", "challenger": "2"}, since=500.0, classes=CLASSES)
    assert len(records["champion"].records) == 300, "rows served before the test started are left out"
    assert (records["champion"].labelled, records["challenger"].labelled) == (300, 250)
    assert set(records["champion"].distribution()) == {"0", "1"}
    plan = plan_test("binary", "accuracy", 0.70, 0.15)
    status = evaluate_test(plan, {"champion": {"requests": 300, "errors": 0, "p99_ms": 5.0},
                                  "challenger": {"requests": 300, "errors": 0, "p99_ms": 6.0}},
                           records, CLASSES, 1, GuardrailsSection(min_requests=100), shadow=False,
                           identities={"champion": {"run_id": "a"}, "challenger": {"run_id": "b"}},
                           estimators={"challenger": lambda s: {"estimate": 0.9, "lower": 0.8, "upper": 1.0}})
    assert status.verdict.verdict == "challenger better"
    assert status.variants["challenger"]["estimated"]["rows"] == 50
    assert not status.guardrails.breached
    text = "\n".join(status.lines())
    assert "CHALLENGER BETTER" in text and "champion" in text and "guardrails: ok" in text
    json.dumps(status.summary())  # JSON-able for --json and MLflow


def test_records_without_a_version_are_the_champions(tmp_path):
    """A champion daemon started by an earlier release records no version: its rows still count as the champion's."""
    champion, labels = _served(tmp_path, 20, "1", 0.7, 1000.0, seed=3)
    for row in champion:
        del row["version"]
    challenger, challenger_labels = _served(tmp_path, 10, "2", 0.7, 1000.0, features_offset=100, seed=4)
    _write_log(tmp_path, champion + challenger)
    live_store.append_feedback(tmp_path, "t", labels + challenger_labels)
    records = variant_records(tmp_path, {"champion": "1", "challenger": "2"}, since=500.0, classes=CLASSES)
    assert (records["champion"].labelled, records["challenger"].labelled) == (20, 10)


def test_a_shadow_challenger_takes_the_label_of_the_same_request(tmp_path):
    champion, labels = _served(tmp_path, 50, "1", 0.8, 1000.0, seed=3)
    mirrored = [dict(r, id=f"m{i}", version="2") for i, r in enumerate(champion)]  # same features, own ids
    _write_log(tmp_path, champion + mirrored)
    live_store.append_feedback(tmp_path, "t", labels)
    records = variant_records(tmp_path, {"champion": "1", "challenger": "2"}, 0.0, CLASSES, shadow=True)
    assert records["challenger"].labelled == 50


def test_ingress_log_counts_requests_errors_and_p99_per_variant(tmp_path):
    log = tmp_path / "abtest-access.log"
    lines = [{"t": 100.0 + i, "d": "churn", "v": "champion", "s": 200, "rt": f"{0.001 * (i + 1):.3f}",
              "u": "/api/v1.0/predictions"} for i in range(100)]
    lines += [{"t": 150.0, "d": "churn", "v": "challenger", "s": 503, "rt": "", "u": "/api/v1.0/predictions"},
              {"t": 150.0, "d": "churn", "v": "challenger", "s": 200, "rt": "0.002", "u": "/api/v1.0/predictions"},
              {"t": 150.0, "d": "churn", "v": "challenger", "s": 200, "rt": "0.002", "u": "/health/status"},
              {"t": 150.0, "d": "other", "v": "challenger", "s": 500, "rt": "0.002", "u": "/api/v1.0/predictions"},
              {"t": 50.0, "d": "churn", "v": "challenger", "s": 500, "rt": "0.002", "u": "/api/v1.0/predictions"}]
    log.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"t": 1, "cut sho')
    seen = variant_traffic(log, "churn", since=100.0)
    assert seen["champion"] == {"requests": 100, "errors": 0, "p99_ms": 99.0}
    assert seen["challenger"] == {"requests": 2, "errors": 1, "p99_ms": 2.0}
    assert p99([5.0]) == 5.0 and variant_traffic(tmp_path / "none.log", "churn", 0.0) == {}


def test_bucket_links_move_atomically_and_report_shares(tmp_path):
    links = VariantLinks(tmp_path)
    links.ensure("churn")
    assert links.shares("churn") == {"serving": 100}
    links.set_challenger("churn", "/tmp/x.sock")
    links.split("churn", 10)
    assert links.shares("churn") == {"champion": 90, "challenger": 10}
    links.ensure("churn")  # a redeploy of the champion keeps a running split
    assert links.shares("churn")["challenger"] == 10
    links.shadow_on("churn", "/tmp/x.sock")
    assert links.shadowing("churn")
    links.shadow_off("churn")
    links.route_all("churn", "serving")
    assert not links.shadowing("churn") and links.shares("churn") == {"serving": 100}
    with pytest.raises(ValueError, match="0..100"):
        links.split("churn", 101)


@pytest.mark.parametrize("kwargs, message", [
    ({"challenger_percent": 0}, "1..99 percent"), ({"challenger_percent": 100}, "1..99 percent"),
    ({"shadow": True, "sticky_header": "X-User"}, "does not apply to a shadow test"),
])
def test_a_bad_split_is_refused_naming_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrafficSplit(**kwargs)
