"""A local Prometheus + Pushgateway + Alertmanager for the project, run from the Debian binaries, state in the
state dir.

`up()` renders monitoring/prometheus.yml, alerts.yml and the Alertmanager config (monitoring/alertmanager.py, from
configs/monitoring.yaml's `alerts:`) into `state_dir()/monitoring`, starts the three servers bound to 127.0.0.1 in
their own sessions (they outlive the CLI call), and records their identities; `down()` stops them by process group.
Model endpoints to scrape are listed in a file_sd JSON file (`write_scrape_targets`), which Prometheus re-reads on
change, so deployments come and go without a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

import requests
import yaml

from core import process
from core.process import Identity
from core.config import AlertsSection
from core.state import private_dir, state_dir
from monitoring import ALERT_RULES, PROMETHEUS_CONFIG
from monitoring import metrics as m
from monitoring.alertmanager import describe_receiver, write_alertmanager_config

PREFERRED_PORTS = {"prometheus": 9090, "pushgateway": 9091, "alertmanager": 9093}
BINARIES = {"prometheus": "prometheus", "pushgateway": "prometheus-pushgateway",
            "alertmanager": "prometheus-alertmanager"}
START_ORDER = ("alertmanager", "pushgateway", "prometheus")  # Prometheus last: what it sends to is up
TARGETS_FILE = "targets/endpoints.json"
DEFAULT_METRICS_PATH = "/prometheus"
_INSTALL_HINT = ("install it with `bash .ci/deps-monitoring.sh` (Debian packages prometheus, prometheus-pushgateway, "
                 "prometheus-alertmanager)")


def monitoring_dir() -> Path:
    """Where the rendered config, TSDB, logs and pid files live."""
    return private_dir(state_dir() / "monitoring")


def _binary(name: str) -> str:
    debian = Path("/usr/bin") / BINARIES[name]
    found = shutil.which(BINARIES[name]) or (str(debian) if debian.exists() else None)
    if not found:
        raise FileNotFoundError(f"{BINARIES[name]} not found on PATH or in /usr/bin: {_INSTALL_HINT}")
    return found


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pick_port(preferred: Optional[int], taken: List[int]) -> int:
    """`preferred` if free (0 or None means any), else an ephemeral free port."""
    if preferred and preferred not in taken and _port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _identity(entry: Optional[Dict[str, Any]]) -> Optional[Identity]:
    """The recorded server process (a record without an identity, from an older version, is never trusted)."""
    return Identity.from_dict(entry["identity"]) if entry and entry.get("identity") else None


def _alive(entry: Optional[Dict[str, Any]]) -> bool:
    identity = _identity(entry)
    return identity is not None and identity.alive()


def _state_file() -> Path:
    return monitoring_dir() / "state.json"


def _read_state() -> Dict[str, Any]:
    try:
        return json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return {}


def _normalise_target(target: str) -> tuple[str, str]:
    """'host:port' or 'http://host:port/path' -> (host:port, metrics path)."""
    parsed = urlparse(target if "://" in target else f"http://{target}")
    if not parsed.hostname or not parsed.port:
        raise ValueError(f"scrape target {target!r}: expected host:port or http://host:port/path")
    return f"{parsed.hostname}:{parsed.port}", parsed.path or DEFAULT_METRICS_PATH


def write_scrape_targets(targets: List[str], labels: Optional[Dict[str, str]] = None) -> Path:
    """Replaces the endpoints Prometheus scrapes (job 'seldon'); returns the file_sd file.

    Each target is 'host:port' (metrics at /prometheus, Seldon's path) or a full URL whose path is used instead.
    Written atomically: Prometheus watches the file and must never read half of it.
    """
    groups: Dict[str, List[str]] = {}
    for target in targets:
        address, path = _normalise_target(target)
        groups.setdefault(path, []).append(address)
    content = [
        {"targets": sorted(set(addresses)), "labels": {"__metrics_path__": path, **(labels or {})}}
        for path, addresses in sorted(groups.items())
    ]
    path = monitoring_dir() / TARGETS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(content, indent=2))
    os.replace(tmp, path)
    return path


def render_config(prometheus_port: int, pushgateway_port: int, scrape_interval: str = "5s",
                  alertmanager_port: int = PREFERRED_PORTS["alertmanager"]) -> Path:
    """Writes prometheus.yml + alerts.yml into the monitoring dir with this run's addresses (rules are evaluated
    at the scrape interval and firing alerts go to the Alertmanager on `alertmanager_port`)."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"]["scrape_interval"] = scrape_interval
    config["global"]["evaluation_interval"] = scrape_interval
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs[m.PUSHGATEWAY_JOB]["static_configs"] = [{"targets": [f"127.0.0.1:{pushgateway_port}"]}]
    jobs["prometheus"]["static_configs"] = [{"targets": [f"127.0.0.1:{prometheus_port}"]}]
    for sd in jobs[m.ENDPOINT_JOB]["file_sd_configs"]:
        sd["files"] = [TARGETS_FILE]
        sd["refresh_interval"] = scrape_interval
    directory = monitoring_dir()
    shutil.copyfile(ALERT_RULES, directory / "alerts.yml")
    target = directory / "prometheus.yml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def status() -> Dict[str, Any]:
    """What runs now: urls, pids and whether each process is alive."""
    state = _read_state()
    out: Dict[str, Any] = {"running": False, "dir": str(monitoring_dir())}
    for name in BINARIES:
        if name in state:
            alive = _alive(state[name])
            out[name] = {**state[name], "alive": alive}
            out[f"{name}_url"] = state[name]["url"]
    out["running"] = all(out.get(name, {}).get("alive") for name in BINARIES)
    out["targets_file"] = str(monitoring_dir() / TARGETS_FILE)
    out["receiver"] = state.get("receiver", "")
    return out


def up(scrape_targets: Optional[List[str]] = None, *, alerts: Optional[AlertsSection] = None,
       scrape_interval: str = "5s", prometheus_port: Optional[int] = None, pushgateway_port: Optional[int] = None,
       alertmanager_port: Optional[int] = None, timeout: float = 30.0) -> Dict[str, Any]:
    """Starts Prometheus, the Pushgateway and Alertmanager (or reuses running ones) and returns their URLs.

    Ports: 9090/9091/9093 when free, otherwise any free port (pass 0 for any). `scrape_targets` replace the
    endpoint list when given. `alerts` (configs/monitoring.yaml's section; defaults when None) says where
    Alertmanager delivers; a running stack is restarted only by `down` + `up`.
    """
    current = status()
    if current["running"]:
        if scrape_targets is not None:
            write_scrape_targets(scrape_targets)
        return current
    down()  # clear a half-dead previous run

    binaries = {name: _binary(name) for name in BINARIES}
    alerts = alerts or AlertsSection()
    directory = monitoring_dir()
    ports: Dict[str, int] = {}
    wanted_ports = {"prometheus": prometheus_port, "pushgateway": pushgateway_port, "alertmanager": alertmanager_port}
    for name, wanted in wanted_ports.items():
        ports[name] = _pick_port(PREFERRED_PORTS[name] if wanted is None else wanted, list(ports.values()))
    write_scrape_targets(scrape_targets or [])
    config = render_config(ports["prometheus"], ports["pushgateway"], scrape_interval, ports["alertmanager"])
    alertmanager_config = write_alertmanager_config(alerts, directory)

    logs = {name: directory / f"{name}.log" for name in BINARIES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    argv = {
        # No cluster listener: a single local Alertmanager needs no gossip port (it would bind 0.0.0.0:9094).
        "alertmanager": [binaries["alertmanager"], f"--config.file={alertmanager_config}",
                         f"--storage.path={directory / 'alertmanager'}", "--cluster.listen-address=",
                         f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                         f"--web.external-url={urls['alertmanager']}"],
        "pushgateway": [binaries["pushgateway"], f"--web.listen-address=127.0.0.1:{ports['pushgateway']}",
                        f"--persistence.file={directory / 'pushgateway.db'}", "--persistence.interval=30s"],
        "prometheus": [binaries["prometheus"], f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                       f"--web.listen-address=127.0.0.1:{ports['prometheus']}", "--web.enable-lifecycle",
                       "--storage.tsdb.retention.time=15d", f"--web.external-url={urls['prometheus']}"],
    }
    state: Dict[str, Any] = {"config": str(config), "alertmanager_config": str(alertmanager_config),
                             "receiver": describe_receiver(alerts)}
    try:
        for name in START_ORDER:
            identity = process.spawn(argv[name], logs[name], cwd=directory)
            state[name] = {"pid": identity.pid, "identity": identity.to_dict(), "port": ports[name],
                           "url": urls[name], "log": str(logs[name])}
            _write_state(state)  # recorded before the wait, so `down` finds it whatever happens next
        for name in START_ORDER:
            server = Identity.from_dict(state[name]["identity"])
            process.wait_ready(server, lambda url=urls[name]: _ready(url), timeout, f"{name} ({urls[name]})", logs[name])
    except BaseException:  # Ctrl-C included: nothing half-started stays behind
        down()
        raise
    return status()


def _write_state(state: Dict[str, Any]) -> None:
    tmp = _state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, _state_file())


def reload() -> None:
    """Makes the running Prometheus re-read its configuration and rules."""
    state = _read_state()
    if "prometheus" not in state:
        raise RuntimeError("Prometheus is not running: start it with `python run.py monitoring up`")
    requests.post(f"{state['prometheus']['url']}/-/reload", timeout=10).raise_for_status()


def down() -> Dict[str, Any]:
    """Stops the servers (by process group) and forgets them; data and config stay for the next `up`."""
    state = _read_state()
    stopped = {}
    for name in BINARIES:
        entry = state.get(name)
        if process.stop(_identity(entry), grace=10.0):  # never a pid that now belongs to another program
            stopped[name] = entry["pid"]
    _state_file().unlink(missing_ok=True)
    return {"stopped": stopped}


def describe(info: Dict[str, Any]) -> str:
    """Human-readable 'where to look' lines for the CLI."""
    if not info.get("running"):
        return f"Monitoring is not running (state in {info.get('dir')}). Start it with `python run.py monitoring up`."
    prom, push, manager = info["prometheus_url"], info["pushgateway_url"], info["alertmanager_url"]
    return "\n".join([
        f"Prometheus:   {prom}  (alerts: {prom}/alerts, targets: {prom}/targets)",
        f"Pushgateway:  {push}  (batch monitoring results)",
        f"Alertmanager: {manager}  (`amtool --alertmanager.url={manager} alert`); alerts {info['receiver']}",
        f"Try:          {prom}/graph?g0.expr={m.DRIFT_SHARE}",
        f"Endpoints:    {info['targets_file']} (edit or use write_scrape_targets; reloaded automatically)",
        f"Logs, data:   {info['dir']}",
        "Grafana:      import monitoring/grafana/mlops-dashboard.json with this Prometheus as data source",
    ])
