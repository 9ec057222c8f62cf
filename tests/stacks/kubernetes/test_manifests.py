"""The infrastructure manifests, Helm values and images: valid, consistent with each other and with the backend."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import serving
from stacks.seldon import seldon_deployment as sd
from tests.stacks.kubernetes.conftest import KUBERNETES_VERSIONS, model_spec
from tests.stacks.kubernetes.crd_schema import REPO_ROOT
from tests.stacks.kubernetes.manifests import CRD_KINDS, DOCS, MANIFESTS, containers as _containers, pod as _pod

RUNBOOK = REPO_ROOT / "docs" / "runbook-kubernetes.md"
CORE = {key: doc for key, doc in DOCS.items() if doc["kind"] not in CRD_KINDS}


def test_the_manifest_set_is_complete():
    kinds = sorted({doc["kind"] for doc in DOCS.values()})
    assert kinds == ["ConfigMap", "Deployment", "Gateway", "Job", "Namespace", "NetworkPolicy", "PersistentVolumeClaim",
                     "PodMonitor", "Role", "RoleBinding", "Service", "ServiceAccount", "StatefulSet"]
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in DOCS.values()}
    assert {("Deployment", "mlflow"), ("StatefulSet", "postgres"), ("Deployment", "minio")} <= names


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("key", sorted(CORE))
def test_core_objects_validate_strictly_against_the_kubernetes_schemas(key, version):
    kubernetes_validate.validate(CORE[key], version, strict=True)


def test_the_validator_rejects_a_broken_manifest():
    broken = copy.deepcopy(DOCS["mlflow.yaml:Deployment/mlflow"])
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)
    broken = copy.deepcopy(DOCS["mlflow.yaml:Deployment/mlflow"])
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    broken["spec"]["template"]["spec"]["containers"][0]["envFrm"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("key", sorted(set(DOCS) - set(CORE)))
def test_custom_resources_have_the_expected_shape(key):
    doc = DOCS[key]
    assert doc["apiVersion"] == CRD_KINDS[doc["kind"]]
    assert re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", doc["metadata"]["name"])
    assert isinstance(doc.get("spec"), dict) and doc["spec"]


def test_pod_monitor_scrapes_the_port_and_path_the_model_container_exposes():
    monitor = DOCS["monitoring.yaml:PodMonitor/seldon-models"]["spec"]
    (endpoint,) = monitor["podMetricsEndpoints"]
    container = sd.model_container(model_spec(1), sd.ServingOptions(image="r/i:1"))
    assert endpoint["port"] in {p["name"] for p in container["ports"]} and endpoint["port"] == "metrics"
    assert endpoint["path"] == "/prometheus"
    assert monitor["selector"]["matchLabels"] == {"app.kubernetes.io/managed-by": "seldon-core"}
    assert monitor["namespaceSelector"]["matchNames"] == ["mlops"]
    # same job label as the project's own Prometheus config, which monitoring/alerts.yml is written against
    prometheus = yaml.safe_load((REPO_ROOT / "monitoring" / "prometheus.yml").read_text())
    local_job = next(job for job in prometheus["scrape_configs"] if job.get("metrics_path") == "/prometheus")
    assert endpoint["relabelings"] == [{"targetLabel": "job", "replacement": local_job["job_name"]}]


def test_everything_but_the_gateway_lives_in_the_mlops_namespace():
    for key, doc in DOCS.items():
        if doc["kind"] in ("Namespace",):
            continue
        expected = "istio-system" if doc["kind"] == "Gateway" else "mlops"
        assert doc["metadata"]["namespace"] == expected, key


def test_mlflow_server_command_parses_with_the_pinned_mlflow():
    """The container's `mlflow server` options exist in the MLflow version the image installs (requirements.lock)."""
    from mlflow.cli import cli

    container = DOCS["mlflow.yaml:Deployment/mlflow"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/usr/local/bin/secrets-from-files", "mlflow", "server"]
    context = cli.commands["server"].make_context("server", list(container["args"]), resilient_parsing=False)
    assert context.params["app_name"] == "basic-auth" and context.params["serve_artifacts"] is False
    assert context.params["default_artifact_root"] == "s3://mlflow/"
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"].startswith(container["volumeMounts"][0]["mountPath"])
    import configparser

    ini = configparser.ConfigParser()
    ini.read_string(DOCS["mlflow.yaml:ConfigMap/mlflow-auth"]["data"]["basic_auth.ini"])
    assert "admin_password" not in ini["mlflow"] and ini["mlflow"]["database_uri"].endswith("/mlflow_auth")
    init_sql = DOCS["postgres.yaml:ConfigMap/postgres-init"]["data"]["01-mlflow-auth.sql"]
    assert "CREATE DATABASE mlflow_auth" in init_sql  # the user store's database exists before MLflow starts


def _secret_mounts(doc):
    """mountPath -> Secret name for every Secret volume a workload's containers mount."""
    pod = _pod(doc)
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    return {m["mountPath"]: secrets[m["name"]] for c in _containers(doc) for m in c.get("volumeMounts", [])
            if m["name"] in secrets}


def _secret_files(doc):
    """Every file path the workload's Secret volumes provide: each key is listed (`items`), so a Secret without
    it fails the mount instead of starting the server without the credential (MinIO would fall back to defaults)."""
    pod = _pod(doc)
    volumes = {v["name"]: v["secret"] for v in pod.get("volumes", []) if "secret" in v}
    return {f"{m['mountPath']}/{item['path']}" for c in _containers(doc) for m in c.get("volumeMounts", [])
            if m["name"] in volumes for item in volumes[m["name"]]["items"]}


def test_no_credentials_are_written_in_the_manifests_and_secrets_arrive_as_files():
    assert not [key for key, doc in DOCS.items() if doc["kind"] == "Secret"]
    sensitive = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|_USER$|USERNAME")
    for key, doc in DOCS.items():
        for container in _containers(doc):
            for env in container.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {}), f"{key}: {env['name']} from a Secret in env"
                assert not sensitive.search(env["name"]) or env["name"].endswith("_FILE"), f"{key}: {env['name']}"
                if env["name"].endswith("_FILE"):  # a listed key of a mounted Secret
                    assert env["value"] in _secret_files(doc), f"{key}: {env['name']}={env['value']}"
        # probes and shell commands that read a secret file read one that is mounted
        text = yaml.safe_dump(_pod(doc))
        for path in re.findall(r"/run/secrets/[a-z0-9-]+/[a-z0-9-]+", text):
            assert path in _secret_files(doc), f"{key}: {path} is not a listed key of a mounted Secret"


def test_every_mounted_secret_is_created_in_the_runbook():
    runbook = RUNBOOK.read_text()
    referenced = {name for doc in DOCS.values() for name in _secret_mounts(doc).values()}
    assert referenced == {"mlflow-postgres", "minio-credentials", "mlflow-admin"}
    referenced.add("seldon-model-storage")  # graph.envSecretRefName of every predictor
    for name in sorted(referenced):
        assert re.search(rf"kubectl .*create secret generic {name}\b", runbook), f"runbook never creates {name}"
    # with every key the volumes list (a missing key would keep the pod from starting)
    for doc in DOCS.values():
        for volume in _pod(doc).get("volumes", []):
            if "secret" in volume:
                name = volume["secret"]["secretName"]
                command = re.search(rf"create secret generic {name}\b((?:.*\\\n)*.*)", runbook).group(1)
                for item in volume["secret"]["items"]:
                    assert f"--from-literal={item['key']}=" in command, f"runbook: {name} lacks {item['key']}"


def test_the_mlflow_image_turns_mounted_secret_files_into_the_servers_environment(tmp_path):
    """The image's entrypoint shim, run for real with the mlflow manifest's *_FILE variables."""
    import subprocess

    container = DOCS["mlflow.yaml:Deployment/mlflow"]["spec"]["template"]["spec"]["containers"][0]
    files = {e["name"][:-len("_FILE")]: e["value"] for e in container["env"] if e["name"].endswith("_FILE")}
    assert {"PGUSER", "PGPASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD", "AWS_SECRET_ACCESS_KEY"} <= set(files)
    env = {"PATH": "/usr/bin:/bin"}
    for index, name in enumerate(files):
        path = tmp_path / f"secret{index}"
        path.write_text(f"value of {name} with 'quotes' $(not run)\n")
        env[f"{name}_FILE"] = str(path)
    shim = MANIFESTS / "images" / "secrets-from-files.sh"
    out = subprocess.run(["sh", str(shim), "env"], env=env, capture_output=True, text=True, check=True).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for name in files:
        assert seen[name] == f"value of {name} with 'quotes' $(not run)"
        assert f"{name}_FILE" not in seen  # the paths do not leak into the server's environment
    env["PGPASSWORD_FILE"] = str(tmp_path / "missing")
    failed = subprocess.run(["sh", str(shim), "true"], env=env, capture_output=True, text=True)
    assert failed.returncode != 0 and "PGPASSWORD_FILE" in failed.stderr and "not a readable file" in failed.stderr


def test_services_select_pods_and_name_existing_ports():
    workloads = [doc for doc in DOCS.values() if doc["kind"] in ("Deployment", "StatefulSet")]
    for key, service in ((k, d) for k, d in DOCS.items() if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        matching = [w for w in workloads if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matching) == 1, f"{key} selects {len(matching)} workloads"
        ports = {p["name"] for c in _containers(matching[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{key}: targetPort {port['targetPort']} not in {ports}"


def test_pipeline_role_allows_every_call_the_backend_makes(backend, fake_api):
    backend.deploy(model_spec(1), timeout=10)
    backend.deploy(model_spec(2, rollout="canary"), timeout=10, verify=lambda url: None)
    backend.stop("credit")
    backend.start("credit", timeout=10)
    list(backend.logs("credit", tail=5))
    backend.list()
    backend.delete("credit")
    # fake API verbs -> (API group, resource, RBAC verb)
    needed = {("machinelearning.seldon.io", "seldondeployments", verb) if verb not in ("pods", "logs") else
              ("", "pods", "list") if verb == "pods" else ("", "pods/log", "get")
              for verb, _ in fake_api.requests}
    role = DOCS["rbac.yaml:Role/mlops-pipeline"]
    granted = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert {verb for group, _, verb in needed if group} == {"get", "list", "create", "update", "delete"}
    assert needed <= granted, f"Role lacks {sorted(needed - granted)}"
    # and nothing more on SeldonDeployments than the deployer uses
    assert {g for g in granted if g[0] == sd.GROUP} == {n for n in needed if n[0] == sd.GROUP}
    binding = DOCS["rbac.yaml:RoleBinding/mlops-pipeline"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mlops-pipeline", "namespace": "mlops"}]


def test_no_account_of_the_project_can_read_or_change_secrets():
    roles = [doc for doc in DOCS.values() if doc["kind"] in ("Role", "ClusterRole")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert not {"secrets", "configmaps", "*"} & set(rule["resources"]), rule
            assert "*" not in rule["verbs"] and "*" not in rule["apiGroups"], rule
    accounts = {doc["metadata"]["name"]: doc for doc in DOCS.values() if doc["kind"] == "ServiceAccount"}
    assert accounts["mlops-model"]["automountServiceAccountToken"] is False  # the model calls no API


def test_operator_values_register_the_projects_model_server():
    values = yaml.safe_load((MANIFESTS / "helm" / "seldon-core-operator-values.yaml").read_text())
    server = values["predictor_servers"][sd.SERVER_IMPLEMENTATION]["protocols"]["seldon"]
    assert server["image"] and server["defaultImageVersion"]
    assert values["storageInitializer"]["image"] == "seldonio/rclone-storage-initializer:1.17.1"
    gateway = DOCS["istio-gateway.yaml:Gateway/seldon-gateway"]["metadata"]
    assert values["istio"] == {"enabled": True, "gateway": f"{gateway['namespace']}/{gateway['name']}"}
    assert values["usageMetrics"]["enabled"] is False


def _dockerfile(path: Path) -> str:
    return path.read_text().replace("\\\n", " ")


def test_serving_image_runs_the_same_model_class_on_the_ports_the_generator_uses():
    text = _dockerfile(REPO_ROOT / "serving" / "Dockerfile")
    assert text.splitlines()[0] == "# syntax=docker/dockerfile:1"  # RUN --mount needs BuildKit syntax
    assert "FROM python:3.11-slim" in text and "-r /tmp/requirements.txt" in text
    assert "COPY serving/requirements.txt" in text
    assert set(re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()) == {str(sd.HTTP_PORT), str(sd.METRICS_PORT)}
    model_class = re.search(r"MODEL_NAME=(\S+)", text).group(1)
    assert model_class == serving.MODEL_CLASS
    module, cls = model_class.rsplit(".", 1)
    tree = ast.parse((REPO_ROOT / Path(*module.split("."))).with_suffix(".py").read_text())
    assert cls in {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] == str(sd.MODEL_UID)  # numeric and what the model pods run as (runAsNonRoot)
    # HEALTHCHECK (for `docker run`) asks the model's own health, as the readiness probe does
    healthcheck = re.search(r"^HEALTHCHECK .*$", text, re.M).group(0)
    assert f"127.0.0.1:{sd.HTTP_PORT}{sd.READINESS_PATH}" in healthcheck


def test_mlflow_image_runs_as_the_manifests_user_with_the_secrets_shim_and_a_healthcheck():
    text = _dockerfile(MANIFESTS / "images" / "mlflow-server.Dockerfile")
    pod = DOCS["mlflow.yaml:Deployment/mlflow"]["spec"]["template"]["spec"]
    assert re.findall(r"^USER (\S+)$", text, re.M)[-1] == str(pod["securityContext"]["runAsUser"])
    shim = pod["containers"][0]["command"][0]
    assert re.search(rf"^COPY .*stacks/kubernetes/images/secrets-from-files\.sh {re.escape(shim)}$", text, re.M)
    assert re.search(rf'^ENTRYPOINT \["{re.escape(shim)}"\]$', text, re.M)
    port = pod["containers"][0]["ports"][0]["containerPort"]
    assert f"127.0.0.1:{port}/health" in re.search(r"^HEALTHCHECK .*$", text, re.M).group(0)


def test_mlflow_image_pins_the_versions_of_the_pipeline_environment():
    text = _dockerfile(MANIFESTS / "images" / "mlflow-server.Dockerfile")
    lock = (REPO_ROOT / "requirements.lock").read_text()
    for package, version in re.findall(r'"([a-z0-9-]+)==([^"]+)"', text):
        assert f"\n{package}=={version}\n" in f"\n{lock}", f"{package}=={version} differs from requirements.lock"


def test_the_runbooks_prometheus_rule_snippet_renders_the_projects_alert_rules():
    import contextlib
    import io
    import os

    snippet = re.search(r"python - <<'PY' \| kubectl apply -f -\n(.*?)\nPY\n", RUNBOOK.read_text(), re.S).group(1)
    out, cwd = io.StringIO(), os.getcwd()
    try:
        os.chdir(REPO_ROOT)
        with contextlib.redirect_stdout(out):
            exec(compile(snippet, "runbook-kubernetes.md", "exec"), {})
    finally:
        os.chdir(cwd)
    rule = yaml.safe_load(out.getvalue())
    assert (rule["apiVersion"], rule["kind"], rule["metadata"]["namespace"]) == \
        ("monitoring.coreos.com/v1", "PrometheusRule", "mlops")
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert rules and all(r.get("expr") for r in rules)
    assert any('job="seldon"' in r["expr"] for r in rules)  # what the PodMonitor's relabeling provides
