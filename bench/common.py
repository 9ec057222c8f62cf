"""Shared benchmark plumbing: run a command as a fresh process tree and measure wall time, CPU time and peak memory.

Each measured command runs in its own session (process group) so that it, and every worker it forks, can be
stopped together. Memory is reported two ways because the project forks worker processes (chunked whylogs
profiling) that share pages copy-on-write with their parent:
- `peak_rss_largest`: the largest peak RSS of any single process of the tree (kernel-accounted, from wait4);
- `peak_rss_tree`: the largest sampled sum of RSS over the whole tree (an upper bound: shared pages count twice).
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GIB = 1024**3
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclasses.dataclass
class Measurement:
    """What one run of a command cost."""

    command: List[str]
    returncode: int
    wall_s: float
    cpu_s: float  # user + system time of the command and every descendant it waited for
    peak_rss_largest: int  # bytes
    peak_rss_tree: int  # bytes
    lines: List[Tuple[float, str]]  # (seconds since start, output line without colour codes), stdout+stderr merged
    load_before: float  # 1-minute load average when the command started: other work on the machine skews wall time

    def first_time(self, pattern: str) -> Optional[float]:
        """Seconds since start of the first output line matching `pattern` (regex), or None."""
        rx = re.compile(pattern)
        return next((t for t, line in self.lines if rx.search(line)), None)

    def tail(self, n: int = 25) -> str:
        return "\n".join(line for _, line in self.lines[-n:])


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return total


def measure(
    command: Sequence[str],
    *,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[Path] = None,
    timeout_s: float = 3600.0,
    sample_every_s: float = 0.1,
    echo: bool = False,
) -> Measurement:
    """Runs `command` to completion and measures it. Output is captured line by line with timestamps."""
    lines: List[Tuple[float, str]] = []
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command), cwd=cwd or PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", start_new_session=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = _ANSI.sub("", raw.rstrip("\n"))
            lines.append((time.perf_counter() - start, line))
            if echo:
                print(f"    | {line}", flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    root = psutil.Process(proc.pid)
    peak_tree = 0
    try:
        while True:
            # wait4 gives this child's own resource usage (including its waited-for descendants), unlike
            # getrusage(RUSAGE_CHILDREN) whose ru_maxrss is the maximum over every child this process ever had.
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_tree = max(peak_tree, _tree_rss(root))
            if time.perf_counter() - start > timeout_s:
                os.killpg(proc.pid, signal.SIGKILL)
                raise TimeoutError(f"{' '.join(command)}: still running after {timeout_s:.0f} s; stopped")
            time.sleep(sample_every_s)
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    _stop_leftovers(proc.pid)
    reader.join(timeout=10)
    largest = usage.ru_maxrss * 1024  # Linux reports KiB
    return Measurement(
        command=list(command), returncode=proc.returncode, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_largest=largest, peak_rss_tree=max(peak_tree, largest), lines=lines, load_before=load_before,
    )


def _stop_leftovers(pgid: int) -> None:
    """Kills processes the command left behind in its own process group (e.g. a daemonised worker)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def check(m: Measurement, what: str) -> Measurement:
    """Raises with the command's last output lines when it failed: a benchmark of a failed run is meaningless."""
    if m.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {m.returncode}): {' '.join(m.command)}\n--- last output ---\n{m.tail()}")
    return m


def gib(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.2f}"


def summary(values: Sequence[float]) -> Dict[str, float]:
    """mean, median, min, max and standard deviation of repeated timings."""
    return {
        "mean": statistics.fmean(values), "median": statistics.median(values), "min": min(values), "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def machine_note() -> str:
    """One line describing the machine, printed with every result so figures are read in context."""
    mem = psutil.virtual_memory().total / GIB
    return f"{os.cpu_count()} CPUs, {mem:.0f} GiB RAM, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}"
