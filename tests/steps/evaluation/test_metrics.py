"""Holdout metrics and their report."""

import numpy as np

from steps.evaluation.metrics import EvaluationReport, evaluate


def test_binary_metrics_and_curves():
    y = np.array([0, 0, 1, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7], [0.7, 0.3], [0.4, 0.6]])
    pred = proba.argmax(axis=1)
    report = evaluate(y, pred, "binary", proba, [0, 1])
    assert report.primary_metric == "roc_auc"
    assert report.metrics["accuracy"] == 4 / 6
    assert report.confusion_matrix == [[2, 1], [1, 2]]
    assert report.roc_curve["fpr"][0] == 0.0 and report.roc_curve["tpr"][-1] == 1.0
    assert report.pr_curve["recall"][0] == 1.0 and report.metrics["average_precision"] > 0
    assert report.metrics["brier_score"] == np.mean((proba[:, 1] - y) ** 2)
    assert 0 <= report.metrics["ece"] <= 1 and sum(report.calibration_curve["count"]) == 6
    html = report.to_html()
    assert html.count("data:image/png;base64,") == 4 and "roc_auc (primary)" in html


def test_figures_cover_what_the_report_holds():
    from steps.evaluation.figures import close, report_figures

    y = np.array([0, 0, 1, 1])
    report = evaluate(y, y, "binary", np.eye(2)[y], [0, 1])
    report.importance = [{"feature": "x", "mean": 0.3, "std": 0.01}]
    report.slices = [{"feature": "segment", "value": "a&b", "rows": 40, "score": 0.5}]
    figures = report_figures(report)
    assert list(figures) == ["confusion_matrix", "roc_curve", "pr_curve", "calibration_curve",
                             "permutation_importance"]
    close(figures)
    html = report.to_html()
    assert "Worst slices" in html and "a&amp;b" in html and "-0.5000" in html and "Permutation importance" in html
    regression = evaluate(np.arange(5.0), np.arange(5.0), "regression")
    figures = report_figures(regression)
    assert list(figures) == ["residuals"]
    close(figures)


def test_report_round_trips_through_json():
    y = np.array(["a", "b", "c", "a"])
    report = evaluate(y, y, "multiclass", np.eye(3)[[0, 1, 2, 0]], ["a", "b", "c"])
    again = EvaluationReport.from_json(report.to_json())
    assert again == report and again.metrics["f1_macro"] == 1.0


def test_regression_metrics_and_residuals():
    y = np.linspace(0, 10, 50)
    report = evaluate(y, y + 1.0, "regression")
    assert report.primary_metric == "r2"
    assert abs(report.metrics["mae"] - 1.0) < 1e-9 and abs(report.metrics["rmse"] - 1.0) < 1e-9
    assert len(report.residuals["residual"]) == 50
