"""A local Prometheus + Pushgateway for the project, run from the Debian binaries and kept in the state dir.

`up()` renders monitoring/prometheus.yml and alerts.yml into `state_dir()/monitoring`, starts both servers bound
to 127.0.0.1 in their own sessions (they outlive the CLI call), and records their pids; `down()` stops them by
process group. Model endpoints to scrape are listed in a file_sd JSON file (`write_scrape_targets`), which
Prometheus re-reads on change, so deployments come and go without a restart.
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
from core.state import private_dir, state_dir
from monitoring import ALERT_RULES, PROMETHEUS_CONFIG
from monitoring import metrics as m

PREFERRED_PORTS = {"prometheus": 9090, "pushgateway": 9091}
BINARIES = {"prometheus": "prometheus", "pushgateway": "prometheus-pushgateway"}
TARGETS_FILE = "targets/endpoints.json"
DEFAULT_METRICS_PATH = "/prometheus"
_INSTALL_HINT = "install it with `bash .ci/deps-monitoring.sh` (Debian packages prometheus, prometheus-pushgateway)"


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


def render_config(prometheus_port: int, pushgateway_port: int, scrape_interval: str = "5s") -> Path:
    """Writes prometheus.yml + alerts.yml into the monitoring dir with this run's addresses."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"]["scrape_interval"] = scrape_interval
    config["global"]["evaluation_interval"] = scrape_interval
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
    return out


def up(scrape_targets: Optional[List[str]] = None, *, scrape_interval: str = "5s",
       prometheus_port: Optional[int] = None, pushgateway_port: Optional[int] = None,
       timeout: float = 30.0) -> Dict[str, Any]:
    """Starts Prometheus and the Pushgateway (or reuses running ones) and returns their URLs.

    Ports: 9090/9091 when free, otherwise any free port (pass 0 for any). `scrape_targets` replace the endpoint
    list when given.
    """
    current = status()
    if current["running"]:
        if scrape_targets is not None:
            write_scrape_targets(scrape_targets)
        return current
    down()  # clear a half-dead previous run

    prom_bin, push_bin = _binary("prometheus"), _binary("pushgateway")
    directory = monitoring_dir()
    ports: Dict[str, int] = {}
    for name, wanted in (("prometheus", prometheus_port), ("pushgateway", pushgateway_port)):
        ports[name] = _pick_port(PREFERRED_PORTS[name] if wanted is None else wanted, list(ports.values()))
    write_scrape_targets(scrape_targets or [])
    config = render_config(ports["prometheus"], ports["pushgateway"], scrape_interval)

    logs = {name: directory / f"{name}.log" for name in BINARIES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    argv = {
        "pushgateway": [push_bin, f"--web.listen-address=127.0.0.1:{ports['pushgateway']}",
                        f"--persistence.file={directory / 'pushgateway.db'}", "--persistence.interval=30s"],
        "prometheus": [prom_bin, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                       f"--web.listen-address=127.0.0.1:{ports['prometheus']}", "--web.enable-lifecycle",
                       "--storage.tsdb.retention.time=15d", f"--web.external-url={urls['prometheus']}"],
    }
    state: Dict[str, Any] = {"config": str(config)}
    try:
        for name in ("pushgateway", "prometheus"):
            identity = process.spawn(argv[name], logs[name], cwd=directory)
            state[name] = {"pid": identity.pid, "identity": identity.to_dict(), "port": ports[name],
                           "url": urls[name], "log": str(logs[name])}
            _write_state(state)  # recorded before the wait, so `down` finds it whatever happens next
        for name in ("pushgateway", "prometheus"):
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
    """Stops both servers (by process group) and forgets them; data and config stay for the next `up`."""
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
    prom, push = info["prometheus_url"], info["pushgateway_url"]
    return "\n".join([
        f"Prometheus:   {prom}  (alerts: {prom}/alerts, targets: {prom}/targets)",
        f"Pushgateway:  {push}  (batch monitoring results)",
        f"Try:          {prom}/graph?g0.expr={m.DRIFT_SHARE}",
        f"Endpoints:    {info['targets_file']} (edit or use write_scrape_targets; reloaded automatically)",
        f"Logs, data:   {info['dir']}",
        "Grafana:      import monitoring/grafana/mlops-dashboard.json with this Prometheus as data source",
    ])
