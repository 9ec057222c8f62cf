"""Artifacts of the deployment stage: the candidates it compared and what it deployed."""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Dict, List, Optional

from materializers.report_base import Report, html_page
from steps.deployment.registry import ModelRef


@dataclasses.dataclass
class Candidates(Report):
    """The version to deploy (`challenger`: the registry's challenger unless a version or alias was chosen), the
    champion, and what the model's endpoint served at the time of the deployment run."""

    title = "Deployment candidates"
    model_name: str
    challenger: Dict[str, Any]
    champion: Optional[Dict[str, Any]]
    zenml_model_version: str
    deployment_name: str = ""
    selected_by: str = "alias 'challenger'"
    serving_version: Optional[str] = None  # the version the endpoint actively serves (None: not serving)

    @property
    def challenger_ref(self) -> ModelRef:
        return ModelRef(**self.challenger)

    @property
    def champion_ref(self) -> Optional[ModelRef]:
        return ModelRef(**self.champion) if self.champion else None


@dataclasses.dataclass
class DeploymentRecord(Report):
    """Where a model version serves, or why nothing was deployed."""

    title = "Deployment"
    deployment_name: str
    deployed: bool
    model_name: str
    model_version: str
    url: str = ""
    state: str = ""
    backend: str = ""
    parity: Dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: List[str] = dataclasses.field(default_factory=list)

    @classmethod
    def skipped(cls, candidates: Candidates, reasons: List[str]) -> "DeploymentRecord":
        return cls(deployment_name=candidates.deployment_name, deployed=False, model_name=candidates.model_name,
                   model_version=candidates.challenger["version"], notes=["not deployed", *reasons])

    def to_html(self) -> str:
        status = (f"<p class='pass'>v{self.model_version} serving at <code>{html.escape(self.url)}</code></p>"
                  if self.deployed else f"<p class='fail'>v{self.model_version} not deployed</p>")
        parity = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in self.parity.items())
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return html_page(self.title, f"{status}<ul>{notes}</ul><table>{parity}</table>")
