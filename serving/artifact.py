"""Read an MLflow sklearn model directory without MLflow: the MLmodel YAML and a skops file loaded with an allowlist.

Nothing here unpickles. skops rebuilds its own safe defaults (scikit-learn's estimators, numpy arrays, plain
builtins) and, beyond them, only the exact types listed in TRUSTED_TYPES: the one allowlist that training
(registration), the materializer and the endpoint all apply.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

# The types beyond skops' defaults that the models of steps/training/model_factory.py contain, for every estimator,
# task and loss it builds, calibrated or not (steps/training/calibration.py): tests/serving/test_allowlist.py derives
# them from the factory and checks this set equals them. Exact names, never prefixes: `numpy.` would admit numpy.load inside a FunctionTransformer.
TRUSTED_TYPES = frozenset({
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",  # CalibratedClassifierCV's fitted per-class calibrators
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
})


class ModelArtifactError(RuntimeError):
    """The model directory is missing, malformed, or holds types we refuse to load."""


def is_trusted(type_name: str) -> bool:
    return type_name in TRUSTED_TYPES


def trusted_types(found: Iterable[str], source: str = "model") -> List[str]:
    """Return `found` if every type is on the allowlist, else raise naming the refused types.

    `found` is what `skops.io.get_untrusted_types` reports (skops' own safe defaults are never in it). Training
    uses this too, to pass `skops_trusted_types` to MLflow, so a model that registers is a model that serves.
    """
    found = sorted(set(found))
    refused = [t for t in found if not is_trusted(t)]
    if refused:
        raise ModelArtifactError(
            f"{source} contains types outside the serving allowlist: {', '.join(refused)}. Only the models "
            f"steps/training/model_factory.py builds are served (beyond skops' defaults it trusts exactly "
            f"{', '.join(sorted(TRUSTED_TYPES))}); a new estimator's types go into serving.artifact.TRUSTED_TYPES "
            "after review"
        )
    return found


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str  # MLflow column type: double, float, long, integer, boolean, string, ...
    required: bool = True


@dataclasses.dataclass(frozen=True)
class ModelArtifact:
    """What the serving side needs to know about an MLflow model directory, read without loading the model."""

    path: Path
    model_file: Path
    inputs: List[ColumnSpec]
    outputs: List[Dict[str, Any]]
    run_id: str = ""
    mlflow_version: str = ""
    sklearn_version: str = ""

    @classmethod
    def read(cls, model_uri: str) -> "ModelArtifact":
        """Parse `<model_uri>/MLmodel`; raise ModelArtifactError naming what is wrong."""
        import yaml

        path = Path(model_uri.removeprefix("file://")).expanduser()
        mlmodel = path / "MLmodel"
        if not mlmodel.is_file():
            raise ModelArtifactError(f"no MLflow model at {path}: {mlmodel.name} not found")
        meta = yaml.safe_load(mlmodel.read_text()) or {}
        flavor = (meta.get("flavors") or {}).get("sklearn")
        if not flavor:
            raise ModelArtifactError(f"{mlmodel}: no 'sklearn' flavor (found {sorted(meta.get('flavors') or {})})")
        if flavor.get("serialization_format") != "skops":
            raise ModelArtifactError(
                f"{mlmodel}: serialization_format must be 'skops', found {flavor.get('serialization_format')!r}; "
                "the serving path never unpickles"
            )
        signature = meta.get("signature") or {}
        if not signature.get("inputs"):
            raise ModelArtifactError(f"{mlmodel}: the model has no input signature; log it with infer_signature()")
        inputs = [
            ColumnSpec(c["name"], c["type"], c.get("required", True)) for c in json.loads(signature["inputs"])
        ]
        unnamed = [i for i, c in enumerate(inputs) if not c.name]
        if unnamed:
            raise ModelArtifactError(f"{mlmodel}: input signature must be column-based; columns {unnamed} have no name")
        outputs = json.loads(signature["outputs"]) if signature.get("outputs") else []
        return cls(
            path=path,
            model_file=path / flavor.get("pickled_model", "model.skops"),
            inputs=inputs,
            outputs=outputs,
            run_id=meta.get("run_id") or "",
            mlflow_version=meta.get("mlflow_version") or "",
            sklearn_version=flavor.get("sklearn_version") or "",
        )

    def load_estimator(self) -> Any:
        """Load the skops file, trusting only allowlisted types."""
        import skops.io

        if not self.model_file.is_file():
            raise ModelArtifactError(f"model file not found: {self.model_file}")
        try:
            untrusted = skops.io.get_untrusted_types(file=self.model_file)
        except Exception as exc:  # zipfile/json errors: the file is damaged or not skops at all
            raise ModelArtifactError(
                f"{self.model_file} is not a readable skops file: {type(exc).__name__}: {exc}"
            ) from exc
        trusted = trusted_types(untrusted, source=str(self.model_file))
        return skops.io.load(self.model_file, trusted=trusted)


def input_example(path: Path) -> Optional[Dict[str, Any]]:
    """The MLflow input example (pandas 'split' orient), if the model was logged with one."""
    example = path / "input_example.json"
    return json.loads(example.read_text()) if example.is_file() else None
