"""A local nginx in front of the model daemons: the stable URL that survives blue/green redeploys.

`/seldon/local/<name>/...` (the path shape Seldon's ingress uses on Kubernetes, namespace `local`) is proxied to
the unix socket `<sockets>/routes/<name>.sock`, a symlink to the socket of the daemon serving `<name>`, through
one of 100 traffic buckets (an A/B test's champion/challenger split and shadow: stacks/seldon/local_variants.py).
The nginx config does not change for a switch or a split: both are atomic symlink swaps, so nginx is not reloaded
and no client connection (keep-alive included) is closed under a client's feet. Only a sticky A/B test keyed on a
header nginx does not know yet rewrites the `sticky.map` include and reloads nginx gracefully (SIGHUP). nginx opens a new upstream connection per request, so each
request after the swap reaches the new daemon, and requests already inside the old one finish there.
Non-root, 127.0.0.1 only; config and logs under the state dir, sockets under a short path in the temp dir
(unix socket paths are limited to 107 bytes), in a folder only we may enter (checked: core.state.private_dir).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import signal
import time
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from core import process
from core.process import Identity
from core.state import private_dir
from serving.request_guard import MAX_PAYLOAD_BYTES, error_body, too_large_message
from stacks.seldon import local_process
from stacks.seldon.local_variants import BUCKETS, REST_LINK, SHADOW, VariantLinks, bucket_name

NAMESPACE = "local"
MARKER = "nginx"
NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9._-]*"
HEADER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
VARIANT_HEADER = "X-Model-Variant"
ACCESS_LOG = "abtest-access.log"  # one JSON line per request of a deployment under test (stacks/seldon/variant_log)
# $ab_variant is set before proxying: error pages (a challenger that is down) still log and label the variant.
LOG_FORMAT = ("escape=json '{\"t\":$msec,\"d\":\"$route_deployment\",\"v\":\"$ab_variant\",\"s\":$status,"
              "\"rt\":\"$upstream_response_time\",\"u\":\"$route_rest\"}'")
# nginx refuses what the model's own guard would (same limit, same JSON shape), chunked bodies included.
TOO_LARGE = error_body(too_large_message(None).replace("(chunked)", "(Content-Length or chunked)"), 413).decode()
NO_MODEL = ('{"status": {"code": 503, "info": "no model is serving this deployment (unknown, stopped or failed; '
            'see run.py deploy status)", "reason": "NO_MODEL_SERVING", "status": "FAILURE"}}')


class IngressError(RuntimeError):
    """nginx is missing, its config is invalid, or it did not start."""


def find_nginx() -> str:
    # /usr/sbin is not on every user's PATH
    path = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)),
                                         None)
    if not path:
        raise IngressError("nginx not found: install it (Debian: apt-get install nginx; see .ci/deps-serving.sh)")
    return path


def route_path(name: str) -> str:
    return f"/seldon/{NAMESPACE}/{name}"


class NginxIngress:
    """One nginx per state dir on a fixed port; routes are symlinks, so the config is written once."""

    def __init__(self, root: Path, host: str = "127.0.0.1"):
        self.root = root
        self.host = host
        self.conf = root / "nginx.conf"
        self.log = root / "nginx.log"
        digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
        self.sockets = Path(tempfile.gettempdir()) / f"mlops-seldon-{digest}"
        self.routes = self.sockets / "routes"
        self.variants = VariantLinks(self.routes)
        self.sticky_map = root / "sticky.map"
        self.access_log = root / ACCESS_LOG

    def base_url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def socket_paths(self, instance_id: str) -> tuple:
        """(REST socket, metrics socket) a model daemon binds besides its TCP ports."""
        private_dir(self.sockets)
        return str(self.sockets / f"{instance_id}.sock"), str(self.sockets / f"{instance_id}.metrics.sock")

    def render(self, port: int) -> str:
        tmp = self.root / "tmp"
        user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""  # root would drop to 'nobody'
        buckets = " ".join(f"1% {bucket_name(i)};" for i in range(BUCKETS - 1)) + f" * {bucket_name(BUCKETS - 1)};"
        routed = f"^/seldon/{NAMESPACE}/(?<d>{NAME_PATTERN})(?<r>/[^?]*)"
        if not self.sticky_map.exists():
            self.sticky_map.write_text("")
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
            f"  client_max_body_size {MAX_PAYLOAD_BYTES};\n"
            "  proxy_http_version 1.1;\n"
            '  proxy_set_header Connection "";\n'
            "  proxy_read_timeout 120s;\n"
            f"  log_format abtest {LOG_FORMAT};\n"
            # the mirror's subrequest shares the client request's variables: its variant is written literally
            f"  log_format abtest_shadow {LOG_FORMAT.replace('$ab_variant', SHADOW)};\n"
            # the deployment and path of the client's request, also inside the shadow mirror's subrequest
            f'  map $request_uri $route_deployment {{ ~{routed} $d; default ""; }}\n'
            f'  map $request_uri $route_rest {{ ~{routed} $r; default ""; }}\n'
            # traffic bucket: random per request, or keyed on the deployment's sticky header when it has one
            f'  map $route_deployment $sticky_value {{ include {self.sticky_map}; default ""; }}\n'
            f'  split_clients "${{request_id}}" $random_bucket {{ {buckets} }}\n'
            f'  split_clients "${{route_deployment}}/${{sticky_value}}" $sticky_bucket {{ {buckets} }}\n'
            '  map $sticky_value $bucket { "" $random_bucket; default $sticky_bucket; }\n'
            '  map $realpath_root $variant { ~/(?<v>[a-z]+)$ $v; default ""; }\n'
            '  map $ab_variant $in_test { "" 0; serving 0; default 1; }\n'
            "  server {\n"
            f"    listen {self.host}:{port};\n"
            '    location = /healthz { default_type text/plain; return 200 "ok"; }\n'
            f"    location ~ ^/seldon/{NAMESPACE}/(?<deployment>{NAME_PATTERN})/prometheus$ {{\n"
            f"      proxy_pass http://unix:{self.routes}/$deployment.metrics.sock:/prometheus;\n"
            "    }\n"
            f"    location ~ ^/seldon/{NAMESPACE}/(?<deployment>{NAME_PATTERN})(?<rest>/.*)$ {{\n"
            f"      root {self.routes}/$deployment.split/$bucket;\n"
            "      set $ab_variant $variant;\n"
            f"      add_header {VARIANT_HEADER} $ab_variant always;\n"
            f"      access_log {self.access_log} abtest if=$in_test;\n"
            "      mirror /_shadow; mirror_request_body on;\n"
            f"      proxy_pass http://unix:$realpath_root/{REST_LINK}:$rest$is_args$args;\n"
            "    }\n"
            # shadow: a copy of the request goes to the challenger; its answer is discarded
            "    location = /_shadow {\n"
            "      internal;\n"
            "      log_subrequest on;\n"
            f"      if (!-d {self.routes}/$route_deployment.v/{SHADOW}) {{ access_log off; return 204; }}\n"
            f"      access_log {self.access_log} abtest_shadow;\n"
            f"      proxy_pass http://unix:{self.routes}/$route_deployment.v/{SHADOW}/{REST_LINK}:$route_rest;\n"
            "    }\n"
            "    error_page 502 = @no_model;\n"
            f"    location @no_model {{ access_log {self.access_log} abtest if=$in_test; "
            f"add_header {VARIANT_HEADER} $ab_variant always; default_type application/json; return 503 '{NO_MODEL}'; }}\n"
            "    error_page 413 @too_large;\n"
            f"    location @too_large {{ default_type application/json; return 413 '{TOO_LARGE}'; }}\n"
            "  }\n"
            "}\n"
        )

    # -- routes ---------------------------------------------------------------------------------------------------
    def route(self, name: str, rest_socket: str, metrics_socket: str) -> None:
        """Point `name` at a daemon's sockets: each symlink is replaced atomically (rename over the old one)."""
        private_dir(self.sockets)
        private_dir(self.routes)
        for suffix, target in ((".metrics.sock", metrics_socket), (".sock", rest_socket)):
            link = self.routes / f"{name}{suffix}"
            tmp = self.routes / f".{name}{suffix}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            os.replace(tmp, link)
        self.variants.ensure(name)

    def unroute(self, name: str) -> None:
        for suffix in (".sock", ".metrics.sock"):
            (self.routes / f"{name}{suffix}").unlink(missing_ok=True)
        self.variants.remove(name)

    def set_sticky_header(self, name: str, header: Optional[str], nginx: Optional[Identity]) -> None:
        """Key `name`'s buckets on `header` (None: random per request). Reloads nginx gracefully when it changes."""
        if header is not None and not HEADER_PATTERN.fullmatch(header):
            raise IngressError(f"sticky header {header!r}: expected a header name (letters, digits and '-')")
        entries = {}
        for line in self.sticky_map.read_text().splitlines() if self.sticky_map.exists() else []:
            key, _, value = line.rstrip(";").partition(" ")
            entries[key] = value
        wanted = f"$http_{header.lower().replace('-', '_')}" if header else None
        if entries.get(name) == wanted:
            return
        if wanted:
            entries[name] = wanted
        else:
            entries.pop(name, None)
        self.sticky_map.write_text("".join(f"{k} {v};\n" for k, v in sorted(entries.items())))
        if nginx is not None and nginx.alive():
            self._check()
            self._hup(nginx)

    def _reload(self, config: str, nginx: Identity) -> None:
        """Replace the config of the running nginx; a config nginx rejects is put back and nothing is reloaded."""
        previous = self.conf.read_text() if self.conf.exists() else None
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(config)
        try:
            self._check()
        except IngressError:
            if previous is not None:
                self.conf.write_text(previous)
            raise
        self._hup(nginx)

    @staticmethod
    def _hup(nginx: Identity) -> None:
        os.kill(nginx.pid, signal.SIGHUP)  # graceful: old workers finish their requests, new ones read the config
        time.sleep(0.5)  # the master re-reads its config and starts new workers within milliseconds

    def remove_socket_dir_if_empty(self) -> None:
        for path in (self.routes, self.sockets):
            try:
                path.rmdir()
            except OSError:  # not empty (another deployment is starting) or already gone
                pass

    def routed_to(self, name: str) -> Optional[str]:
        link = self.routes / f"{name}.sock"
        return os.readlink(link) if link.is_symlink() else None

    # -- process --------------------------------------------------------------------------------------------------
    def ensure_running(self, port: int, current: Optional[Identity]) -> Identity:
        """Start nginx on `port` unless `current` still runs; return the running master's identity. A running nginx
        whose config an earlier version of this code wrote (e.g. before A/B routing existed) gets the current config
        through a graceful reload: old workers finish their requests, no connection is dropped."""
        if current is not None and current.alive():
            wanted = self.render(port)
            if not self.conf.exists() or self.conf.read_text() != wanted:
                self._reload(wanted, current)
            return current
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.render(port))
        self._check()
        if not local_process.port_is_free(port, self.host):
            raise IngressError(f"ingress port {self.host}:{port} is taken by another program; set another ingress_port")
        argv = [find_nginx(), "-p", str(self.root), "-c", str(self.conf), "-e", str(self.root / "error.log")]
        nginx = process.spawn(argv, self.log, marker=MARKER)  # no variables of ours: nginx needs none
        with process.stopped_on_failure(nginx, grace=2.0):
            try:
                local_process.wait_healthy(f"{self.base_url(port)}/healthz", nginx, timeout=15.0)
            except RuntimeError as exc:
                log_tail = local_process.tail(self.root / "error.log")
                raise IngressError(f"nginx did not start: {exc}\n{log_tail}") from None
        return nginx

    def stop(self, nginx: Optional[Identity]) -> None:
        process.stop(nginx, grace=10.0)  # SIGTERM: nginx fast shutdown; the group includes workers

    def _check(self) -> None:
        import subprocess

        proc = subprocess.run(
            [find_nginx(), "-t", "-q", "-p", str(self.root), "-c", str(self.conf), "-e", str(self.root / "error.log")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if proc.returncode != 0:
            raise IngressError(f"nginx rejected the generated config {self.conf}:\n{proc.stdout.strip()}")
