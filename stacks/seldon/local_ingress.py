"""A local nginx in front of the model daemons: the stable URL that survives blue/green redeploys.

Each deployment gets `/seldon/local/<name>/...` (the path shape Seldon's ingress uses on Kubernetes, namespace
`local`), proxied to the model daemon currently serving it. A redeploy rewrites the upstream and reloads nginx
gracefully: in-flight requests finish on the old daemon, new ones go to the new daemon. Non-root, 127.0.0.1 only,
config and logs under the state dir. An upstream with several weighted servers is how canary splits would be added.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import List, Mapping, Optional

from stacks.seldon import local_process

NAMESPACE = "local"
MARKER = "nginx"


class IngressError(RuntimeError):
    """nginx is missing, its config is invalid, or it did not start."""


def find_nginx() -> str:
    path = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)
    if not path:
        raise IngressError("nginx not found: install it (Debian: apt-get install nginx; see .ci/deps-serving.sh)")
    return path


def route_path(name: str) -> str:
    return f"/seldon/{NAMESPACE}/{name}"


class NginxIngress:
    """One nginx master per state dir, listening on a fixed port; routes are rewritten on every change."""

    def __init__(self, root: Path, host: str = "127.0.0.1"):
        self.root = root
        self.host = host
        self.conf = root / "nginx.conf"
        self.log = root / "nginx.log"

    def base_url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def render(self, port: int, routes: Mapping[str, Mapping[str, int]]) -> str:
        """nginx.conf for `routes`: {deployment name: {"http_port": ..., "metrics_port": ...}}."""
        tmp = self.root / "tmp"
        user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""  # root would drop to 'nobody'
        upstreams, locations = [], []
        for name, ports in sorted(routes.items()):
            upstream = "seldon_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
            path = route_path(name)
            upstreams.append(f"  upstream {upstream} {{ server {self.host}:{ports['http_port']}; keepalive 32; }}\n")
            locations.append(
                f"    location {path}/ {{ proxy_pass http://{upstream}/; }}\n"
                f"    location = {path}/prometheus {{ proxy_pass http://{self.host}:{ports['metrics_port']}/prometheus; }}\n"
            )
        return (
            f"{user}worker_processes 1;\n"
            "daemon off;\n"
            f"pid {self.root}/nginx.pid;\n"
            f"error_log {self.root}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "  access_log off;\n"
            f"  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;\n"
            f"  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n"
            "  client_max_body_size 64m;\n"
            "  proxy_http_version 1.1;\n"
            '  proxy_set_header Connection "";\n'
            "  proxy_read_timeout 120s;\n"
            + "".join(upstreams)
            + "  server {\n"
            f"    listen {self.host}:{port};\n"
            '    location = /healthz { default_type text/plain; return 200 "ok"; }\n'
            + "".join(locations)
            + "  }\n"
            "}\n"
        )

    def apply(self, port: int, routes: Mapping[str, Mapping[str, int]], pid: Optional[int]) -> int:
        """Write the config for `routes` and make nginx serve it (start it or reload it); return the master pid.

        A reload returns once the old worker processes have exited, i.e. once no request can still reach a
        daemon that was just taken out of the routes.
        """
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        candidate = self.conf.with_suffix(".new")
        candidate.write_text(self.render(port, routes))
        self._check(candidate)
        os.replace(candidate, self.conf)
        if pid and local_process.is_alive(pid, MARKER):
            self._reload(pid)
            return pid
        return self._start(port)

    def stop(self, pid: Optional[int]) -> None:
        if pid and local_process.is_alive(pid, MARKER):
            local_process.stop_group(pid, grace=10.0)  # SIGTERM: nginx fast shutdown; the group includes workers

    def _check(self, conf: Path) -> None:
        proc = subprocess.run(
            [find_nginx(), "-t", "-q", "-p", str(self.root), "-c", str(conf), "-e", str(self.root / "error.log")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if proc.returncode != 0:
            raise IngressError(f"nginx rejected the generated config {conf}:\n{proc.stdout.strip()}")

    def _start(self, port: int) -> int:
        if not local_process.port_is_free(port, self.host):
            raise IngressError(f"ingress port {self.host}:{port} is taken by another program; set another ingress_port")
        argv = [find_nginx(), "-p", str(self.root), "-c", str(self.conf), "-e", str(self.root / "error.log")]
        pid = local_process.spawn(argv, dict(os.environ), self.log)
        try:
            local_process.wait_healthy(f"{self.base_url(port)}/healthz", pid, timeout=15.0, marker=MARKER)
        except RuntimeError as exc:
            local_process.stop_group(pid, grace=2.0)
            raise IngressError(f"nginx did not start: {exc}\n{local_process.tail(self.root / 'error.log')}") from None
        return pid

    def _reload(self, pid: int, timeout: float = 30.0) -> None:
        before = self._workers(pid)
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self._workers(pid)
            if not set(before) & set(current) and current:
                return
            time.sleep(0.05)
        raise IngressError(f"nginx reload did not finish within {timeout:.0f}s (old workers {before} still running)")

    @staticmethod
    def _workers(master: int) -> List[int]:
        return [p for p in local_process.group_members(master) if p != master and _ppid(p) == master]


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return -1

