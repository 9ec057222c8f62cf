"""The CLI's error contract: one clear message naming the problem, exit code 1, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd):
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "one_class.csv").write_text("a,y\n1,1\n2,1\n3,1\n")
    (tmp_path / "ok.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(60)))
    (tmp_path / "bad_config.yaml").write_text("model: {name: churn-classifier}\nsplit: {test_size: 2}\n")
    (tmp_path / "sparse.csv").write_text("id,notes,y\n" + "".join(
        f"{i},{'seen' if i % 5 == 0 else ''},{i % 2}\n" for i in range(60)))
    return tmp_path


# Each error names the problem and the way forward (the flag, the config key or the column).
@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--data", "missing.csv", "--target", "y"],
         ["data file not found: ", "; pass --data with the path of a .csv/.parquet/.pq file"]),
        (["--data", "ok.csv", "--target", "why"],
         ["target column 'why' not found", "Pass --target with one of the available columns: 'a', 'b', 'y'"]),
        (["--data", "notes.txt", "--target", "y"], ["unsupported file type '.txt'", "save the table as CSV"]),
        (["--data", "empty.csv", "--target", "y"], ["data file is empty", "--data needs a table with a header"]),
        (["--data", "one_class.csv", "--target", "y"], ["target 'y' has a single value", "pick another --target"]),
        (["--data", "ok.csv"], ["a target column is required", "pass --target <column>"]),
        (["--data", "ok.csv", "--target", "y", "--task", "multiclass"], ["exactly 2 classes: use --task binary"]),
        (["--data", "sparse.csv", "--target", "y"],
         ["no usable feature columns left: id: identifier", "notes: mostly empty: 80.0% missing (48 of 60 rows)",
          "To go on, raise validation.max_null_fraction (now 0.5) in the training config"]),
        (["--config", "bad_config.yaml"], ["bad_config.yaml: split.test_size: Input should be less than 1"]),
        (["--data", "sklearn:imagenet"], ["unknown scikit-learn dataset 'imagenet'", "'sklearn:iris'"]),
        # the shipped config's behaviour checks describe the churn table: with --config they are kept, and named
        (["--config", str(ROOT / "configs" / "training.yaml"), "--data", "ok.csv", "--target", "y"],
         ["behaviour check 'support-calls-raise-risk': column 'support_calls' is not a feature of this table "
          "(features: b)", "declare your own in a training config"]),
    ],
)
def test_user_errors_get_one_clear_message(files, args, fragments):
    code, output = run_cli("train", *args, cwd=files)
    assert code == 1
    assert all(fragment in output for fragment in fragments), output
    assert "Traceback" not in output and output.count("\n") <= 3


def test_help_lists_the_commands(tmp_path):
    code, output = run_cli("--help", cwd=tmp_path)
    assert code == 0 and "train" in output


@pytest.mark.parametrize("args, fragment", [
    (["monitor", "--since", "1h"], "--since selects recorded windows: use it with --live"),
    (["monitor", "--live", "--since", "an hour"], "duration 'an hour': expected a number and a unit"),
    (["monitor", "--live", "--data", "ok.csv"], "--live monitors the endpoint's recorded traffic"),
    (["monitor", "--every", "15m"], "--every schedules live monitoring: use it with --live and without --data"),
    (["monitor", "--live", "--every", "15m", "--since", "1h"], "--every monitors the windows since the last check"),
    (["monitor", "--live", "--every", "often"], "duration 'often': expected a number and a unit"),
    (["schedule", "status", "Live Churn"], "schedule name 'Live Churn': expected lowercase letters"),
    (["monitor", "--schedule", "*/15 * * * *"], "--schedule schedules live monitoring: use it with --live"),
    (["monitor", "--live", "--schedule", "*/15 * * * *", "--every", "15m"], "and --every (a local background"),
    (["monitor", "--live", "--schedule", "*/15 * * * *", "--since", "1h"], "--schedule monitors the windows since"),
    (["monitor", "--live", "--schedule", "15m"], "--schedule '15m': expected a cron expression of five fields"),
])
def test_live_monitoring_flags_are_checked_before_anything_runs(files, args, fragment):
    code, output = run_cli(*args, cwd=files)
    assert code == 1 and fragment in output and "Traceback" not in output, output


def test_a_cron_schedule_on_the_local_stack_points_to_every(tmp_path):
    code, output = run_cli("monitor", "--live", "--schedule", "*/15 * * * *", cwd=tmp_path)
    assert code == 1 and "--schedule makes a CronJob on the kubernetes stack" in output, output
    assert "python run.py monitor --live --every 15m" in output and "Traceback" not in output


def test_schedule_commands_without_schedules(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))  # not the session's: other tests schedule there
    code, output = run_cli("schedule", "status", cwd=tmp_path)
    assert code == 0 and "no schedules; start one with `python run.py monitor --live --every 15m`" in output
    code, output = run_cli("schedule", "stop", "live-churn", cwd=tmp_path)
    assert code == 0 and "schedule live-churn was not running" in output
