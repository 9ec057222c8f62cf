"""Helpers for the local Seldon backend's daemons: free ports, HTTP probes, health waits, log following.

Starting, recognising and stopping processes is core.process's job (one toolkit for every process).
"""

from __future__ import annotations

import os
import random
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Collection, Iterator, List, Tuple

from core.process import Identity, group_members, tail

__all__ = ["port_is_free", "pick_ports", "http_get", "http_post_json", "wait_healthy", "tail", "follow",
           "group_members"]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as servers bind (SO_REUSEADDR): connections left in TIME_WAIT do not make a port busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_ports(count: int, port_range: Tuple[int, int], taken: Collection[int], host: str = "127.0.0.1") -> List[int]:
    """`count` distinct free ports in [low, high), avoiding `taken` (ports other deployments hold or reserved)."""
    low, high = port_range
    candidates = [p for p in range(low, high) if p not in taken]
    random.shuffle(candidates)  # concurrent deployers rarely race for the same port
    chosen = []
    for port in candidates:
        if port_is_free(port, host):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"no {count} free ports in {low}-{high - 1} on {host} ({len(taken)} held by deployments)")


def http_get(url: str, timeout: float = 2.0) -> Tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_post_json(url: str, body: bytes, timeout: float = 10.0) -> Tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_healthy(url: str, process: Identity, timeout: float) -> None:
    """Poll `url` until it answers 200; raise RuntimeError if the process dies or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"process {process.pid} exited before turning healthy ({last})")
        try:
            status, body = http_get(url, timeout=2.0)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200].decode(errors='replace')}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(0.25)
    raise RuntimeError(f"not healthy after {timeout:.0f}s ({last})")


def follow(path: Path, first: List[str]) -> Iterator[str]:
    """`first`, then every line appended to `path` from now on (until the caller stops iterating)."""
    yield from first
    with open(path, errors="replace") as f:
        f.seek(0, os.SEEK_END)
        while True:
            line = f.readline()
            if line:
                yield line.rstrip("\n")
            else:
                time.sleep(0.5)
