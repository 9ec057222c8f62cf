"""Batch results in the Prometheus text format (the real Pushgateway parses them in the integration test)."""

import pytest

from monitoring import metrics as m
from monitoring.push import format_exposition, monitoring_metrics, series
from steps.monitoring.decay import DecayReport
from steps.monitoring.decision import MonitoringDecision
from steps.monitoring.drift import ColumnDrift, DriftReport


def test_exposition_groups_series_under_one_type_line():
    text = format_exposition({
        series(m.FEATURE_HELLINGER, feature="age"): 0.2,
        m.DRIFT_SHARE: 0.5,
        series(m.FEATURE_HELLINGER, feature='we"ird'): 0.1,
    })
    assert text == (
        "# TYPE mlops_drift_share gauge\nmlops_drift_share 0.5\n"
        "# TYPE mlops_feature_hellinger gauge\nmlops_feature_hellinger{feature=\"age\"} 0.2\n"
        "mlops_feature_hellinger{feature=\"we\\\"ird\"} 0.1\n"
    )


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="invalid Prometheus metric name '1bad'"):
        series("1bad", a="b")
    with pytest.raises(ValueError, match="invalid labels in metric key"):
        format_exposition({"x{a=b}": 1})


def test_monitoring_metrics_from_reports():
    columns = [ColumnDrift("age", "numeric", 0.3, 0.1, True), ColumnDrift("plan", "categorical", 0.01, 0.1, False)]
    drift = DriftReport(columns, 0.5, ["age"], True)
    decay = DecayReport("binary", 100, {"accuracy": 0.7}, {"accuracy": 0.9}, {"accuracy": 0.2}, {"accuracy": 0.05},
                        True, ["x"])
    out = monitoring_metrics(drift, decay, MonitoringDecision("retrain", ["x"]), n_rows=100)
    assert out[m.DRIFT_SHARE] == 0.5 and out[m.DRIFT_DETECTED] == 1.0
    assert out['mlops_feature_hellinger{feature="age"}'] == 0.3
    assert out['mlops_feature_drifted{feature="plan"}'] == 0.0
    assert out[m.BATCH_ACCURACY] == 0.7 and out[m.BATCH_ACCURACY_THRESHOLD] == pytest.approx(0.85)
    assert out['mlops_monitoring_decision{action="retrain"}'] == 1.0
    assert out['mlops_monitoring_decision{action="none"}'] == 0.0
    format_exposition(out)  # every key is valid


def test_estimated_performance_is_pushed_with_its_band():
    from steps.monitoring.estimated_decay import EstimatedDecayReport

    estimated = EstimatedDecayReport(
        task="binary", method="CBPE", n_rows=300,
        estimates={"accuracy": {"estimate": 0.66, "lower": 0.63, "upper": 0.69}},
        reference_metrics={"accuracy": 0.75}, drops={"accuracy": 0.09}, max_drop={"accuracy": 0.05}, decayed=True,
        decayed_metrics=["accuracy"])
    out = monitoring_metrics(estimated=estimated)
    assert out[m.ESTIMATED_DECAYED] == 1.0
    assert out['mlops_estimated_metric{bound="estimate",metric="accuracy"}'] == 0.66
    assert out['mlops_estimated_metric{bound="lower",metric="accuracy"}'] == 0.63
    assert out['mlops_estimated_metric{bound="upper",metric="accuracy"}'] == 0.69
    format_exposition(out)
