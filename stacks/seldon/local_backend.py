"""Serve models as local Seldon microservice daemons behind a local nginx ingress, with blue/green redeploys.

Deploy: start the new model beside the old one on fresh ports, wait until it is healthy, score its own input
example, run the caller's `verify` on its direct URL, then point the ingress route at it (an atomic symlink swap,
no nginx reload) and only then, after in-flight requests drained, stop the old daemon's process group. Any
failure before the switch stops the candidate and leaves the old model serving. State lives in
`<state dir>/seldon-local/registry.json`, so later CLI calls see the deployments.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from core import process
from core.process import Identity
from serving.identity import ModelIdentity
from stacks.seldon import local_process
from stacks.seldon.local_abtest import LocalABTests, refuse_deploy_during_test
from stacks.seldon.local_checks import DAEMON_MARKER, HEALTH_PATH, PREDICT_PATH, check_candidate, local_model_dir
from stacks.seldon.local_ingress import MARKER, NginxIngress, route_path
from stacks.seldon.local_registry import Registry
from stacks.seldon.spec import DeploymentBackend, DeploymentError, DeploymentInfo, ModelDeploymentSpec

DEPLOYMENT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DRAIN_SECONDS = 2.0  # after a switch: requests nginx already handed to the old daemon finish before it stops


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class LocalSeldonBackend(LocalABTests, DeploymentBackend):
    """Seldon microservices as local daemons on 127.0.0.1; the stable URL is the nginx route of the deployment."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port_range: Tuple[int, int] = (18000, 18999),
        ingress_port: int = 0,
        workers: Optional[int] = None,
        threads: Optional[int] = None,
        root: Optional[Path] = None,
        log: Callable[[str], None] = print,
    ):
        if root is None:
            from core.state import state_dir

            root = state_dir() / "seldon-local"
        self.host = host
        self.port_range = tuple(port_range)
        self.ingress_port = ingress_port
        self.workers = workers
        self.threads = threads
        self.root = Path(root)
        self.registry = Registry(self.root)
        self.ingress = NginxIngress(self.root / "ingress", host)
        self.log = log
        self.drain_seconds = DRAIN_SECONDS

    # -- DeploymentBackend ----------------------------------------------------------------------------------------
    def deploy(
        self, spec: ModelDeploymentSpec, timeout: float = 300.0, verify: Optional[Callable[[str], None]] = None
    ) -> DeploymentInfo:
        """Blue/green: the candidate must be healthy and pass the checks before it takes the stable URL."""
        from serving.environment import ServingEnvError, ensure_serving_env

        if not DEPLOYMENT_NAME.fullmatch(spec.name):
            raise DeploymentError(f"deployment name {spec.name!r}: expected a DNS-1123 label "
                                  "(lowercase letters, digits and '-', at most 63 characters)")
        model_dir = local_model_dir(spec.model.uri)
        try:
            python = ensure_serving_env(log=self.log)
        except ServingEnvError as exc:
            raise DeploymentError(str(exc)) from exc
        with self.registry.deployment_lock(spec.name):
            refuse_deploy_during_test(self.registry.read()["deployments"].get(spec.name), spec.name)
            candidate = self._start_checked(spec, model_dir, python, timeout, verify)
            old = self._switch(spec, candidate)
            if old:
                self.log(f"{spec.name}: traffic switched; stopping previous version {old['model_version']} "
                         f"(pid {old['pid']}) once its in-flight requests are done")
                time.sleep(DRAIN_SECONDS)
                self._retire(spec.name)
        info = self.status(spec.name)
        assert info is not None
        self.log(f"{spec.name}: serving {spec.model} at {info.url}")
        return info

    def status(self, name: str) -> Optional[DeploymentInfo]:
        data = self.registry.read()
        entry = data["deployments"].get(name)
        return self._info(name, entry, data["ingress"]) if entry else None

    def list(self) -> List[DeploymentInfo]:
        data = self.registry.read()
        return [self._info(n, e, data["ingress"]) for n, e in sorted(data["deployments"].items())]

    def delete(self, name: str, timeout: float = 60.0) -> None:
        """Stop `name` and forget it; stops the ingress too when nothing is left to route."""
        self.stop(name, timeout)
        with self.registry.update() as data:
            data["deployments"].pop(name, None)
            self._stop_ingress_if_idle(data)

    def live_dir(self, name: str) -> Path:
        """Where the endpoint of `name` records what it serves (serving/live_store.py), across versions."""
        return self.root / "live" / name

    # -- lifecycle beyond the ABC (ZenML service start/stop/logs) -------------------------------------------------
    def stop(self, name: str, timeout: float = 60.0) -> None:
        """Stop serving `name` but keep its record, so `start(name)` can bring the same model back."""
        with self.registry.deployment_lock(name):
            with self.registry.update() as data:
                entry = data["deployments"].get(name)
                if not entry:
                    return
                # recorded as retiring until stopped, so an interruption here leaves nothing unknown behind
                leaving = [entry.pop(key) for key in ("instance", "candidate", "challenger") if entry.get(key)]
                entry.pop("abtest", None)  # stopping ends a test: `start` serves the champion alone
                if leaving:
                    entry.setdefault("retiring", []).extend(leaving)
                entry["state"] = "stopped"
                entry["updated_at"] = _now()
                self.ingress.unroute(name)
            self._retire(name, grace=min(timeout, 20.0))
            with self.registry.update() as data:
                self._stop_ingress_if_idle(data)

    def start(self, name: str, timeout: float = 300.0) -> DeploymentInfo:
        """Serve a stopped deployment again (same model and settings)."""
        data = self.registry.read()
        entry = data["deployments"].get(name)
        if not entry:
            raise DeploymentError(f"no local deployment called {name!r}")
        return self.deploy(ModelDeploymentSpec.from_dict(entry["spec"]), timeout=timeout)

    def logs(self, name: str, tail: Optional[int] = None, follow: bool = False) -> Iterator[str]:
        """Lines of the serving daemon's log (the last `tail` lines if given); `follow` keeps reading new lines."""
        entry = self.registry.read()["deployments"].get(name) or {}
        path = Path((entry.get("instance") or {}).get("log") or entry.get("last_log") or "")
        if not path.is_file():
            return iter(())
        text = local_process.tail(path, tail) if tail else path.read_text(errors="replace")
        lines = text.splitlines()
        return local_process.follow(path, lines) if follow else iter(lines)

    def shutdown(self) -> None:
        """Stop every daemon and the ingress (tests, `run.py` teardown); records are kept as stopped."""
        for info in self.list():
            self.stop(info.name)
        with self.registry.update() as data:
            self.ingress.stop(Identity.of(data["ingress"], MARKER))
            _forget_process(data["ingress"])

    # -- steps of a deploy ----------------------------------------------------------------------------------------
    def _start_checked(self, spec: ModelDeploymentSpec, model_dir: Path, python: Path, timeout: float,
                       verify: Optional[Callable[[str], None]]) -> Dict[str, Any]:
        """Start a candidate and run its checks; on failure stop it and raise DeploymentError saying why."""
        for attempt in (1, 2):
            candidate = self._start(spec, model_dir, python)
            self.log(f"{spec.name}: started model {spec.model} on {candidate['url']} "
                     f"(pid {candidate['pid']}, log {candidate['log']})")
            try:
                check_candidate(self.host, candidate, model_dir, timeout, verify)
                return candidate
            except BaseException as exc:
                if not isinstance(exc, Exception):  # Ctrl-C, SystemExit: no candidate survives, no retry
                    self._discard(spec.name, candidate)
                    raise
                self._discard(spec.name, candidate)
                log_tail = local_process.tail(Path(candidate["log"]), 15)
                if attempt == 1 and "Connection in use" in log_tail:
                    # another program took a port between our free-port check and the daemon's bind: retry once
                    self.log(f"{spec.name}: a port was taken meanwhile; starting again on other ports")
                    continue
                current = self.status(spec.name)
                still = ""
                if current and current.state == "active":
                    still = f"; version {current.model_version} is still serving at {current.url}"
                raise DeploymentError(
                    f"{spec.name}: model {spec.model} failed its checks: {exc}{still}\n"
                    f"--- last lines of {candidate['log']} ---\n{log_tail}"
                ) from exc
        raise AssertionError("unreachable")

    def _start(self, spec: ModelDeploymentSpec, model_dir: Path, python: Path) -> Dict[str, Any]:
        """Spawn a supervised candidate and record it; whatever interrupts this, no unrecorded daemon is left."""
        self._retire(spec.name)  # instances a killed deploy switched away from but did not stop yet
        spawned: List[Identity] = []
        try:
            with self.registry.update() as data:
                stale = (data["deployments"].get(spec.name) or {}).pop("candidate", None)
                if stale and self._alive(stale):
                    # left by a deploy that was killed mid-way (we hold the deployment lock, so it is not running)
                    self.log(f"{spec.name}: stopping a candidate left by an interrupted deploy (pid {stale['pid']})")
                    self._stop_instance(stale)
                candidate = self._spawn(spec, model_dir, python, data, spawned)
                entry = data["deployments"].setdefault(spec.name,
                                                       {"state": "pending", "spec": spec.to_dict()})
                entry["candidate"] = candidate
        except BaseException:
            for identity in spawned:  # started, but the registry may not know it: stop it now
                process.stop(identity, grace=5.0)
            raise
        return candidate

    def _spawn(self, spec: ModelDeploymentSpec, model_dir: Path, python: Path, data: Dict[str, Any],
               spawned: List[Identity]) -> Dict[str, Any]:
        """The model daemon under its supervisor, which holds the REST sockets across daemon restarts."""
        from serving.environment import microservice_command

        http_port, metrics_port = local_process.pick_ports(2, self.port_range, _ports_in_use(data), self.host)
        instance_id = uuid.uuid4().hex[:8]
        log_file = self.root / "logs" / f"{spec.name}-{instance_id}.log"
        rest_socket, metrics_socket = self.ingress.socket_paths(instance_id)
        argv, env = microservice_command(
            python, model=dataclasses.replace(spec.model, uri=str(model_dir)),
            http_port=http_port, metrics_port=metrics_port, host=self.host, deployment_name=spec.name,
            workers=spec.workers or self.workers or os.cpu_count() or 1, threads=spec.threads or self.threads or 1,
            unix_socket=rest_socket, metrics_unix_socket=metrics_socket,
            record_dir=str(self.live_dir(spec.name)) if spec.recording.get("enabled", True) else "",
            recording={k: v for k, v in spec.recording.items() if k != "enabled"},
        )
        supervised = [str(python), "-m", "core.supervise", "--standby", "--listen", f"tcp:{self.host}:{http_port}",
                      "--listen", f"unix:{rest_socket}", "--ready-url", f"http://{self.host}:{http_port}{HEALTH_PATH}",
                      "--", *argv]
        identity = process.spawn(supervised, log_file, env=env, cwd=self.root, marker=DAEMON_MARKER)
        spawned.append(identity)
        return {
            "id": instance_id, "pid": identity.pid, "identity": identity.to_dict(), "http_port": http_port,
            "metrics_port": metrics_port, "log": str(log_file), "started_at": _now(),
            "model_version": spec.model.version, "socket": rest_socket, "metrics_socket": metrics_socket,
            "url": f"http://{self.host}:{http_port}{PREDICT_PATH}",
        }

    def _switch(self, spec: ModelDeploymentSpec, candidate: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """Make the candidate the live instance and route the stable URL to it; return the instance it replaced."""
        with self.registry.update() as data:
            try:
                self._ensure_ingress(data)
            except Exception as exc:
                self._stop_instance(candidate)
                raise DeploymentError(f"{spec.name}: the local ingress is not available: {exc}") from exc
            self.ingress.route(spec.name, candidate["socket"], candidate["metrics_socket"])
            entry = data["deployments"][spec.name]
            old = entry.get("instance")
            if old:  # recorded before anything else can fail: a crash after the switch leaves no unknown daemon
                entry.setdefault("retiring", []).append(old)
            entry.pop("candidate", None)
            entry.update(instance=candidate, state="active", spec=spec.to_dict(), updated_at=_now(),
                         last_log=candidate["log"])
        return old

    def _discard(self, name: str, candidate: Dict[str, Any]) -> None:
        self._stop_instance(candidate)
        with self.registry.update() as data:
            entry = data["deployments"].get(name)
            if entry is not None:
                entry.pop("candidate", None)
                if not entry.get("instance"):
                    entry["state"] = "failed"
                    entry["last_log"] = candidate["log"]

    # -- ingress --------------------------------------------------------------------------------------------------
    def _ensure_ingress(self, data: Dict[str, Any]) -> None:
        ingress = data["ingress"]
        if not ingress.get("port"):
            taken = _ports_in_use(data)
            ingress["port"] = self.ingress_port or local_process.pick_ports(1, self.port_range, taken, self.host)[0]
        identity = self.ingress.ensure_running(ingress["port"], Identity.of(ingress, MARKER))
        ingress.update(pid=identity.pid, identity=identity.to_dict())

    def _retire(self, name: str, grace: float = 20.0) -> None:
        """Stops the instances a switch or stop replaced (recorded as `retiring`), then forgets them."""
        retiring = (self.registry.read()["deployments"].get(name) or {}).get("retiring") or []
        for old in retiring:
            self._stop_instance(old, grace=grace)
        if retiring:
            with self.registry.update() as data:
                entry = data["deployments"].get(name) or {}
                entry["retiring"] = [r for r in entry.get("retiring", []) if r not in retiring]
                if not entry["retiring"]:
                    entry.pop("retiring")

    @staticmethod
    def _alive(instance: Optional[Dict[str, Any]]) -> bool:
        return _running(instance, DAEMON_MARKER)

    @staticmethod
    def _stop_instance(instance: Dict[str, Any], grace: float = 20.0) -> None:
        process.stop(Identity.of(instance, DAEMON_MARKER), grace=grace)
        for key in ("socket", "metrics_socket"):  # gunicorn removes them on a clean exit, not after SIGKILL
            if instance.get(key):
                Path(instance[key]).unlink(missing_ok=True)

    def _stop_ingress_if_idle(self, data: Dict[str, Any]) -> None:
        if not any(e.get("state") == "active" for e in data["deployments"].values()):
            self.ingress.stop(Identity.of(data["ingress"], MARKER))
            _forget_process(data["ingress"])
            self.ingress.remove_socket_dir_if_empty()

    def _info(self, name: str, entry: Dict[str, Any], ingress: Dict[str, Any]) -> DeploymentInfo:
        model = ModelDeploymentSpec.from_dict(entry["spec"]).model if entry.get("spec") else ModelIdentity("", "")
        instance = entry.get("instance") or {}
        base = f"http://{self.host}:{ingress.get('port')}{route_path(name)}" if ingress.get("port") else ""
        state = entry.get("state", "failed")
        problem = ""
        if state == "active":
            if not self._alive(instance):
                state, problem = "failed", f"model daemon (pid {instance.get('pid')}) is not running"
            elif not _running(ingress, MARKER):
                state, problem = "failed", f"ingress nginx (pid {ingress.get('pid')}) is not running"
            elif self.ingress.routed_to(name) != instance.get("socket"):
                problem = f"ingress route {self.ingress.routes / name}.sock does not lead to the daemon"
                state = "failed"
        details = {
            "backend": "local",
            "model_uri": model.uri,
            "run_id": model.run_id,
            "health_url": f"{base}{HEALTH_PATH}" if base else "",
            "metrics_url": f"{base}/prometheus" if base else "",
            "direct_url": instance.get("url", ""),
            "pid": instance.get("pid"),
            "log_file": instance.get("log") or entry.get("last_log", ""),
            "updated_at": entry.get("updated_at", ""),
            "live_dir": str(self.live_dir(name)),
        }
        if entry.get("abtest"):
            details["challenger_version"] = ModelDeploymentSpec.from_dict(entry["abtest"]["spec"]).model.version
            details["split"] = entry["abtest"]["split"]
        if problem:
            details["problem"] = problem
        return DeploymentInfo(
            name=name, url=f"{base}{PREDICT_PATH}" if base else "", state=state,  # type: ignore[arg-type]
            model_name=model.name, model_version=model.version, details=details,
        )


def _running(record: Optional[Dict[str, Any]], marker: str) -> bool:
    identity = Identity.of(record, marker)
    return identity is not None and identity.alive()


def _forget_process(record: Dict[str, Any]) -> None:
    record.pop("pid", None)
    record.pop("identity", None)


def _ports_in_use(data: Dict[str, Any]) -> set:
    ports = {data["ingress"].get("port")}
    for entry in data["deployments"].values():
        for inst in [entry.get("instance") or {}, entry.get("candidate") or {}, entry.get("challenger") or {},
                     *entry.get("retiring", [])]:
            ports.update({inst.get("http_port"), inst.get("metrics_port")})
    return {p for p in ports if p}

