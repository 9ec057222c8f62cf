"""The model card: what a model version is for, what it learned from and how well it does, generated from the
training run's artifacts (plain functions; shown in the dashboard and attached to the MLflow model version)."""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Dict, List

from materializers.report_base import Report, html_page

CARD_SLICES = 5
CARD_FEATURES = 10
CARD_FILE = "model_card.md"
INTENDED_USE_FIELDS = ("description", "audience", "use_cases", "limitations", "ethics", "license")
# Display order (a card read back from JSON has its dict keys sorted).
DATA_FIELDS = ("source", "fingerprint", "rows", "holdout rows", "target", "task", "numeric features",
               "categorical features", "dropped columns")
TRAINING_FIELDS = ("scoring", "cv folds", "candidates", "best params", "best CV score")


@dataclasses.dataclass
class ModelCardReport(Report):
    """One model version's card."""

    title = "Model card"
    name: str
    version: str
    model_uri: str
    run_id: str
    git_commit: str
    intended_use: Dict[str, str]  # description, audience, use cases, limitations, ethics, license (from the config)
    data: Dict[str, Any]  # source, fingerprint, rows, target, task, features, dropped columns and why
    training: Dict[str, Any]  # scoring, CV folds, candidates, best params and CV score
    primary_metric: str
    metrics: Dict[str, float]
    worst_slices: List[Dict[str, Any]]
    importance: List[Dict[str, Any]]
    calibration: Dict[str, Any] = dataclasses.field(default_factory=dict)  # chosen, holdout_log_loss per option
    behaviour: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # the behaviour checks' results

    def sections(self) -> List[tuple[str, List[tuple[str, str]]]]:
        """(heading, [(label, text)]) in card order: the one layout both renderings follow."""
        calibration = [(k, f"{self.metrics[k]:.4f}") for k in ("brier_score", "ece") if k in self.metrics]
        if self.calibration.get("holdout_log_loss"):
            calibration.append(("calibrated by", f"{self.calibration['chosen']} (lowest holdout log loss; fitted on "
                                                 f"{self.calibration['calibration_rows']} set-aside training rows)"))
            calibration += [(f"holdout log loss, {k}", f"{v:.4f}")
                            for k, v in sorted(self.calibration["holdout_log_loss"].items())]
        return [
            ("Model", [("name", self.name), ("version", self.version), ("MLflow model", self.model_uri),
                       ("MLflow run", self.run_id), ("git commit", self.git_commit)]),
            ("Intended use", [(k.replace("_", " "), self.intended_use[k]) for k in INTENDED_USE_FIELDS
                              if self.intended_use.get(k)]),
            ("Data", [(k, _text(self.data[k])) for k in DATA_FIELDS if k in self.data]),
            ("Training", [(k, _text(self.training[k])) for k in TRAINING_FIELDS if k in self.training]),
            ("Holdout metrics", [(f"{k}{' (primary)' if k == self.primary_metric else ''}", f"{v:.4f}")
                                 for k, v in sorted(self.metrics.items())]),
            ("Calibration", calibration),
            ("Worst slices", [(f"{s['feature']}={s['value']} ({s['rows']} rows)", f"{s['score']:.4f}")
                              for s in self.worst_slices]),
            ("Behaviour checks", [(f"{r['name']} ({r['kind']})", f"{'pass' if r['passed'] else 'FAIL'}: {r['detail']}")
                                  for r in self.behaviour]),
            ("Permutation importance (holdout)", [(r["feature"], f"{r['mean']:.4f} ± {r['std']:.4f}")
                                                 for r in self.importance]),
        ]

    def to_markdown(self) -> str:
        lines = [f"# Model card: {self.name} v{self.version}"]
        for heading, rows in self.sections():
            if rows:
                lines += ["", f"## {heading}", "", "| | |", "|---|---|"]
                lines += [f"| {label} | {text.replace('|', '/')} |" for label, text in rows]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        body = "".join(
            f"<h3>{html.escape(heading)}</h3><table>"
            + "".join(f"<tr><th>{html.escape(label)}</th><td>{html.escape(text)}</td></tr>" for label, text in rows)
            + "</table>"
            for heading, rows in self.sections() if rows)
        return html_page(f"{self.title}: {self.name} v{self.version}", body)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def build_card(intended_use: Dict[str, Any], registered: Any, schema: Any, evaluation: Any, search: Any
               ) -> ModelCardReport:
    """The card of `registered` from the config's intended use and the run's schema, evaluation and search."""
    scored = [s for s in evaluation.slices if s["score"] is not None]
    return ModelCardReport(
        name=registered.name, version=registered.version, model_uri=registered.model_uri, run_id=registered.run_id,
        git_commit=registered.git_commit,
        intended_use={k: str(intended_use.get(k) or "") for k in INTENDED_USE_FIELDS},
        data={"source": schema.source, "fingerprint": schema.fingerprint, "rows": schema.n_rows,
              "target": schema.target, "task": schema.task, "numeric features": schema.numeric,
              "categorical features": schema.categorical, "dropped columns": schema.dropped,
              "holdout rows": evaluation.n_rows},
        training={"scoring": search.scoring, "cv folds": search.cv_folds, "candidates": len(search.candidates),
                  "best params": search.best_params or "as configured", "best CV score": round(search.best_score, 4)
                  if search.candidates else "no search"},
        primary_metric=evaluation.primary_metric, metrics=dict(evaluation.metrics),
        worst_slices=scored[:CARD_SLICES], importance=evaluation.importance[:CARD_FEATURES],
        calibration=dict(evaluation.calibration_choice), behaviour=list(evaluation.behaviour),
    )


def attach_card(card: ModelCardReport, tracking_uri: str) -> None:
    """The card as the MLflow model version's description and as `model_card.md` in its training run."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri or None)
    markdown = card.to_markdown()
    client.log_text(card.run_id, markdown, CARD_FILE)
    client.update_model_version(card.name, card.version, description=markdown)
