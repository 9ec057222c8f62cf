"""A/B tests on the local backend: a challenger daemon beside the champion, behind the same nginx route.

Start: the challenger is started and checked exactly like a blue/green candidate (health, own input example, the
caller's `verify`), then its socket joins the deployment's variants and the traffic buckets move to it
(stacks/seldon/local_variants.py). Promote: every bucket moves to the challenger, the champion route is swapped to
it, the buckets go back to `serving`, and the old champion stops after the drain. Abort: the buckets go back to
the champion, and the challenger stops after the drain. Each move is an atomic symlink rename, so no request is
lost (tests/stacks/seldon/test_local_abtest.py streams requests through all of it).
The test is recorded in the registry entry (`challenger`: the instance, `abtest`: its spec and split), so later CLI
calls see it and a deploy is refused until it ends.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional

from core.process import Identity
from serving.identity import ModelIdentity
from stacks.seldon.local_checks import local_model_dir
from stacks.seldon.local_ingress import MARKER
from stacks.seldon.local_variants import CHALLENGER, CHAMPION, SERVING
from stacks.seldon.spec import (ABTestRunningError, DeploymentError, DeploymentInfo, ModelDeploymentSpec,
                                TrafficSplit)
from stacks.seldon.variant_log import variant_traffic


def refuse_deploy_during_test(entry: Optional[Dict[str, Any]], name: str) -> None:
    if entry and entry.get("abtest"):
        version = ModelDeploymentSpec.from_dict(entry["abtest"]["spec"]).model.version
        raise ABTestRunningError(
            f"{name}: an A/B test with challenger version {version} is running; end it first with "
            f"`run.py abtest stop --model-name <model> --promote` or `--abort`")


class LocalABTests:
    """Mixed into LocalSeldonBackend: uses its registry, ingress, candidate checks and instance stop."""

    def start_challenger(self, spec: ModelDeploymentSpec, split: TrafficSplit, timeout: float = 300.0,
                         verify: Optional[Callable[[str], None]] = None) -> DeploymentInfo:
        from serving.environment import ServingEnvError, ensure_serving_env

        name = spec.name
        model_dir = local_model_dir(spec.model.uri)
        try:
            python = ensure_serving_env(log=self.log)
        except ServingEnvError as exc:
            raise DeploymentError(str(exc)) from exc
        with self.registry.deployment_lock(name):
            current = self.status(name)
            if current is None or current.state != "active":
                raise DeploymentError(f"{name}: no champion is serving (state "
                                      f"{current.state if current else 'none'}); deploy a model first")
            entry = self.registry.read()["deployments"][name]
            refuse_deploy_during_test(entry, name)
            if str(spec.model.version) == str(current.model_version):
                raise DeploymentError(f"{name}: version {spec.model.version} is the champion already; "
                                      "choose another version as challenger")
            champion_spec = entry["spec"]
            # a deployment (and nginx) started by an earlier version of this code: current config and bucket layout
            with self.registry.update() as data:
                self._ensure_ingress(data)
            self.ingress.variants.ensure(name)
            challenger = self._start_checked(spec, model_dir, python, timeout, verify)
            links = self.ingress.variants
            try:
                with self.registry.update() as data:
                    entry = data["deployments"][name]
                    entry.pop("candidate", None)
                    entry["spec"] = champion_spec  # _start_checked records the challenger's spec as a candidate's
                    entry["challenger"] = challenger
                    entry["abtest"] = {"spec": spec.to_dict(), "split": split.__dict__.copy(),
                                       "started_at": time.time()}
                    links.set_challenger(name, challenger["socket"])
                    self.ingress.set_sticky_header(name, split.sticky_header, Identity.of(data["ingress"], MARKER))
                    if split.shadow:
                        links.route_all(name, CHAMPION)  # labels the champion's answers as under test
                        links.shadow_on(name, challenger["socket"])
                    else:
                        links.split(name, split.challenger_percent)
            except BaseException:  # Ctrl-C included: the champion takes all the traffic back, the challenger stops
                links.shadow_off(name)
                links.route_all(name, SERVING)
                links.drop_challenger(name)
                self._stop_instance(challenger)
                with self.registry.update() as data:
                    entry = data["deployments"].get(name) or {}
                    for key in ("candidate", "challenger", "abtest"):
                        entry.pop(key, None)
                    entry["spec"] = champion_spec
                raise
        self.log(f"{name}: A/B test started: champion {current.model_version}, challenger {spec.model.version} "
                 f"({split.describe()}) at {current.url}")
        return self.status(name)

    def end_challenger(self, name: str, promote: bool, timeout: float = 300.0) -> DeploymentInfo:
        with self.registry.deployment_lock(name):
            entry = self.registry.read()["deployments"].get(name) or {}
            if not entry.get("abtest"):
                raise DeploymentError(f"{name}: no A/B test is running")
            challenger, test = entry.get("challenger"), entry["abtest"]
            links = self.ingress.variants
            links.shadow_off(name)
            if promote:
                if not self._alive(challenger):
                    raise DeploymentError(f"{name}: the challenger (pid {(challenger or {}).get('pid')}) is not "
                                          "running; abort the test instead")
                links.route_all(name, CHALLENGER)  # everyone on the challenger while the champion route swaps
                self.ingress.route(name, challenger["socket"], challenger["metrics_socket"])
                links.route_all(name, SERVING)
            else:
                links.route_all(name, SERVING)
            with self.registry.update() as data:
                entry = data["deployments"][name]
                leaving = entry.pop("instance") if promote else entry.pop("challenger", None)
                if leaving:
                    entry.setdefault("retiring", []).append(leaving)
                if promote:
                    entry.update(instance=entry.pop("challenger"), spec=test["spec"], last_log=challenger["log"])
                entry.pop("abtest")
                entry["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            time.sleep(self.drain_seconds)  # requests already handed to the leaving daemon finish there
            self._retire(name)
            links.drop_challenger(name)
        version = ModelDeploymentSpec.from_dict(test["spec"]).model.version
        self.log(f"{name}: A/B test ended: " + (f"challenger {version} promoted, now the only serving model"
                                                 if promote else f"challenger {version} stopped; champion serves"))
        return self.status(name)

    def challenger(self, name: str) -> Optional[Dict[str, Any]]:
        entry = self.registry.read()["deployments"].get(name) or {}
        test = entry.get("abtest")
        if not test:
            return None
        return {**test, "shares": self.ingress.variants.shares(name),
                "running": self._alive(entry.get("challenger")),
                "direct_url": (entry.get("challenger") or {}).get("url", "")}

    def variant_traffic(self, name: str, since: float) -> Dict[str, Dict[str, Any]]:
        return variant_traffic(self.ingress.access_log, name, since)


def challenger_identity(test: Dict[str, Any]) -> ModelIdentity:
    return ModelDeploymentSpec.from_dict(test["spec"]).model
