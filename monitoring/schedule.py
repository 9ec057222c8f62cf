"""Live monitoring on a schedule, locally: `run.py monitor --live --every 15m` as a supervised background process.

`start()` spawns, with the project's process toolkit, `python -m core.supervise -- python -m monitoring.schedule
--every S -- <monitor command>`: the supervisor restarts the loop if it dies; the loop runs the monitor command
(`run.py monitor --live --model-name X`, a fresh process each time, so one run's memory or hang never leaks into
the next) every S seconds, never two at once. Everything it says goes to `schedule.log` under
`state_dir()/schedules/<name>/`; `status.json` there holds the last runs. A failed run is logged and posted to
configs/monitoring.yaml's `alerts.webhook_url` (first failure of a streak, and the recovery), and the loop goes on.
`stop()` stops the supervisor, the loop and a run in progress by process group, after the identity check.

Plain code, no ZenML: the monitor command does the ZenML work.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from core import process
from core.state import PROJECT_ROOT, private_dir, state_dir

MAX_RUNS_KEPT = 20
OUTPUT_TAIL_CHARS = 1500  # of a failed run's output, in the alert
# What the monitor command needs from the CLI's environment besides the basics process.child_env keeps: the ZenML
# store and repository it talks to, the run-state dir, the serving env, analytics opt-outs. It is the user's own
# command running later, so a ZenML server's credentials variables (ZENML_STORE_*) go along too.
PASSED_PREFIXES = ("ZENML_", "MLOPS_", "WHYLOGS_", "SERVING_")
PASSED = ("MLFLOW_TRACKING_URI", "OMP_NUM_THREADS", "VIRTUAL_ENV", "PYTHONPATH")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ScheduleError(RuntimeError):
    """A schedule cannot be started or found."""


def schedule_name(model_name: str) -> str:
    return f"live-{model_name}"


def schedule_dir(name: str, create: bool = False) -> Path:
    """Where a schedule keeps its process record, status and log (made, private, only by `start`)."""
    if not _NAME.match(name):
        raise ScheduleError(f"schedule name {name!r}: expected lowercase letters, digits and dashes")
    path = private_dir(state_dir() / "schedules") / name
    return private_dir(path) if create or path.exists() else path


def _identity_file(name: str) -> Path:
    return schedule_dir(name) / "process.json"


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: Dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def monitor_command(model_name: str, config_path: Optional[str] = None, stack: Optional[str] = None) -> List[str]:
    """The command each scheduled run executes: the project's own CLI."""
    argv = [sys.executable, str(PROJECT_ROOT / "run.py"), "monitor", "--live", "--model-name", model_name]
    if config_path:
        argv += ["--config", str(Path(config_path).resolve())]
    if stack:
        argv += ["--stack", stack]
    return argv


def _passed_env() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in PASSED or k.startswith(PASSED_PREFIXES)}


def status(name: str) -> Dict[str, Any]:
    """Whether the schedule runs, its interval, command, log and last runs."""
    directory = schedule_dir(name)
    identity = process.load(_identity_file(name))
    state = _read_json(directory / "status.json")
    return {"name": name, "running": bool(identity and identity.alive()), "pid": identity.pid if identity else None,
            "log": str(directory / "schedule.log"), **state}


def list_schedules() -> List[Dict[str, Any]]:
    root = private_dir(state_dir() / "schedules")
    return [status(p.name) for p in sorted(root.iterdir()) if p.is_dir() and _NAME.match(p.name)]


def start(name: str, every_seconds: float, command: Sequence[str], config_path: Optional[str] = None,
          timeout: float = 30.0) -> Dict[str, Any]:
    """Starts the schedule detached (the first run begins at once); refuses if it already runs."""
    if every_seconds < 1:
        raise ScheduleError(f"--every {every_seconds:g}s: expected at least 1 second")
    current = status(name)
    if current["running"]:
        raise ScheduleError(f"schedule '{name}' already runs (pid {current['pid']}, every {current.get('every')}): "
                            f"stop it first with `python run.py schedule stop {name}`")
    directory = schedule_dir(name, create=True)
    (directory / "status.json").unlink(missing_ok=True)
    loop = [sys.executable, "-m", "monitoring.schedule", "--name", name, "--every", f"{every_seconds:g}"]
    if config_path:
        loop += ["--config", str(Path(config_path).resolve())]
    argv = [sys.executable, "-m", "core.supervise", "--max-restarts", "5", "--window", "3600", "--",
            *loop, "--", *command]
    log = directory / "schedule.log"
    identity = process.spawn(argv, log, env=_passed_env(), cwd=PROJECT_ROOT)
    process.save(identity, _identity_file(name))
    with process.stopped_on_failure(identity):
        process.wait_ready(identity, lambda: (directory / "status.json").exists(), timeout, f"schedule '{name}'", log)
    return status(name)


def stop(name: str) -> bool:
    """Stops the schedule (and a run in progress); False when it was not running."""
    stopped = process.stop(process.load(_identity_file(name)), grace=10.0)
    _identity_file(name).unlink(missing_ok=True)
    state_file = schedule_dir(name) / "status.json"
    if state_file.exists():
        _write_json(state_file, {**_read_json(state_file), "stopped_at": time.time()})
    return stopped


def describe(info: Dict[str, Any]) -> str:
    """Human-readable lines for the CLI."""
    runs = info.get("runs") or []
    last = runs[-1] if runs else None
    state = "running" if info["running"] else "stopped"
    lines = [f"schedule {info['name']}: {state}" + (f" (pid {info['pid']})" if info["running"] else "")
             + (f", every {info['every']}" if info.get("every") else "")]
    if info.get("command"):
        lines.append(f"  command: {' '.join(info['command'][1:])}")
    if last:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["started"]))
        lines.append(f"  last run: {when}, {last['outcome']} after {last['seconds']:.0f}s "
                     f"({info.get('ok', 0)} ok, {info.get('failed', 0)} failed)")
    if info.get("next_at") and info["running"]:
        lines.append(f"  next run: {time.strftime('%H:%M:%S', time.localtime(info['next_at']))}")
    lines.append(f"  log:  {info['log']}   (tail -f it)")
    lines.append(f"  stop: python run.py schedule stop {info['name']}")
    return "\n".join(lines)


# ---- the loop (runs in the background process) ----

def _say(name: str, message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [schedule {name}] {message}", flush=True)


def _alert(name: str, config_path: Optional[str], title: str, text: str, severity: str, fields: Dict[str, Any]) -> None:
    from core.config import MonitoringConfig, load_config
    from monitoring.notify import Notification, post_notification

    try:
        alerts = load_config(config_path or "monitoring", MonitoringConfig).alerts
    except Exception as exc:  # noqa: BLE001 - a broken config must not stop the loop; the run itself will say why
        _say(name, f"alert not sent: {exc}")
        return
    post_notification(alerts.webhook_url, Notification(title, text, severity, {"schedule": name, **fields}),
                      alerts.timeout_seconds)


def run_loop(name: str, every: float, command: List[str], config_path: Optional[str] = None) -> int:
    """Runs `command` every `every` seconds until SIGTERM; records each run in status.json."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s [schedule " + name + "] %(message)s")
    directory = schedule_dir(name)
    stopping = {"now": False}

    def on_signal(signum: int, _frame: object) -> None:
        stopping["now"] = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    kept = _read_json(directory / "status.json")  # a loop restarted by the supervisor keeps the history
    state: Dict[str, Any] = {"ok": 0, "failed": 0, "runs": [], **{k: kept[k] for k in ("ok", "failed", "runs")
                                                                  if k in kept},
                             "every": f"{every:g}s", "command": command, "started_at": time.time(),
                             "loop_pid": os.getpid()}
    _write_json(directory / "status.json", state)
    _say(name, f"started: every {every:g}s: {' '.join(command[1:])}")
    streak = 0
    while not stopping["now"]:
        started = time.time()
        _say(name, "run started")
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,  # noqa: S603
                                cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL)
        seconds = time.time() - started
        sys.stdout.write(result.stdout)
        outcome = "ok" if result.returncode == 0 else f"failed (exit {result.returncode})"
        _say(name, f"run {outcome} in {seconds:.1f}s")
        if stopping["now"]:
            break
        if result.returncode == 0:
            state["ok"] += 1
            if streak:
                _alert(name, config_path, f"Scheduled live monitoring recovered: {name}",
                       f"ran fine again after {streak} failed run(s)", "info", {"event": "schedule_recovered"})
            streak = 0
        else:
            state["failed"] += 1
            streak += 1
            if streak == 1:  # the first failure of a streak is news; the next ones are in the log
                tail = result.stdout[-OUTPUT_TAIL_CHARS:].strip() or "(no output)"
                _alert(name, config_path, f"Scheduled live monitoring failed: {name}",
                       f"exit {result.returncode}; the schedule goes on every {every:g}s.\n{tail}", "critical",
                       {"event": "schedule_run_failed", "exit_code": result.returncode,
                        "log": str(directory / "schedule.log")})
        state["runs"] = (state["runs"] + [{"started": started, "seconds": round(seconds, 2),
                                           "outcome": outcome, "exit_code": result.returncode}])[-MAX_RUNS_KEPT:]
        state["next_at"] = started + every
        _write_json(directory / "status.json", state)
        while not stopping["now"] and time.time() < state["next_at"]:
            time.sleep(min(1.0, max(0.0, state["next_at"] - time.time())))
    _say(name, "stopped")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitoring.schedule", description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--every", type=float, required=True, help="seconds between run starts")
    parser.add_argument("--config", default=None, help="monitoring config with the alerts: section")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command after --")
    return run_loop(args.name, args.every, command, args.config)


if __name__ == "__main__":
    sys.exit(main())
