"""The benchmark plumbing measures what it claims: memory of the whole process tree, exit codes, the run timeline.

No timed assertions: these check that figures are measured, not how fast anything is.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from common import Measurement, check, measure  # noqa: E402
from training import parse_duration, pipeline_timeline, report  # noqa: E402

ALLOCATE = "import time; b = bytearray({n} * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5)"


def test_peak_rss_counts_the_largest_process_and_the_tree():
    # The parent holds 50 MiB, its child 300 MiB: the largest process is the child, the tree holds both at once.
    child = ALLOCATE.format(n=300)
    code = (f"import subprocess, sys; {ALLOCATE.format(n=50)}; "
            f"subprocess.run([sys.executable, '-c', {child!r}], check=True)")
    m = check(measure([sys.executable, "-c", code], sample_every_s=0.05), "allocating command")
    assert m.peak_rss_largest >= 300 * 2**20
    assert m.peak_rss_tree >= 350 * 2**20
    assert m.cpu_s > 0


def test_failed_command_is_reported_with_its_output():
    m = measure([sys.executable, "-c", "print('about to fail'); raise SystemExit(3)"])
    assert m.returncode == 3
    with pytest.raises(RuntimeError, match=r"(?s)demo failed \(exit 3\).*about to fail"):
        check(m, "demo")


def test_timeout_stops_the_whole_process_group():
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    with pytest.raises(TimeoutError, match="still running"):
        measure([sys.executable, "-c", code], timeout_s=1.0)


@pytest.mark.parametrize("text, seconds", [("0.455s", 0.455), ("1m12s", 72.0), ("1h2m3s", 3723.0)])
def test_zenml_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def _run(lines):
    return Measurement(command=["x"], returncode=0, wall_s=20.0, cpu_s=1.0, peak_rss_largest=1, peak_rss_tree=1,
                       lines=lines, load_before=0.0)


def test_timeline_splits_startup_steps_and_teardown():
    m = _run([
        (5.0, "stack: local"),
        (8.0, "Initiating a new run for the pipeline: training_pipeline."),
        (9.0, "Step `ingest_data` has started."),
        (11.0, "Step `ingest_data` has finished in 1.500s."),
        (11.5, "Using cached version of step `profile_data`."),
        (12.0, "Step `train_model` has started."),
        (16.0, "Step `train_model` has finished in 3.800s."),
        (17.0, "Pipeline run has finished in `8.100s`."),
    ])
    tl = pipeline_timeline(m)
    assert tl["stack_ready_s"] == 5.0 and tl["startup_s"] == 8.0 and tl["run_setup_s"] == 1.0
    assert tl["steps_s"] == {"ingest_data": 1.5, "train_model": 3.8}
    assert tl["between_steps_s"] == pytest.approx((17.0 - 9.0) - 5.3)
    assert tl["teardown_s"] == 3.0 and tl["cached_steps"] == ["profile_data"]


def test_report_renders_targets_from_raw_figures():
    fig = {"wall_s": 10.0, "cpu_s": 8.0, "peak_rss_largest": 2**30, "peak_rss_tree": 2**30, "load_before": 0.5}
    tl = {"stack_ready_s": 1.0, "startup_s": 2.0, "run_setup_s": 0.5, "steps_s": {"train_model": 5.0},
          "in_steps_s": 5.0, "between_steps_s": 0.1, "teardown_s": 0.3, "cached_steps": []}
    size = {"rows": 100_000, "plain": fig, "plain_stages": {"imports": 1.0, "train_search": 4.0},
            "uncached": {**fig, "wall_s": 11.0}, "uncached_timeline": tl, "cached": {**fig, "wall_s": 1.0},
            "cached_timeline": tl}
    text = report({"machine": "test", "threads": "default", "warmup": fig, "sizes": [size]})
    assert "orchestration overhead at 100,000 rows: 10% wall" in text and ": MET" in text
    assert "cached rerun at 100,000 rows: 9% of uncached" in text
