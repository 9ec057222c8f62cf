"""Every kind of SeldonDeployment the generator makes: the tests validate and scan these same objects."""

from __future__ import annotations

from stacks.seldon import seldon_deployment as sd
from tests.stacks.kubernetes.conftest import IMAGE, NAMESPACE, model_spec

OPTIONS = sd.ServingOptions(image=IMAGE, service_account="mlops-model", model_storage_secret="seldon-model-storage")
FULL_OPTIONS = sd.ServingOptions(
    image=IMAGE, service_account="mlops-model", model_storage_secret="seldon-model-storage",
    hpa={"min_replicas": 2, "max_replicas": 5, "target_cpu_utilization": 60}, pdb={"min_available": 1},
)
RECORDING_OPTIONS = sd.ServingOptions(image=IMAGE, service_account="mlops-model",
                                      model_storage_secret="seldon-model-storage", recording_claim="mlops-live-recording")
# configs/deployment.yaml's serving.recording as the deploy step puts it in the spec (steps/deployment/rollout.py)
RECORDING = {"enabled": True, "sample": 0.5, "window_seconds": 300.0, "log_retention_hours": 168.0,
             "log_max_mb": 256.0, "write_seconds": 30.0}


def _variants():
    """(label, SeldonDeployment) for every rollout mode, with and without HPA/PDB and sizing."""
    v1 = sd.desired_deployment(model_spec(1), NAMESPACE, OPTIONS)
    sized = model_spec(2, workers=2, threads=4, replicas=3, resources={"requests": {"cpu": "1", "memory": "2Gi"},
                                                                      "limits": {"cpu": "2", "memory": "4Gi"}})
    yield "replace", v1
    yield "replace-hpa-pdb", sd.desired_deployment(sized, NAMESPACE, FULL_OPTIONS)
    yield "canary", sd.desired_deployment(model_spec(2, rollout="canary", canary_traffic_percent=25), NAMESPACE,
                                          OPTIONS, v1)
    yield "shadow", sd.desired_deployment(model_spec(2, rollout="shadow"), NAMESPACE, FULL_OPTIONS, v1)
    yield "no-options", sd.desired_deployment(model_spec(1), NAMESPACE, sd.ServingOptions(image=IMAGE))
    recorded = sd.desired_deployment(model_spec(1, recording=RECORDING), NAMESPACE, RECORDING_OPTIONS)
    yield "recording", recorded
    yield "recording-canary", sd.desired_deployment(model_spec(2, rollout="canary", recording=RECORDING), NAMESPACE,
                                                    RECORDING_OPTIONS, recorded)


VARIANTS = dict(_variants())
