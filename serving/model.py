"""The model class `seldon-core-microservice` serves: `seldon-core-microservice serving.model.SeldonModel`.

One class for both backends: local daemons and the Kubernetes image run the same code with the same parameters
(model_uri, model_name, model_version, run_id, data_fingerprint, git_commit). Bad input is answered with HTTP 400
`MICROSERVICE_BAD_DATA` and a message naming the problem; custom metrics ride on each response's meta and Seldon
exports them on the metrics port (`/prometheus`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict, List, Optional

import numpy as np

from serving.identity import ModelIdentity
from serving.artifact import ModelArtifact, input_example
from serving.recorder import Recorder, RecorderSettings
from serving.request_guard import _seldon_error, make_guard
from serving.schema import BadInput, InputSchema

logger = logging.getLogger(__name__)

# Custom metric names, exported by Seldon with its default labels (deployment_name, model_name, ...).
REQUESTS_METRIC = "model_requests_total"
ROWS_METRIC = "model_rows_total"
ERRORS_METRIC = "model_request_errors_total"
LATENCY_METRIC = "model_predict_latency_seconds"  # Seldon TIMER: we report ms, it exports a seconds histogram
CLASS_METRIC = "model_predicted_class_total"
FEEDBACK_METRIC = "model_feedback_labels_total"

# model folder -> estimator loaded before the daemon forked its workers (a warm standby, `SeldonModel.preload`)
_PRELOADED: Dict[str, Any] = {}


class SeldonModel:
    """Serves one MLflow sklearn model (skops) with schema validation, metadata, health and metrics."""

    def __init__(
        self,
        model_uri: str,
        model_name: str = "",
        model_version: str = "",
        run_id: str = "",
        data_fingerprint: str = "",
        git_commit: str = "",
    ):
        # The signature is read eagerly (cheap, no unpickling): Seldon asks for metadata before load() runs.
        self.artifact = ModelArtifact.read(model_uri)
        self.identity = ModelIdentity(name=model_name, version=model_version, uri=model_uri,
                                      run_id=run_id or self.artifact.run_id, data_fingerprint=data_fingerprint,
                                      git_commit=git_commit)
        self.schema = InputSchema(self.artifact.inputs)
        self.model = None
        self.classes: Optional[List[str]] = None
        self._transform = None  # numpy preprocessing (serving.fastpath), when it reproduces the pipeline exactly
        self._estimator = None
        self._tags = {"model_name": self.identity.name, "model_version": self.identity.version}
        # Recording what is served (serving.recorder) is on when the deployer gave it a directory.
        self.recording = RecorderSettings.from_env()
        self.recorder: Optional[Recorder] = None
        self.model_error_handler = make_guard(self._count_rejected, feedback=self.recording is not None)
        # Seldon's metrics store, handed over by serving.launch; bodies rejected before predict_raw are counted here
        self.seldon_metrics = None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    @classmethod
    def preload(cls, **parameters: str) -> None:
        """Load the model, and the libraries its load and first predictions import, before the daemon serves.

        A warm standby (serving.launch under `core.supervise --standby`) runs this while it waits; the workers it
        forks once promoted inherit the estimator, so their `load` only checks it. Nothing is recorded here.
        """
        warm = cls(**parameters)
        warm.recording = None
        warm.load()
        _PRELOADED[str(warm.artifact.path)] = warm.model

    def load(self) -> None:
        """Load the model and check it can predict its own input example; raise (and so fail the worker) if not."""
        from sklearn import set_config

        # Inputs are validated finite by serving.schema; skip sklearn's per-call re-validation on the hot path.
        set_config(assume_finite=True, skip_parameter_validation=True)
        model = _PRELOADED.get(str(self.artifact.path))
        if model is None:
            model = self.artifact.load_estimator()
        if not hasattr(model, "predict"):
            raise TypeError(f"{self.artifact.model_file}: loaded {type(model).__name__}, which has no predict()")
        self.classes = [str(c) for c in model.classes_] if hasattr(model, "predict_proba") else None
        self.model = model
        self._compile(model)
        if self.recording is not None:
            self.recorder = Recorder(self.recording, self.schema.names, self.classes, self.identity.version)
        probe = self._probe_columns()
        if probe is not None:
            self._predict(probe, len(next(iter(probe.values()))))  # fail fast: the model must score its own example
        logger.info(
            "loaded %s version %s from %s (%s path)",
            self.identity.name, self.identity.version, self.identity.uri, "numpy" if self._transform else "pandas",
        )

    def _compile(self, model) -> None:
        """Use the numpy preprocessing if the pipeline is the project's shape and both paths agree on probe rows."""
        from serving.fastpath import Unsupported, compile_preprocess

        steps = getattr(model, "steps", None)
        if not steps or len(steps) != 2:
            return
        preprocess, estimator = steps[0][1], steps[1][1]
        if hasattr(estimator, "feature_names_in_"):
            return  # the estimator expects a DataFrame (set_output="pandas"): keep the sklearn path
        try:
            transform = compile_preprocess(preprocess, self.schema.names)
        except Unsupported as exc:
            logger.info("numpy preprocessing not used: %s", exc)
            return
        probe = self._probe_columns(with_missing=True)
        if probe is None:
            return
        n_rows = len(next(iter(probe.values())))
        expected = preprocess.transform(self._frame(probe))
        expected = expected.toarray() if hasattr(expected, "toarray") else np.asarray(expected, dtype=np.float64)
        got = transform({k: list(v) for k, v in probe.items()}, n_rows)
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True):
            logger.warning("numpy preprocessing disagrees with the pipeline on probe rows; using the sklearn path")
            return
        self._transform, self._estimator = transform, estimator

    def _probe_columns(self, with_missing: bool = False) -> Optional[Dict[str, List[Any]]]:
        """Columns of the MLflow input example, optionally plus one all-missing row (exercises the imputers)."""
        example = input_example(self.artifact.path)
        if not example or "columns" not in example:
            return None
        rows = [list(r) for r in example["data"]]
        if with_missing:
            rows.append([None] * len(example["columns"]))
        return self.schema.parse({"data": {"names": example["columns"], "ndarray": rows}})

    def health_status(self) -> Dict[str, str]:
        """503 until load() has succeeded in this worker; then the model's identity."""
        if self.model is None:
            raise _seldon_error("model not loaded yet", status_code=503, reason="MICROSERVICE_NOT_READY")
        return {"status": "ok", **self._tags}

    def _count_rejected(self, reason: str) -> None:
        if self.seldon_metrics is not None:
            error = {"type": "COUNTER", "key": ERRORS_METRIC, "value": 1, "tags": {"reason": reason}}
            self.seldon_metrics.update([error], "predict")

    # -- prediction -----------------------------------------------------------------------------------------------
    def predict_raw(self, request: Dict[str, Any]) -> Dict[str, Any]:
        """Seldon v1 JSON in, {"data": {"names": classes, "ndarray": probabilities}} out; 400 on bad input."""
        started = time.perf_counter()
        if self.model is None:
            raise _seldon_error("model not loaded yet", status_code=503, reason="MICROSERVICE_NOT_READY")
        try:
            columns = self.schema.parse(request)
            n_rows = len(columns[self.schema.names[0]])
            values = self._predict(columns, n_rows)
        except BadInput as exc:
            # Returned, not raised: Seldon sets the HTTP status from status.code and still records meta.metrics.
            return {
                "status": {"code": 400, "info": str(exc), "reason": "MICROSERVICE_BAD_DATA", "status": "FAILURE"},
                "meta": {"metrics": [
                    {"type": "COUNTER", "key": ERRORS_METRIC, "value": 1, "tags": {"reason": "bad_data"}},
                ]},
            }
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        metrics = [
            {"type": "COUNTER", "key": REQUESTS_METRIC, "value": 1},
            {"type": "COUNTER", "key": ROWS_METRIC, "value": n_rows},
            {"type": "TIMER", "key": LATENCY_METRIC, "value": elapsed_ms},
        ]
        if self.classes is not None:
            counts = np.bincount(values.argmax(axis=1), minlength=len(self.classes))
            metrics += [
                {"type": "COUNTER", "key": CLASS_METRIC, "value": int(n), "tags": {"class": c}}
                for c, n in zip(self.classes, counts.tolist())
                if n
            ]
            names = self.classes
        else:
            names = ["prediction"]
        meta: Dict[str, Any] = {"tags": dict(self._tags), "metrics": metrics}
        if self.recorder is not None:
            # The ids clients send back with labels (Seldon's feedback API, `run.py feedback`).
            meta["puid"], meta["tags"]["prediction_ids"] = self.recorder.record(columns, n_rows, values)
        return {"data": {"names": names, "ndarray": values.tolist()}, "meta": meta}

    def send_feedback_raw(self, feedback) -> Any:
        """Seldon's feedback API: labels for earlier predictions, joined later to the prediction log by id."""
        from google.protobuf import json_format
        from seldon_core.proto import prediction_pb2

        from serving.feedback import parse_feedback

        if self.recorder is None:
            raise _seldon_error("feedback is not recorded: this endpoint was started without a record directory",
                                status_code=404)
        try:
            labels = parse_feedback(json_format.MessageToDict(feedback))
        except BadInput as exc:
            self._count_rejected("bad_feedback")
            raise _seldon_error(str(exc)) from None
        self.recorder.feedback(labels)
        reply = {"jsonData": {"received": len(labels)},
                 "meta": {"metrics": [{"type": "COUNTER", "key": FEEDBACK_METRIC, "value": len(labels)}]}}
        return json_format.ParseDict(reply, prediction_pb2.SeldonMessage())

    def _predict(self, columns: Dict[str, List[Any]], n_rows: int) -> np.ndarray:
        """Class probabilities (n_rows x n_classes) or regression values (n_rows x 1)."""
        if self._transform is not None:
            features = self._transform(columns, n_rows)
            model = self._estimator
        else:
            features = self._frame(columns)
            model = self.model
        if self.classes is not None:
            return model.predict_proba(features)
        return np.asarray(model.predict(features), dtype=np.float64).reshape(-1, 1)

    def _frame(self, columns: Dict[str, List[Any]]):
        import pandas as pd

        return pd.DataFrame({name: columns[name] for name in self.schema.names})

    # -- metadata -------------------------------------------------------------------------------------------------
    def init_metadata(self) -> Dict[str, Any]:
        """Input/output schema, model identity, lineage (MLflow run id, data fingerprint, git commit)."""
        json_types = {"double": "number", "float": "number", "long": "integer", "integer": "integer",
                      "string": "string", "boolean": "boolean"}
        record_schema = {
            "type": "object",
            "properties": {c.name: {"type": [json_types.get(c.type, "string"), "null"]} for c in self.schema.columns},
            "required": self.schema.names,
        }
        outputs = self.artifact.outputs
        out_shape = outputs[0].get("tensor-spec", {}).get("shape", [-1]) if outputs else [-1]
        n_out = out_shape[-1] if len(out_shape) > 1 else 1
        return {
            "name": self.identity.name,
            "versions": [self.identity.version],
            "platform": "seldon-sklearn-skops",
            "inputs": [
                {"messagetype": "ndarray", "schema": {"names": self.schema.names, "shape": [len(self.schema.names)]}},
                {"messagetype": "jsonData", "schema": record_schema},
            ],
            "outputs": [{"messagetype": "ndarray", "schema": {"shape": [-1, n_out]}}],
            "custom": {
                "mlflow_run_id": self.identity.run_id,
                "data_fingerprint": self.identity.data_fingerprint,
                "git_commit": self.identity.git_commit,
                "model_uri": self.identity.uri,
                "sklearn_version": self.artifact.sklearn_version,
                "input_types": json.dumps({c.name: c.type for c in self.schema.columns}),
            },
        }

