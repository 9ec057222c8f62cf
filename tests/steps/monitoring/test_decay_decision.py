"""Decay against the champion's metrics, and the none / alert / retrain decision with its reasons."""

import numpy as np
import pytest

from steps.monitoring.decay import DecayReport, evaluate_decay
from core.config import ConfigError, MonitoringConfig, PolicySection, load_config
from steps.monitoring.decision import MonitoringDecision, decide
from steps.monitoring.drift import ColumnDrift, DriftReport

Y = np.array([0, 1] * 50)


def _proba(pred):
    p1 = np.where(pred == 1, 0.8, 0.2)
    return np.c_[1 - p1, p1]


def test_same_quality_as_reference_is_not_decay():
    pred = Y.copy()
    pred[:10] = 1 - pred[:10]  # 90% accurate
    report = evaluate_decay(Y, pred, _proba(pred), "binary", {"accuracy": 0.91, "roc_auc": 0.9},
                            max_drop={"accuracy": 0.05})
    assert not report.decayed and report.reasons == []
    assert report.current_metrics["accuracy"] == pytest.approx(0.9)
    assert report.drops["accuracy"] == pytest.approx(0.01)


def test_accuracy_drop_beyond_limit_is_decay_with_reason():
    pred = Y.copy()
    pred[:30] = 1 - pred[:30]  # 70% accurate
    report = evaluate_decay(Y, pred, _proba(pred), "binary", {"accuracy": 0.9}, max_drop={"accuracy": 0.05})
    assert report.decayed
    assert report.reasons == [
        "accuracy worsened by 0.2000 (reference 0.9000, current 0.7000), more than the allowed 0.05"]
    assert DecayReport.from_json(report.to_json()) == report
    assert "class=fail" in report.to_html()


def test_lower_is_better_metrics_count_an_increase_as_a_drop():
    y = np.linspace(0, 10, 50)
    report = evaluate_decay(y, y + 2.0, None, "regression", {"rmse": 0.5, "r2": 0.99}, max_drop={"rmse": 1.0})
    assert report.drops["rmse"] == pytest.approx(1.5)
    assert report.decayed


def test_decay_arguments_are_checked():
    with pytest.raises(ValueError, match=r"max_drop names metrics \['f2'\] that a binary evaluation does not give"):
        evaluate_decay(Y, Y, _proba(Y), "binary", {"accuracy": 0.9}, max_drop={"f2": 0.1})
    with pytest.raises(ValueError, match=r"missing from the champion's reference metrics \['r2'\]"):
        evaluate_decay(Y, Y, _proba(Y), "binary", {"r2": 0.9}, max_drop={"accuracy": 0.1})
    with pytest.raises(ValueError, match="max_drop\\['accuracy'\\]: expected a non-negative number, got -1"):
        evaluate_decay(Y, Y, None, "binary", {"accuracy": 0.9}, max_drop={"accuracy": -1})
    with pytest.raises(ValueError, match="y_true has 100 rows but y_pred has 3"):
        evaluate_decay(Y, Y[:3], None, "binary", {"accuracy": 0.9}, max_drop={"accuracy": 0.1})


def _drift(share: float, unseen=()) -> DriftReport:
    n = 10
    drifted = int(round(share * n))
    columns = [ColumnDrift(f"f{i}", "numeric", 0.5 if i < drifted else 0.01, 0.1, i < drifted) for i in range(n)]
    if unseen:
        columns[-1] = ColumnDrift("region", "categorical", 0.02, 0.1, True, unseen_categories=list(unseen))
    names = [c.column for c in columns if c.drifted]
    return DriftReport(columns, len(names) / n, names, bool(names))


def _decay(decayed: bool) -> DecayReport:
    return DecayReport("binary", 100, {"accuracy": 0.7}, {"accuracy": 0.9}, {"accuracy": 0.2}, {"accuracy": 0.05},
                       decayed, ["accuracy worsened"] if decayed else [])


@pytest.mark.parametrize(
    "share, decayed, expected",
    [(0.0, False, "none"), (0.1, False, "alert"), (0.2, False, "alert"), (0.3, False, "retrain"),
     (0.0, True, "retrain"), (0.5, True, "retrain")],
)
def test_actions(share, decayed, expected):
    decision = decide(_drift(share), _decay(decayed), PolicySection(alert_drift_share=0.1, retrain_drift_share=0.3))
    assert decision.action == expected
    assert (decision.reasons == []) == (expected == "none")


def test_reasons_say_what_fired():
    decision = decide(_drift(0.4), _decay(True), PolicySection())
    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("retrain: 40% of features drifted (>= 30%): f0, f1, f2, f3")
    assert decision.reasons[-1] == "retrain: model decayed: accuracy worsened"
    assert MonitoringDecision.from_json(decision.to_json()) == decision


def test_unseen_category_alerts_and_decay_without_retrain_alerts():
    assert decide(_drift(0.0, unseen=["central"]), None, PolicySection()).action == "alert"
    assert decide(None, _decay(True), PolicySection(retrain_on_decay=False)).action == "alert"
    assert decide(None, None, PolicySection()).action == "none"


def test_policy_is_validated_by_name():
    def load(policy):
        return load_config("monitoring", MonitoringConfig, {f"policy.{k}": v for k, v in policy.items()})

    with pytest.raises(ConfigError, match=r"policy.retrain_share: Extra inputs are not permitted"):
        load({"retrain_share": 0.3})
    with pytest.raises(ConfigError, match=r"policy.alert_drift_share: Input should be less than or equal to 1"):
        load({"alert_drift_share": 1.5})
    with pytest.raises(ConfigError, match="must not exceed retrain_drift_share"):
        load({"alert_drift_share": 0.5, "retrain_drift_share": 0.3})
    with pytest.raises(ConfigError, match="policy.retrain_on_decay: Input should be a valid boolean"):
        load({"retrain_on_decay": "maybe"})


def test_generic_classification_task_is_resolved():
    report = evaluate_decay(Y, Y, _proba(Y), "classification", {"accuracy": 0.9}, max_drop={"accuracy": 0.05})
    assert report.task == "binary" and not report.decayed
    with pytest.raises(ValueError, match="task must be 'binary', 'multiclass', 'classification' or 'regression'"):
        evaluate_decay(Y, Y, None, "ranking", {"accuracy": 0.9}, max_drop={"accuracy": 0.05})
