"""The local schedule: a supervised background loop that runs a command every N seconds, logs every run, posts the
first failure of a streak (and the recovery) to the alerts webhook, goes on after a failure, and stops cleanly."""

import json
import sys

import pytest
import yaml

from core.config import CONFIG_DIR
from monitoring import schedule
from tests.monitoring.webhook_sink import webhook_sink
from tests.serving.conftest import wait_for

WAIT_S = 60


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def _config_with_webhook(tmp_path, url):
    raw = yaml.safe_load((CONFIG_DIR / "monitoring.yaml").read_text())
    raw["alerts"]["webhook_url"] = url
    path = tmp_path / "monitoring.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _flaky_command(tmp_path):
    """Exits with the code written in a file (the test flips it), and says so."""
    code = tmp_path / "exit-code"
    code.write_text("3")
    script = f"import sys; c = int(open({str(code)!r}).read()); print('monitor run, exit', c); sys.exit(c)"
    return [sys.executable, "-c", script], code


def test_a_failed_run_is_logged_and_alerted_and_the_loop_goes_on(state):
    command, code = _flaky_command(state)
    with webhook_sink() as sink:
        config = _config_with_webhook(state, sink.url)
        info = schedule.start("live-flaky", 1, command, config)
        try:
            assert info["running"] and info["every"] == "1s"
            failed = sink.wait_for(lambda b: b["json"]["event"].get("event") == "schedule_run_failed", WAIT_S)
            assert failed["json"]["event"]["schedule"] == "live-flaky" and failed["json"]["event"]["exit_code"] == 3
            assert "monitor run, exit 3" in failed["json"]["text"]
            assert wait_for(lambda: schedule.status("live-flaky").get("failed", 0) >= 2, timeout=WAIT_S), \
                "the loop stopped after a failed run"
            assert sum(b["json"]["event"].get("event") == "schedule_run_failed" for b in sink.bodies) == 1
            code.write_text("0")
            sink.wait_for(lambda b: b["json"]["event"].get("event") == "schedule_recovered", WAIT_S)
            assert wait_for(lambda: schedule.status("live-flaky").get("ok", 0) >= 1, timeout=WAIT_S)
            with pytest.raises(schedule.ScheduleError, match="already runs.*schedule stop live-flaky"):
                schedule.start("live-flaky", 1, command, config)
        finally:
            assert schedule.stop("live-flaky")
    final = schedule.status("live-flaky")
    assert not final["running"]
    log = (state / "state" / "schedules" / "live-flaky" / "schedule.log").read_text()
    assert "run failed (exit 3)" in log and "run ok" in log and "monitor run, exit 3" in log
    assert [r["exit_code"] for r in final["runs"]][:2] == [3, 3]
    assert "stopped" in schedule.describe(final) and "schedule stop live-flaky" in schedule.describe(final)
    assert schedule.stop("live-flaky") is False
    assert json.loads((state / "state" / "schedules" / "live-flaky" / "status.json").read_text())["stopped_at"]


def test_bad_schedules_are_refused(state):
    with pytest.raises(schedule.ScheduleError, match="at least 1 second"):
        schedule.start("live-x", 0.1, ["true"])
    with pytest.raises(schedule.ScheduleError, match="schedule name 'Live X'"):
        schedule.status("Live X")
    assert schedule.list_schedules() == []


def test_the_monitor_command_is_the_project_cli():
    argv = schedule.monitor_command("churn", None, "local")
    assert argv[1].endswith("run.py") and argv[2:] == ["monitor", "--live", "--model-name", "churn", "--stack", "local"]
