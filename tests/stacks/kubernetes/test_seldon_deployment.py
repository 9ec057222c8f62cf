"""The SeldonDeployment generator: every variant validates against the Seldon 1.17.1 CRD and the Pod schema."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from stacks.seldon import seldon_deployment as sd
from tests.stacks.kubernetes.conftest import IMAGE, KUBERNETES_VERSIONS, NAMESPACE, model_spec
from tests.stacks.kubernetes.crd_schema import crd_errors
from tests.stacks.kubernetes.seldon_admission import BUILTIN_SERVERS, admission_errors, configured_servers, \
    reconcile_failure
from tests.stacks.kubernetes.variants import OPTIONS, RECORDING, RECORDING_OPTIONS, VARIANTS


@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_every_variant_validates_against_the_crd_schema_strictly(label):
    assert crd_errors(VARIANTS[label]) == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_every_predictor_pod_spec_is_a_valid_core_v1_pod(label, version):
    for predictor in VARIANTS[label]["spec"]["predictors"]:
        for component in predictor["componentSpecs"]:
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "model"}, "spec": component["spec"]}
            kubernetes_validate.validate(pod, version, strict=True)


@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_every_variant_passes_the_seldon_webhook_and_reconciler_with_our_operator_values(label):
    spec = VARIANTS[label]["spec"]
    assert admission_errors(spec, configured_servers()) == []
    assert reconcile_failure(spec, configured_servers()) is None
    # negative control: an operator installed without our values file cannot run the project's server
    assert reconcile_failure(spec, BUILTIN_SERVERS) == f"Failed to get server config for {sd.SERVER_IMPLEMENTATION}"


def test_the_webhook_check_rejects_inconsistent_predictors():
    broken = copy.deepcopy(VARIANTS["canary"]["spec"])
    broken["predictors"][1]["traffic"] = 5
    broken["predictors"][1]["name"] = sd.CHAMPION
    del broken["predictors"][0]["graph"]["modelUri"]
    errors = "\n".join(admission_errors(broken, configured_servers()))
    assert "Traffic must sum to 100 for multiple predictors (found 80)" in errors
    assert "Duplicate predictor name 'champion'" in errors
    assert "modelUri required" in errors
    lonely_shadow = {"predictors": [copy.deepcopy(VARIANTS["shadow"]["spec"]["predictors"][1])]}
    assert "Shadow can not exist as only predictor" in "".join(admission_errors(lonely_shadow, configured_servers()))


def test_the_crd_check_rejects_what_an_api_server_rejects():
    """Negative control: the validator used above does catch unknown fields and wrong types."""
    broken = copy.deepcopy(VARIANTS["canary"])
    broken["spec"]["predictors"][0]["trafic"] = 10
    broken["spec"]["predictors"][1]["traffic"] = "10"
    del broken["spec"]["predictors"][1]["graph"]["name"]
    errors = "\n".join(crd_errors(broken))
    assert "'trafic' was unexpected" in errors
    assert "spec.predictors.1.traffic: '10' is not of type 'integer'" in errors
    assert "'name' is a required property" in errors


def test_replace_serves_one_predictor_with_the_model_the_seldon_server_fetches():
    (predictor,) = VARIANTS["replace"]["spec"]["predictors"]
    graph, container = predictor["graph"], predictor["componentSpecs"][0]["spec"]["containers"][0]
    assert (predictor["name"], predictor["traffic"]) == (sd.CHAMPION, 100)
    assert graph["name"] == container["name"] == sd.MODEL_CONTAINER  # Seldon matches graph node to container
    assert graph["implementation"] == sd.SERVER_IMPLEMENTATION
    assert graph["modelUri"] == "s3://mlflow/1/run1/artifacts/model"
    assert graph["envSecretRefName"] == "seldon-model-storage"
    params = {p["name"]: p["value"] for p in graph["parameters"]}
    assert params == {"model_name": "credit-model", "model_version": "1", "run_id": "run1",
                      "data_fingerprint": "fp1", "git_commit": "abc123"}
    assert container["image"] == IMAGE
    # ready when the model itself says so (SeldonModel.health_status via /health/status), alive while the server answers
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/status", "port": "http", "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/ping", "port": "http", "scheme": "HTTP"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 9000, "metrics": 6000}
    assert predictor["componentSpecs"][0]["spec"]["serviceAccountName"] == "mlops-model"


def test_sizing_hpa_and_pdb_land_on_the_component_spec():
    component = VARIANTS["replace-hpa-pdb"]["spec"]["predictors"][0]["componentSpecs"][0]
    container = component["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"},
                                      "limits": {"cpu": "2", "memory": "4Gi"}}
    assert {e["name"]: e["value"] for e in container["env"]} == {"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"}
    assert component["hpaSpec"] == {"minReplicas": 2, "maxReplicas": 5, "metrics": [
        {"type": "Resource", "resource": {"name": "cpu", "targetAverageUtilization": 60}}]}
    assert "replicas" not in component  # the HPA owns the replica count
    assert component["pdbSpec"] == {"minAvailable": 1}


@pytest.mark.parametrize("resources, expected", [
    ({}, sd.DEFAULT_RESOURCES),
    # raising the memory request drops the default memory limit instead of leaving it below the request
    ({"memory": "4Gi"}, {"requests": {"cpu": "250m", "memory": "4Gi"}, "limits": {"cpu": "1"}}),
    ({"limits": {"cpu": "2"}}, {"requests": {"memory": "512Mi"}, "limits": {"memory": "1Gi", "cpu": "2"}}),
])
def test_resources_fill_only_what_the_caller_left_out(resources, expected):
    assert sd.resource_requirements(resources) == expected


@pytest.mark.parametrize("text, value", [("500m", 0.5), ("1Gi", 2.0 ** 30), ("2", 2.0), ("1.5k", 1500.0),
                                         ("1e3", 1000.0), ("100Mi", 100 * 2.0 ** 20)])
def test_quantities(text, value):
    assert sd.quantity(text) == value


def test_canary_keeps_the_serving_model_as_champion_and_splits_traffic():
    champion, challenger = VARIANTS["canary"]["spec"]["predictors"]
    assert (champion["name"], champion["traffic"], champion["graph"]["modelUri"]) == \
        (sd.CHAMPION, 75, "s3://mlflow/1/run1/artifacts/model")
    assert (challenger["name"], challenger["traffic"], challenger["graph"]["modelUri"]) == \
        (sd.CHALLENGER, 25, "s3://mlflow/1/run2/artifacts/model")
    assert "shadow" not in challenger


def test_shadow_mirrors_traffic_to_the_challenger():
    champion, challenger = VARIANTS["shadow"]["spec"]["predictors"]
    assert (champion["traffic"], challenger["traffic"], challenger["shadow"]) == (100, 0, True)


def test_a_new_canary_replaces_the_old_challenger_not_the_champion():
    v1 = VARIANTS["replace"]
    canary2 = sd.desired_deployment(model_spec(2, rollout="canary"), NAMESPACE, OPTIONS, v1)
    canary3 = sd.desired_deployment(model_spec(3, rollout="canary", canary_traffic_percent=40), NAMESPACE, OPTIONS,
                                    canary2)
    assert [(m["predictor"], m["model_version"], m["traffic"]) for m in sd.predictor_models(canary3)] == \
        [(sd.CHAMPION, "1", 60), (sd.CHALLENGER, "3", 40)]


def test_a_champion_deployed_without_pod_labels_gets_them_so_the_network_policies_admit_it():
    old = copy.deepcopy(VARIANTS["replace"])
    del old["spec"]["predictors"][0]["componentSpecs"][0]["metadata"]
    canary = sd.desired_deployment(model_spec(2, rollout="canary"), NAMESPACE, OPTIONS, old)
    for predictor in canary["spec"]["predictors"]:
        assert predictor["componentSpecs"][0]["metadata"]["labels"] == sd.MODEL_POD_LABELS


def test_replace_after_canary_promotes_the_challenger_alone():
    promoted = sd.desired_deployment(model_spec(2), NAMESPACE, OPTIONS, VARIANTS["canary"])
    assert [(m["predictor"], m["model_version"], m["traffic"]) for m in sd.predictor_models(promoted)] == \
        [(sd.CHAMPION, "2", 100)]


def test_canary_without_a_serving_model_falls_back_to_replace():
    first = sd.desired_deployment(model_spec(1, rollout="canary"), NAMESPACE, OPTIONS, None)
    assert [m["predictor"] for m in sd.predictor_models(first)] == [sd.CHAMPION]
    assert first["metadata"]["annotations"][sd.ROLLOUT_ANNOTATION] == "replace"


@pytest.mark.parametrize("change, message", [
    ({"name": "Credit_Model"}, "DNS-1123 label"),
    ({"model_uri": "/tmp/mlruns/1/abc/artifacts/model"}, "needs an object-store URI"),
    ({"model_uri": "mlflow-artifacts:/1/abc/artifacts/model"}, "needs an object-store URI"),
    ({"rollout": "canary", "canary_traffic_percent": 100}, "canary_traffic_percent: expected 1..99, found 100"),
    ({"rollout": "blue-green"}, "rollout: expected replace, canary or shadow, found 'blue-green'"),
    ({"resources": {"requests": {"memory": "2 GB"}}}, "resources.requests.memory: expected a Kubernetes quantity"),
    ({"resources": {"gpu": 1}}, "resources: unknown keys ['gpu']"),
    ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}}},
     "resources.limits.cpu: 1500m is below the request 2"),
])
def test_invalid_specs_are_refused_naming_the_problem(change, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        sd.desired_deployment(model_spec(2, **change), NAMESPACE, OPTIONS, VARIANTS["replace"])


@pytest.mark.parametrize("kwargs, message", [
    ({"image": "mlops-serving"}, "expected a tagged image reference"),
    ({"hpa": {"min_replicas": 3, "max_replicas": 2}}, "min=3, max=2"),
    ({"hpa": {"max_replicas": 2, "cpu": 50}}, "unknown keys"),
    ({"pdb": {"min_available": 1, "max_unavailable": 1}}, "exactly one of"),
    ({"pdb": {"min_available": "half"}}, "non-negative integer or a percentage"),
])
def test_invalid_options_are_refused_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sd.ServingOptions(**{"image": IMAGE, **kwargs})


def test_prediction_url_is_the_seldon_ingress_path():
    assert sd.predictions_url("http://ingress.example.com/", "mlops", "credit") == \
        "http://ingress.example.com/seldon/mlops/credit/api/v1.0/predictions"


def _model_pods(label):
    return [c["spec"] for p in VARIANTS[label]["spec"]["predictors"] for c in p["componentSpecs"]]


@pytest.mark.parametrize("label", ["recording", "recording-canary"])
def test_a_recording_endpoint_writes_to_the_claim_through_a_mount_and_keeps_a_read_only_root(label):
    for pod in _model_pods(label):
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["SERVING_RECORD_DIR"] == "/var/lib/mlops/live/credit" == sd.live_dir("credit")
        assert {k: env[k] for k in ("SERVING_RECORD_SAMPLE", "SERVING_RECORD_WINDOW_SECONDS",
                                    "SERVING_PREDICTION_LOG_HOURS", "SERVING_PREDICTION_LOG_MB",
                                    "SERVING_RECORD_WRITE_SECONDS")} == \
            {"SERVING_RECORD_SAMPLE": "0.5", "SERVING_RECORD_WINDOW_SECONDS": "300",
             "SERVING_PREDICTION_LOG_HOURS": "168", "SERVING_PREDICTION_LOG_MB": "256",
             "SERVING_RECORD_WRITE_SECONDS": "30"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes[sd.LIVE_VOLUME] == {"name": "live",
                                           "persistentVolumeClaim": {"claimName": "mlops-live-recording"}}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[sd.LIVE_MOUNT]["name"] == sd.LIVE_VOLUME and not mounts[sd.LIVE_MOUNT].get("readOnly")
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["securityContext"]["fsGroup"] == sd.MODEL_UID  # the non-root model user may write the claim
    assert sd.recorded_live_dir(VARIANTS[label]) == "/var/lib/mlops/live/credit"


@pytest.mark.parametrize("spec, options", [
    (model_spec(1, recording={**RECORDING, "enabled": False}), RECORDING_OPTIONS),  # switched off in the config
    (model_spec(1, recording=RECORDING), OPTIONS),  # no claim on this cluster
])
def test_no_recording_volume_without_both_the_setting_and_a_claim(spec, options):
    sdep = sd.desired_deployment(spec, NAMESPACE, options)
    (predictor,) = sdep["spec"]["predictors"]
    pod = predictor["componentSpecs"][0]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["tmp"] and "fsGroup" not in pod["securityContext"]
    assert "SERVING_RECORD_DIR" not in str(pod) and sd.recorded_live_dir(sdep) is None


def test_a_verification_candidate_does_not_record():
    candidate = sd.build_predictor(model_spec(1, recording=RECORDING), RECORDING_OPTIONS, sd.CHAMPION, 100,
                                   record=False)
    pod = candidate["componentSpecs"][0]["spec"]
    assert "SERVING_RECORD_DIR" not in str(candidate) and [v["name"] for v in pod["volumes"]] == ["tmp"]


def test_bad_recording_settings_are_refused_naming_them():
    with pytest.raises(ValueError, match="recording settings windows: unknown"):
        sd.desired_deployment(model_spec(1, recording={"windows": 3}), NAMESPACE, RECORDING_OPTIONS)
    with pytest.raises(ValueError, match="recording_claim: expected the name of a PersistentVolumeClaim"):
        sd.ServingOptions(image=IMAGE, recording_claim="Live Data")
