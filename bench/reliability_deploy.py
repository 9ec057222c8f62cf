#!/usr/bin/env python
"""Deploy faults: `run.py deploy` killed at each stage, the MLflow registry unavailable, two deploys at once.

Everything runs as a user would (`python run.py ...` processes) in a fresh temporary run state, on the local stack,
with the shared serving environment (a fresh one for the env-build kill). Two model versions are trained with the
same settings (equal metrics, so the gate, at margin 0, always lets the other one through); before each scenario
the `challenger` alias is moved to the version that is not serving, so every deploy has a real switch to make.

After each fault the next plain `run.py deploy` must complete, and then: exactly one model daemon (process group)
serves the stable URL, the stable URL answers with the version the `champion` alias names, and no process of the
run is left over (anything under the run's state but the live daemon and nginx is an orphan).

    python bench/reliability_deploy.py                  # all scenarios (~45 min with setup on a busy 2-core machine)
    python bench/reliability_deploy.py --only concurrent --keep
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_note, markdown_table  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MODEL = "churn-classifier"
KILL_STAGES = {  # stage -> first output line of `run.py deploy` at which it is killed
    "env build": r"serving env: install pins",  # uv is installing the pinned packages
    "candidate start": r"started model .* on http",
    "after switch": r"traffic switched",
    "before promote": r"Step promote_champion has started",
}


class Bench:
    def __init__(self, root: Path):
        self.root = root
        self.state = root / "state"
        self.env = {**os.environ, "ZENML_CONFIG_PATH": str(root / "zenconfig"), "MLOPS_STATE_DIR": str(self.state),
                    "ZENML_REPOSITORY_PATH": str(root / "repo"), "ZENML_ANALYTICS_OPT_IN": "false",
                    "WHYLOGS_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}
        self.env.setdefault("MLOPS_SERVING_ENV_DIR", str(PROJECT_ROOT / ".state" / "serving-env"))
        (root / "repo").mkdir(parents=True, exist_ok=True)
        self.train_config = self._config("training", {"data": {"n_rows": 800}, "training": {
            "search": {"cv_folds": 2, "space": {"max_depth": [3], "learning_rate": [0.1]}}}})
        self.deploy_config = self._config("deployment", {"gate": {"min_improvement": 0.0}})

    def _config(self, name: str, changes: Dict) -> Path:
        config = yaml.safe_load((PROJECT_ROOT / "configs" / f"{name}.yaml").read_text())
        for section, values in changes.items():
            config[section].update(values)
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    # -- running commands --------------------------------------------------------------------------------------
    def run(self, *args: str, kill_at: Optional[str] = None, env: Optional[Dict[str, str]] = None,
            on_line=None) -> Dict:
        """Runs `run.py <args>`; with `kill_at`, SIGKILLs it (the run.py process only) at the first matching line."""
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "run.py", *args], cwd=PROJECT_ROOT, env={**self.env, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        lines, killed = [], None
        for raw in proc.stdout:
            line = ANSI.sub("", raw.rstrip())
            lines.append(line)
            if on_line:
                on_line(line)
            if kill_at and killed is None and re.search(kill_at, line):
                os.kill(proc.pid, signal.SIGKILL)
                killed = round(time.monotonic() - start, 1)
                break
        proc.wait()
        if killed is not None:  # the pipe may stay open in orphaned children: stop reading, do not wait on them
            proc.stdout.close()
        return {"rc": proc.returncode, "seconds": round(time.monotonic() - start, 1), "killed_at": killed,
                "lines": lines, "error": next((ln for ln in lines if ln.startswith("error:")), "")}

    def deploy(self, **kw) -> Dict:
        return self.run("deploy", "--config", str(self.deploy_config), **kw)

    # -- the registry and what serves --------------------------------------------------------------------------
    @property
    def mlflow_db(self) -> Path:
        return self.state / "mlflow" / "mlflow.db"

    def aliases(self) -> Dict[str, str]:
        with sqlite3.connect(self.mlflow_db, timeout=60) as db:
            rows = db.execute("SELECT alias, version FROM registered_model_aliases WHERE name = ?", (MODEL,))
            return {alias: str(version) for alias, version in rows}

    def set_challenger(self, version: str) -> None:
        with sqlite3.connect(self.mlflow_db, timeout=60) as db:
            db.execute("UPDATE registered_model_aliases SET version = ? WHERE name = ? AND alias = 'challenger'",
                       (int(version), MODEL))

    def registry(self) -> Dict:
        path = self.state / "seldon-local" / "registry.json"
        return json.loads(path.read_text()) if path.is_file() else {"deployments": {}, "ingress": {}}

    def served_version(self) -> str:
        data = self.registry()
        port = data["ingress"].get("port")
        url = f"http://127.0.0.1:{port}/seldon/local/{MODEL}/api/v1.0/predictions"
        example = json.loads(next((self.state / "models" / MODEL).glob("*/input_example.json")).read_text())
        row = dict(zip(example["columns"], example["data"][0]))
        request = urllib.request.Request(url, json.dumps({"jsonData": row}).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return str(json.loads(resp.read())["meta"]["tags"]["model_version"])
        except Exception as exc:  # noqa: BLE001 - what a client would see
            return f"error ({type(exc).__name__})"

    def processes(self) -> Dict[str, List[int]]:
        """Processes of this run: model daemon groups, and orphans (anything else under the run's folders)."""
        data = self.registry()
        entry = data["deployments"].get(MODEL) or {}
        live = {(entry.get("instance") or {}).get("pid"), data["ingress"].get("pid")}
        live_groups = {_pgid(pid) for pid in live if pid}
        daemon_groups, orphans = set(), []
        me = {os.getpid(), *(p.pid for p in psutil.Process().parents())}  # the bench (its command line has --root)
        for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info["cwd"] or ""
            if proc.pid in me or not (str(self.root) in cmd or cwd.startswith(str(self.root))):
                continue
            if "serving.launch" in cmd and str(self.root) in cmd:
                daemon_groups.add(_pgid(proc.pid))
            if _pgid(proc.pid) not in live_groups:
                orphans.append(f"{proc.pid} {cmd[:100]}")
        return {"daemon_groups": sorted(g for g in daemon_groups if g), "orphans": orphans}

    def check(self) -> Dict:
        aliases, procs = self.aliases(), self.processes()
        served = self.served_version()
        return {"served": served, "champion": aliases.get("champion"), "challenger": aliases.get("challenger"),
                "daemons": len(procs["daemon_groups"]), "orphans": len(procs["orphans"]),
                "orphan_list": procs["orphans"],
                "consistent": served == aliases.get("champion") and len(procs["daemon_groups"]) == 1}

    def stop_orphans(self) -> None:
        for group in {_pgid(int(entry.split()[0])) for entry in self.processes()["orphans"]} - {None}:
            with contextlib.suppress(OSError):
                os.killpg(group, signal.SIGKILL)

    def not_serving(self) -> str:
        serving = self.aliases().get("champion")
        return "1" if serving == "2" else "2"


def _pgid(pid: int) -> Optional[int]:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def scenario_kill(bench: Bench, stage: str) -> Dict:
    env = None
    if stage == "env build":  # a fresh serving env, built by this deploy (and the next one)
        env = {"MLOPS_SERVING_ENV_DIR": str(bench.root / f"serving-env-{int(time.time())}")}
        bench.env["MLOPS_SERVING_ENV_DIR"] = env["MLOPS_SERVING_ENV_DIR"]
    bench.set_challenger(bench.not_serving())
    before = bench.check()
    faulted = bench.deploy(kill_at=KILL_STAGES[stage], env=env)
    gap = bench.served_version()
    following = bench.deploy(env=env)
    return {"fault": f"kill -9 `run.py deploy` at {stage}", "before": before, "faulted": faulted,
            "served_after_fault": gap, "next": following, "after": bench.check()}


def scenario_registry_down(bench: Bench, when: str) -> Dict:
    """The MLflow store unavailable (its SQLite file held under an exclusive lock), from the start or the switch."""
    bench.set_challenger(bench.not_serving())
    before = bench.check()
    holder: Dict = {}

    def lock_db(line: str = "") -> None:
        if "db" not in holder and (when == "start" or re.search(KILL_STAGES["after switch"], line)):
            holder["db"] = sqlite3.connect(bench.mlflow_db, isolation_level=None, timeout=60)
            holder["db"].execute("BEGIN EXCLUSIVE")

    if when == "start":
        lock_db()
    try:
        faulted = bench.deploy(on_line=lock_db)
    finally:
        if "db" in holder:
            holder["db"].execute("ROLLBACK")
            holder["db"].close()
    champion_during = before["champion"]
    mid = {"served": bench.served_version(), "champion": bench.aliases().get("champion")}
    following = bench.deploy()
    return {"fault": f"MLflow store unavailable {'for the whole deploy' if when == 'start' else 'from the switch'}",
            "before": before, "faulted": faulted, "served_after_fault": mid["served"],
            "champion_after_fault": mid["champion"], "champion_before": champion_during, "next": following,
            "after": bench.check()}


def scenario_concurrent(bench: Bench) -> Dict:
    bench.set_challenger(bench.not_serving())
    before = bench.check()
    results: List[Dict] = [{}, {}]
    threads = [threading.Thread(target=lambda i=i: results[i].update(bench.deploy())) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    waited = [any("waiting for another release" in ln for ln in r["lines"]) for r in results]
    deployed = [any(re.search(KILL_STAGES["after switch"], ln) for ln in r["lines"]) for r in results]
    return {"fault": "two `run.py deploy` of one model at once", "before": before, "runs": [
        {"rc": r["rc"], "seconds": r["seconds"], "waited": w, "switched": d, "error": r["error"]}
        for r, w, d in zip(results, waited, deployed)], "after": bench.check()}


def setup(bench: Bench) -> None:
    for _ in range(2):  # v1 and v2, same settings and seed: equal metrics
        result = bench.run("train", "--config", str(bench.train_config), "--no-cache")
        assert result["rc"] == 0, "\n".join(result["lines"][-30:])
    bench.set_challenger("1")
    first = bench.deploy()
    assert first["rc"] == 0, "\n".join(first["lines"][-30:])


def row(result: Dict) -> List[object]:
    after = result["after"]
    if "runs" in result:
        runs = result["runs"]
        fault_effect = (f"rc {[r['rc'] for r in runs]}; waited for the other: {[r['waited'] for r in runs]}; "
                        f"switched traffic: {[r['switched'] for r in runs]}")
        next_deploy = "(both were the deploys)"
    else:
        faulted = result["faulted"]
        fault_effect = (f"killed at {faulted['killed_at']} s" if faulted["killed_at"] is not None
                        else f"rc {faulted['rc']} after {faulted['seconds']} s: {faulted['error'][:160]}")
        fault_effect += f"; stable URL then served v{result['served_after_fault']}"
        if "champion_after_fault" in result:
            fault_effect += f", champion v{result['champion_after_fault']}"
        next_deploy = f"rc {result['next']['rc']} in {result['next']['seconds']} s"
    return [result["fault"], f"v{result['before']['served']} -> challenger v{result['before']['challenger']}",
            fault_effect, next_deploy, f"v{after['served']}", f"v{after['champion']}", after["daemons"],
            after["orphans"], "yes" if after["consistent"] and after["orphans"] == 0 else "NO"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated: kill, registry, concurrent (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary run state (and its daemons)")
    parser.add_argument("--root", default="", help="reuse the run state of an earlier --keep run (skips training)")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(","))) or {"kill", "registry", "concurrent"}
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="reliability-deploy-"))
    bench = Bench(root)
    print(f"run state: {root}\n{machine_note()}", flush=True)
    results = []
    try:
        if not bench.mlflow_db.is_file():
            setup(bench)
        plan = ([lambda s=s: scenario_kill(bench, s) for s in KILL_STAGES] if "kill" in only else [])
        plan += ([lambda w=w: scenario_registry_down(bench, w) for w in ("start", "switch")]
                 if "registry" in only else [])
        plan += [lambda: scenario_concurrent(bench)] if "concurrent" in only else []
        for step in plan:
            result = step()
            results.append(result)
            bench.stop_orphans()  # recorded above; stopped so that the next scenario starts clean
            print(json.dumps({k: v for k, v in result.items() if k not in ("faulted", "next")} | {
                "faulted_tail": result.get("faulted", {}).get("lines", [])[-3:]}, default=str), flush=True)
    finally:
        (root / "results.json").write_text(json.dumps(results, indent=1, default=str))
        if not args.keep:
            subprocess.run([sys.executable, "run.py", "deployments", "--stop", MODEL], cwd=PROJECT_ROOT,
                           env=bench.env, capture_output=True)
    print(markdown_table(["fault", "start", "the faulted run", "next deploy", "serves", "champion",
                          "daemons", "orphans", "consistent"], [row(r) for r in results]))


if __name__ == "__main__":
    main()
