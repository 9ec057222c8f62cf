#!/usr/bin/env python
"""Training pipeline vs the same ML work as a plain script: wall time, CPU time and peak memory, in one run.

For each size (default 10k, 100k and 1M synthetic rows) it runs, each as a fresh process:
  plain     python bench/plain_training.py --rows N --seed S      (no ZenML, no MLflow)
  pipeline  python run.py train --rows N --seed S --no-cache      (the ZenML training pipeline, uncached)
  cached    python run.py train --rows N --seed S                 (the same run again, served from the step cache)
ZenML, MLflow and run state live in a temporary directory (never the user's); a first small run in that fresh
state is reported on its own, because database creation and stack registration happen once per machine.

  floor     python bench/trivial_pipeline.py --steps 9 (twice; the second, all-cached, is measured): ZenML alone
            with as many steps, on the same stack, beside the all-cached `run.py train`
Targets: issue 11: overhead <= 30% of the plain script at 100k rows (wall), all-cached rerun <= 5 s; earlier: a
cached rerun <= 10% of the uncached run; 1M rows within 8 GiB peak RSS. With --repeat N the medians over the N
repetitions are printed first (with the load average at the start of each run).

    python bench/training.py                      # 10k, 100k, 1M once each
    python bench/training.py --threads 1 --rows 100000 --repeat 5    # issue 11 figures, ~9 min on 2 quiet CPUs
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GIB, PROJECT_ROOT, PYTHON, Measurement, check, gib, machine_note, markdown_table, measure  # noqa: E402

OVERHEAD_TARGET, CACHED_TARGET, RSS_TARGET_GIB, OVERHEAD_AT_ROWS = 0.30, 0.10, 8.0, 100_000
ALL_CACHED_TARGET_S = 5.0
WARMUP_ROWS = 2000
# Pipeline step -> the plain-script stages doing the same work.
STEP_STAGES = {
    "ingest_data": ["generate", "plan_contract_fingerprint"],
    "profile_data": ["profile"],
    "validate_data": ["validate"],
    "data_quality_gate": [],
    "split_dataset": ["split", "split_calibration"],
    "train_model": ["train_search"],
    "calibrate_model": ["calibrate"],
    "evaluate_model": ["evaluate"],
    "register_model": ["serialise_skops"],
    "write_model_card": [],
}
FLOOR_STEPS = len(STEP_STAGES)  # the trivial ZenML pipeline beside the all-cached rerun has as many steps
_STEP_STARTED = re.compile(r"Step `?(\w+)`? has started")
_STEP_FINISHED = re.compile(r"Step `?(\w+)`? has finished in `?([\dhms.]+)")
_STEP_CACHED = re.compile(r"Using cached version of step `?(\w+)")


def isolated_env(state_root: Path, project: Path) -> Dict[str, str]:
    """Environment for a pipeline run whose ZenML store, repository, MLflow and artifacts live under `state_root`."""
    (state_root / "repo").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "ZENML_CONFIG_PATH": str(state_root / "zenml-config"),
        "ZENML_REPOSITORY_PATH": str(state_root / "repo"),
        "MLOPS_STATE_DIR": str(state_root / "state"),
        "ZENML_CUSTOM_SOURCE_ROOT": str(project),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "WHYLOGS_NO_ANALYTICS": "1",
        "ZENML_LOGGING_COLORS_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",  # line timestamps must be taken when the line is written
    })
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def parse_duration(text: str) -> float:
    """ZenML's human-readable durations: '0.455s', '1m12s', '1h2m3s'."""
    seconds = 0.0
    for value, unit in re.findall(r"([\d.]+)([dhms])", text):
        seconds += float(value) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
    return seconds


def pipeline_timeline(m: Measurement) -> Dict[str, object]:
    """Splits a pipeline run's wall time into fixed start-up, per-step time and teardown, from its log lines."""
    started: Dict[str, float] = {}
    steps: Dict[str, float] = {}
    cached: List[str] = []
    for t, line in m.lines:
        if match := _STEP_STARTED.search(line):
            started[match.group(1)] = t
        elif match := _STEP_FINISHED.search(line):
            steps[match.group(1)] = parse_duration(match.group(2))
        elif match := _STEP_CACHED.search(line):
            cached.append(match.group(1))
    stack_ready = m.first_time(r"^stack: ")
    run_created = m.first_time(r"Initiating a new run for the pipeline")
    cached_first = m.first_time(_STEP_CACHED.pattern)
    candidates = [*started.values(), *([cached_first] if cached_first is not None else [])]
    first_step = min(candidates) if candidates else m.wall_s
    # ZenML prints no duration when every step came from the cache, only that they did.
    finished = m.first_time(r"Pipeline run has finished in|All steps of the pipeline run were cached")
    return {
        # imports, config, pre-flight checks, stack registration, MLflow experiment: paid once per command
        "startup_s": run_created if run_created is not None else first_step,
        "stack_ready_s": stack_ready,
        "run_setup_s": (first_step - run_created) if run_created is not None else None,
        "steps_s": steps,
        "in_steps_s": sum(steps.values()),
        "between_steps_s": ((finished or m.wall_s) - first_step) - sum(steps.values()),
        "teardown_s": (m.wall_s - finished) if finished is not None else None,
        "cached_steps": cached,
    }


def plain_result(m: Measurement) -> Dict[str, object]:
    line = next((line for _, line in m.lines if line.startswith("PLAIN_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"plain script printed no result line:\n{m.tail()}")
    return json.loads(line[len("PLAIN_RESULT "):])


def run_size(rows: int, seed: int, project: Path, env: Dict[str, str], echo: bool) -> Dict[str, object]:
    """plain, uncached pipeline and cached pipeline for one size, back to back."""
    run_py = [PYTHON, str(project / "run.py"), "train", "--rows", str(rows), "--seed", str(seed)]
    plain_cmd = [PYTHON, str(Path(__file__).resolve().parent / "plain_training.py"), "--rows", str(rows),
                 "--seed", str(seed)]
    print(f"  {rows:>9,} rows: plain ...", flush=True)
    plain = check(measure(plain_cmd, env=env, cwd=project, echo=echo), "plain script")
    print(f"  {rows:>9,} rows: pipeline (uncached) ...", flush=True)
    uncached = check(measure([*run_py, "--no-cache"], env=env, cwd=project, echo=echo), "uncached pipeline")
    print(f"  {rows:>9,} rows: pipeline (cached rerun) ...", flush=True)
    cached = check(measure(run_py, env=env, cwd=project, echo=echo), "cached pipeline")
    # A second rerun with the same options: the first one changed `enable_cache`, which is part of the config digest
    # that register_model takes, so that step ran again; now every step can come from the cache.
    print(f"  {rows:>9,} rows: pipeline (cached again) ...", flush=True)
    again = check(measure(run_py, env=env, cwd=project, echo=echo), "cached pipeline")
    print(f"  {rows:>9,} rows: trivial {FLOOR_STEPS}-step ZenML pipeline (all-cached) ...", flush=True)
    trivial = [PYTHON, str(Path(__file__).resolve().parent / "trivial_pipeline.py"), "--steps", str(FLOOR_STEPS)]
    check(measure(trivial, env=env, cwd=project), "trivial pipeline")  # the first one fills the cache
    floor = check(measure(trivial, env=env, cwd=project), "trivial pipeline")
    return {"floor": floor, "rows": rows, "plain": plain, "plain_result": plain_result(plain), "uncached": uncached,
            "uncached_timeline": pipeline_timeline(uncached), "cached": cached,
            "cached_timeline": pipeline_timeline(cached), "cached_again": again,
            "cached_again_timeline": pipeline_timeline(again)}


def _median_run(runs: List[Dict[str, object]]) -> Dict[str, object]:
    """The repetition whose uncached pipeline time is the median: its plain and cached runs come with it."""
    ordered = sorted(runs, key=lambda r: r["uncached"].wall_s)
    return ordered[(len(ordered) - 1) // 2]


def _fmt(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(part: float, whole: float) -> float:
    return 100 * part / whole


def _again(r: Dict[str, object]) -> List[str]:
    again = r.get("cached_again")
    if not again:
        return ["-", "-"]
    return [_fmt(again["wall_s"]), f"{_pct(again['wall_s'], r['uncached']['wall_s']):.0f}"]


def report(raw: Dict[str, object]) -> str:
    """Markdown from the raw figures (see `raw_figures`): headline table, where the time goes, per step, verdicts."""
    sizes = raw["sizes"]
    out = [f"Machine: {raw['machine']}, {raw['threads']}", ""]
    header = ["rows", "plain s", "pipeline s", "overhead %", "cached s", "cached %", "all-cached s", "all-cached %",
              "CPU s plain / pipeline",
              "CPU overhead %", "peak RSS GiB plain / pipeline (largest process)", "peak RSS GiB pipeline (tree sum)"]
    table = []
    for r in sizes:
        p, u, c = r["plain"], r["uncached"], r["cached"]
        table.append([f"{r['rows']:,}", _fmt(p["wall_s"]), _fmt(u["wall_s"]), f"{_pct(u['wall_s'], p['wall_s']) - 100:.0f}",
                      _fmt(c["wall_s"]), f"{_pct(c['wall_s'], u['wall_s']):.0f}", *_again(r),
                      f"{p['cpu_s']:.1f} / {u['cpu_s']:.1f}",
                      f"{_pct(u['cpu_s'], p['cpu_s']) - 100:.0f}",
                      f"{gib(p['peak_rss_largest'])} / {gib(u['peak_rss_largest'])}", gib(u["peak_rss_tree"])])
    out += [markdown_table(header, table), ""]
    loads = ", ".join(f"{r['plain']['load_before']:.1f}" for r in sizes)
    out += [f"First run in a fresh state ({WARMUP_ROWS:,} rows; creates the ZenML and MLflow databases and registers "
            f"the stack): {raw['warmup']['wall_s']:.1f} s, once per machine, not counted above. Load average at the "
            f"start of each size: {loads}.", ""]

    out += ["Where the pipeline's wall time goes (s). start-up = process start to 'Initiating a new run' (imports, "
            "config, pre-flight, stack registration, MLflow experiment); stack ready = when `stack: local` is "
            "printed; run setup = run creation to first step; teardown = run finished to process exit.", ""]
    rows = []
    for r in sizes:
        for kind in ("uncached", "cached", "cached_again"):
            tl = r.get(f"{kind}_timeline")
            if tl is None:
                continue
            rows.append([f"{r['rows']:,}", kind, _fmt(tl["stack_ready_s"]), _fmt(tl["startup_s"]),
                         _fmt(tl["run_setup_s"]), _fmt(tl["in_steps_s"]), _fmt(tl["between_steps_s"]),
                         _fmt(tl["teardown_s"]), _fmt(r[kind]["wall_s"]), len(tl["cached_steps"])])
    out += [markdown_table(["rows", "run", "stack ready", "start-up", "run setup", "in steps", "between steps",
                            "teardown", "total", "cached steps"], rows), ""]

    out += ["Per step, plain script stage vs uncached pipeline step (s); the difference is artifact "
            "materialization, metadata, MLflow logging and dashboard visualizations:", ""]
    rows = []
    for step, stages in STEP_STAGES.items():
        row: List[object] = [step]
        for r in sizes:
            plain_s = sum(r["plain_stages"].get(s, 0.0) for s in stages)
            row.append(f"{plain_s:.2f} / {_fmt(r['uncached_timeline']['steps_s'].get(step))}")
        rows.append(row)
    rows.append(["imports (plain) / start-up (pipeline)"]
                + [f"{r['plain_stages']['imports']:.2f} / {_fmt(r['uncached_timeline']['startup_s'])}" for r in sizes])
    out += [markdown_table(["step", *[f"{r['rows']:,} rows" for r in sizes]], rows), ""]
    return "\n".join(out + verdicts(sizes))


def verdicts(sizes: List[Dict[str, object]]) -> List[str]:
    lines = ["Verdict against the targets:", ""]
    by_rows = {r["rows"]: r for r in sizes}
    if OVERHEAD_AT_ROWS in by_rows:
        r = by_rows[OVERHEAD_AT_ROWS]
        wall = r["uncached"]["wall_s"] / r["plain"]["wall_s"] - 1
        cpu = r["uncached"]["cpu_s"] / r["plain"]["cpu_s"] - 1
        lines.append(f"- orchestration overhead at {OVERHEAD_AT_ROWS:,} rows: {100 * wall:.0f}% wall, {100 * cpu:.0f}% "
                     f"CPU (target <= {100 * OVERHEAD_TARGET:.0f}%): {'MET' if wall <= OVERHEAD_TARGET else 'MISSED'}")
    for r in sizes:
        share = r["cached"]["wall_s"] / r["uncached"]["wall_s"]
        again = f", {_again(r)[1]}% when every step is cached" if r.get("cached_again") else ""
        lines.append(f"- cached rerun at {r['rows']:,} rows: {100 * share:.0f}% of uncached{again} "
                     f"(target <= {100 * CACHED_TARGET:.0f}%): {'MET' if share <= CACHED_TARGET else 'MISSED'}")
    for r in sizes:
        if r.get("cached_again"):
            again = r["cached_again"]["wall_s"]
            lines.append(f"- all-cached rerun at {r['rows']:,} rows: {again:.2f} s (target <= {ALL_CACHED_TARGET_S:.0f} "
                         f"s): {'MET' if again <= ALL_CACHED_TARGET_S else 'MISSED'}")
    big = max(sizes, key=lambda r: r["rows"])
    peak = max(big[k]["peak_rss_tree"] for k in ("plain", "uncached", "cached")) / GIB
    lines.append(f"- peak RSS at {big['rows']:,} rows (tree sum, an upper bound): {peak:.2f} GiB "
                 f"(target <= {RSS_TARGET_GIB:.0f} GiB at 1,000,000 rows): {'MET' if peak <= RSS_TARGET_GIB else 'MISSED'}")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per size; the median one is reported")
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="checkout whose run.py is measured")
    parser.add_argument("--keep-state", action="store_true", help="keep the temporary ZenML/MLflow state")
    parser.add_argument("--json", type=Path, default=None, help="also write raw figures to this file")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for every command (default: the libraries' own choice). On a busy "
                             "machine, 1 keeps OpenMP threads of the boosting model from spinning against other work")
    parser.add_argument("--echo", action="store_true", help="show the commands' output while they run")
    parser.add_argument("--report", type=Path, default=None, help="only render the report of a saved --json file")
    args = parser.parse_args(argv)
    if args.report:
        print(report(json.loads(args.report.read_text())))
        return 0

    state_root = Path(tempfile.mkdtemp(prefix="mlops-bench-training-"))
    env = isolated_env(state_root, args.project.resolve())
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    threads = f"OMP_NUM_THREADS={args.threads}" if args.threads else "library default threads"
    print(f"state: {state_root}\n{machine_note()}, {threads}", flush=True)
    try:
        print(f"  first run in a fresh state ({WARMUP_ROWS:,} rows) ...", flush=True)
        warmup = check(measure([PYTHON, str(args.project / "run.py"), "train", "--rows", str(WARMUP_ROWS),
                                "--no-cache"], env=env, cwd=args.project, echo=args.echo), "first pipeline run")
        results, medians = [], []
        for rows in args.rows:
            runs = [run_size(rows, args.seed, args.project, env, args.echo) for _ in range(args.repeat)]
            results.append(_median_run(runs))
            medians.append(median_row(rows, runs))
            if args.repeat > 1:
                spread = [round(r["uncached"].wall_s / r["plain"].wall_s - 1, 3) for r in runs]
                print(f"  {rows:>9,} rows: overhead per repetition {spread}", flush=True)
        raw = raw_figures(results, warmup, threads)
        if args.json:
            args.json.write_text(json.dumps(raw, indent=1))
        print("\n" + medians_report(medians) + "\n\n" + report(raw))
    finally:
        if not args.keep_state:
            shutil.rmtree(state_root, ignore_errors=True)
    return 0


def median_row(rows: int, runs: List[Dict[str, object]]) -> List[str]:
    """Medians over the repetitions of one size: plain, uncached, overhead, all-cached rerun and ZenML's floor."""
    from statistics import median

    def wall(kind: str) -> float:
        return median(r[kind].wall_s for r in runs)

    def cpu(kind: str) -> float:
        return median(r[kind].cpu_s for r in runs)

    loads = [r[k].load_before for r in runs for k in ("plain", "uncached", "cached_again", "floor")]
    overhead = median(r["uncached"].wall_s / r["plain"].wall_s - 1 for r in runs)
    return [f"{rows:,}", str(len(runs)), f"{wall('plain'):.2f}", f"{wall('uncached'):.2f}", f"{100 * overhead:.0f}",
            f"{cpu('plain'):.1f} / {cpu('uncached'):.1f}", f"{wall('cached_again'):.2f} ({cpu('cached_again'):.1f})",
            f"{wall('floor'):.2f} ({cpu('floor'):.1f})", f"{min(loads):.1f}-{max(loads):.1f}"]


def medians_report(rows: List[List[str]]) -> str:
    header = ["rows", "runs", "plain s", "pipeline s", "overhead % (median)", "CPU s plain / pipeline",
              "all-cached rerun s (CPU s)", f"trivial {FLOOR_STEPS}-step ZenML pipeline all-cached s (CPU s)",
              "load avg"]
    return (f"Medians over the repetitions (targets: overhead <= {100 * OVERHEAD_TARGET:.0f}% at "
            f"{OVERHEAD_AT_ROWS:,} rows, all-cached rerun <= {ALL_CACHED_TARGET_S:.0f} s):\n\n"
            + markdown_table(header, rows))


def raw_figures(results: List[Dict[str, object]], warmup: Measurement, threads: str) -> Dict[str, object]:
    """JSON-able figures of a benchmark run; `report` renders them (also later, with --report FILE)."""
    def m(x: Measurement) -> Dict[str, object]:
        return {"wall_s": x.wall_s, "cpu_s": x.cpu_s, "peak_rss_largest": x.peak_rss_largest,
                "peak_rss_tree": x.peak_rss_tree, "load_before": x.load_before, "command": x.command}

    return {"machine": machine_note(), "threads": threads, "warmup": m(warmup), "sizes": [
        {"rows": r["rows"], "plain": m(r["plain"]), "plain_stages": r["plain_result"]["stages"],
         "plain_result": r["plain_result"], "uncached": m(r["uncached"]), "uncached_timeline": r["uncached_timeline"],
         "cached": m(r["cached"]), "cached_timeline": r["cached_timeline"], "cached_again": m(r["cached_again"]),
         "cached_again_timeline": r["cached_again_timeline"]} for r in results]}


if __name__ == "__main__":
    sys.exit(main())
