"""The model card, built from the run's own report types (no ZenML)."""

import numpy as np

from steps.data.schema import DataSchema
from steps.evaluation.metrics import evaluate
from steps.evaluation.model_card import CARD_SLICES, ModelCardReport, build_card
from steps.training.registered_model import RegisteredModel
from steps.training.search import SearchReport


def _card():
    y = np.array([0, 1] * 20)
    proba = np.column_stack([1 - 0.8 * y - 0.1, 0.8 * y + 0.1])
    evaluation = evaluate(y, y, "binary", proba, [0, 1])
    evaluation.slices = [{"feature": "plan", "value": f"p{i}", "rows": 40, "score": 0.5 + i / 100} for i in range(8)]
    evaluation.slices.append({"feature": "plan", "value": "one-class", "rows": 40, "score": None})
    evaluation.importance = [{"feature": "tenure", "mean": 0.2, "std": 0.01}]
    schema = DataSchema(source="churn.csv", fingerprint="sha256:abc", n_rows=200, target="churned", task="binary",
                        numeric=["tenure"], categorical=["plan"], dropped={"id": "identifier"}, decisions=[],
                        contract={})
    registered = RegisteredModel(name="churn", version="3", run_id="r1", model_uri="models:/churn/3",
                                 alias="challenger", task="binary", primary_metric="roc_auc", primary_value=1.0,
                                 data_fingerprint="sha256:abc", git_commit="deadbeef")
    search = SearchReport(scoring="roc_auc", cv_folds=3, best_params={"max_depth": 3}, best_score=0.91,
                          candidates=[{"params": {"max_depth": 3}, "mean_score": 0.91, "std_score": 0.01, "rank": 1}])
    use = {"description": "Predicts churn", "use_cases": "Retention | outreach", "limitations": "Synthetic data",
           "ethics": None}
    return build_card(use, registered, schema, evaluation, search)


def test_card_holds_data_metrics_slices_importance_and_intended_use():
    card = _card()
    assert [s["value"] for s in card.worst_slices] == [f"p{i}" for i in range(CARD_SLICES)]
    assert card.intended_use["ethics"] == "" and card.intended_use["limitations"] == "Synthetic data"
    assert card.data["fingerprint"] == "sha256:abc" and card.data["dropped columns"] == {"id": "identifier"}
    assert card.training["best CV score"] == 0.91 and "brier_score" in card.metrics and "ece" in card.metrics
    again = ModelCardReport.from_json(card.to_json())
    assert again == card and again.to_markdown() == card.to_markdown()  # same layout after a JSON round trip


def test_card_renders_as_html_and_markdown():
    card = _card()
    page = card.to_html()
    for text in ("Model card: churn v3", "Intended use", "Synthetic data", "plan=p0 (40 rows)", "Calibration",
                 "roc_auc (primary)", "tenure", "id: identifier", "max_depth: 3"):
        assert text in page, text
    markdown = card.to_markdown()
    assert markdown.startswith("# Model card: churn v3\n") and "## Worst slices" in markdown
    assert "| use cases | Retention / outreach |" in markdown and "ethics" not in markdown
