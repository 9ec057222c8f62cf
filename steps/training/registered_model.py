"""The registered-model artifact: which MLflow model version a training run produced."""

from __future__ import annotations

import dataclasses
import html

from materializers.report_base import Report, html_page
from serving.identity import ModelIdentity


@dataclasses.dataclass
class RegisteredModel(Report):
    title = "Registered model"
    name: str
    version: str
    run_id: str
    model_uri: str
    alias: str
    task: str
    primary_metric: str
    primary_value: float
    data_fingerprint: str
    git_commit: str
    tracking_uri: str = ""

    @property
    def identity(self) -> ModelIdentity:
        """The registered version as the deployer and the serving model class know it."""
        return ModelIdentity(name=self.name, version=self.version, uri=self.model_uri, run_id=self.run_id,
                             data_fingerprint=self.data_fingerprint, git_commit=self.git_commit)

    def to_html(self) -> str:
        body = (
            f"<p>MLflow model <b>{html.escape(self.name)}</b> version <b>{self.version}</b>, alias "
            f"<b>{self.alias}</b>.</p><table>"
            f"<tr><th>holdout {self.primary_metric}</th><td>{self.primary_value:.4f}</td></tr>"
            f"<tr><th>MLflow run</th><td>{self.run_id}</td></tr><tr><th>model URI</th><td>{self.model_uri}</td></tr>"
            f"<tr><th>data fingerprint</th><td>{self.data_fingerprint}</td></tr>"
            f"<tr><th>git commit</th><td>{self.git_commit}</td></tr></table>"
        )
        return html_page(self.title, body)
