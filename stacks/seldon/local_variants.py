"""Which model daemon answers each request of a deployment: champion, challenger or (mirrored) shadow.

The local ingress (local_ingress.py) never needs a reload to change a traffic split, because the split lives in
the file system, not in nginx's config:

  routes/<name>.sock                       the champion's socket (blue/green swaps this symlink, as before)
  routes/<name>.v/serving/rest.sock        -> ../../<name>.sock  (no test running)
  routes/<name>.v/champion/rest.sock       -> ../../<name>.sock  (test running, champion's share)
  routes/<name>.v/challenger/rest.sock     -> the challenger daemon's socket
  routes/<name>.v/shadow/rest.sock         -> the challenger's socket, only while a shadow test runs
  routes/<name>.split/00 .. 99             -> ../<name>.v/<variant>  one bucket per percent of the traffic

nginx puts each request in one of 100 buckets (`split_clients` on the request id, or on the sticky header so one
user stays in one bucket), serves it from `$realpath_root` of `<name>.split/<bucket>` (so the variant is the name
of the directory the bucket resolves to: it labels the response header and the access log) and connects to
`rest.sock` there. Moving a bucket is one atomic rename of a symlink, so a request sees either the old or the new
variant, never nothing; nginx opens a new upstream connection per request, so no request is lost while the split
changes. A request nginx already handed to a daemon finishes there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict

BUCKETS = 100  # one bucket per percent
SERVING, CHAMPION, CHALLENGER, SHADOW = "serving", "champion", "challenger", "shadow"
REST_LINK = "rest.sock"


def bucket_name(i: int) -> str:
    return f"{i:02d}"


def _link(target: str, link: Path) -> None:
    """Point `link` at `target` atomically (a rename over the old link: readers see the old or the new one)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


class VariantLinks:
    """The symlink layout above for the deployments routed through one ingress."""

    def __init__(self, routes: Path):
        self.routes = routes

    def variants_dir(self, name: str) -> Path:
        return self.routes / f"{name}.v"

    def split_dir(self, name: str) -> Path:
        return self.routes / f"{name}.split"

    def ensure(self, name: str) -> None:
        """The layout with every bucket on `serving`, unless a split exists already (a test is running)."""
        for variant in (SERVING, CHAMPION):
            folder = self.variants_dir(name) / variant
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / REST_LINK).is_symlink():
                _link(f"../../{name}.sock", folder / REST_LINK)
        split = self.split_dir(name)
        split.mkdir(exist_ok=True)
        for i in range(BUCKETS):
            if not (split / bucket_name(i)).is_symlink():
                _link(f"../{name}.v/{SERVING}", split / bucket_name(i))

    def set_challenger(self, name: str, socket: str) -> None:
        folder = self.variants_dir(name) / CHALLENGER
        folder.mkdir(parents=True, exist_ok=True)
        _link(socket, folder / REST_LINK)

    def split(self, name: str, challenger_percent: int) -> None:
        """The first `challenger_percent` buckets to the challenger, the others to the champion."""
        if not 0 <= challenger_percent <= BUCKETS:
            raise ValueError(f"challenger share: expected 0..100 percent, found {challenger_percent}")
        for i in range(BUCKETS):
            variant = CHALLENGER if i < challenger_percent else CHAMPION
            _link(f"../{name}.v/{variant}", self.split_dir(name) / bucket_name(i))

    def route_all(self, name: str, variant: str) -> None:
        """Every bucket to `variant` (serving: the test is over)."""
        for i in range(BUCKETS):
            _link(f"../{name}.v/{variant}", self.split_dir(name) / bucket_name(i))

    def shadow_on(self, name: str, socket: str) -> None:
        """Mirror every request to `socket`: the folder appears complete in one rename (nginx tests `-d`)."""
        tmp = self.variants_dir(name) / f".{SHADOW}.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        os.symlink(socket, tmp / REST_LINK)
        shutil.rmtree(self.variants_dir(name) / SHADOW, ignore_errors=True)
        os.replace(tmp, self.variants_dir(name) / SHADOW)

    def shadow_off(self, name: str) -> None:
        folder = self.variants_dir(name) / SHADOW
        if folder.exists():
            gone = folder.with_name(f".{SHADOW}.gone.{os.getpid()}")
            os.replace(folder, gone)  # nginx stops mirroring at once; a mirrored request in flight is discarded
            shutil.rmtree(gone, ignore_errors=True)

    def drop_challenger(self, name: str) -> None:
        (self.variants_dir(name) / CHALLENGER / REST_LINK).unlink(missing_ok=True)

    def shares(self, name: str) -> Dict[str, int]:
        """Percent of the buckets per variant, e.g. {'champion': 90, 'challenger': 10}."""
        out: Dict[str, int] = {}
        split = self.split_dir(name)
        for i in range(BUCKETS):
            link = split / bucket_name(i)
            variant = os.path.basename(os.readlink(link)) if link.is_symlink() else "none"
            out[variant] = out.get(variant, 0) + 1
        return out

    def shadowing(self, name: str) -> bool:
        return (self.variants_dir(name) / SHADOW).is_dir()

    def remove(self, name: str) -> None:
        for folder in (self.split_dir(name), self.variants_dir(name)):
            shutil.rmtree(folder, ignore_errors=True)
