"""monitoring.local without servers: status, down and messages when nothing runs, and binary lookup errors."""

import pytest

from monitoring import local


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))


def test_nothing_running():
    info = local.status()
    assert info["running"] is False
    assert "not running" in local.describe(info) and "python run.py monitoring up" in local.describe(info)
    assert local.down() == {"stopped": {}}


def test_missing_binary_names_the_install_script(monkeypatch):
    monkeypatch.setitem(local.BINARIES, "prometheus", "prometheus-that-does-not-exist")
    with pytest.raises(FileNotFoundError, match=r"prometheus-that-does-not-exist not found .*deps-monitoring.sh"):
        local.up()


def test_reload_without_prometheus_says_how_to_start():
    with pytest.raises(RuntimeError, match="python run.py monitoring up"):
        local.reload()


def test_dead_pid_is_not_running(tmp_path):
    (tmp_path / "monitoring").mkdir(exist_ok=True)
    (tmp_path / "monitoring" / "state.json").write_text(
        '{"prometheus": {"pid": 999999, "url": "http://127.0.0.1:1", "port": 1, "log": "x"},'
        ' "pushgateway": {"pid": 999998, "url": "http://127.0.0.1:2", "port": 2, "log": "y"}}')
    assert local.status()["running"] is False
    assert local.down() == {"stopped": {}}
