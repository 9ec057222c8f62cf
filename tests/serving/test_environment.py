"""The serving environment: pins agree with training, it is built once, reused, rebuilt, and fails clearly."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from serving import environment
from serving.environment import PROJECT_ROOT, REQUIREMENTS, ServingEnvError, ensure_serving_env


def _pins(path: Path) -> dict:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_serving_pins_match_training_where_it_matters():
    serving, training = _pins(REQUIREMENTS), _pins(PROJECT_ROOT / "requirements.lock")
    # the model is a skops-serialized sklearn Pipeline: the sklearn that loads it must be the one that fitted it
    assert serving["scikit-learn"] == training["scikit-learn"]
    assert serving["skops"] == training["skops"]
    assert serving["seldon-core"] == "1.17.1"  # 1.18+ is BSL-licensed
    assert int(serving["numpy"].split(".")[0]) < 2


def test_serving_pins_carry_the_advisory_fixes():
    """The lock honours every floor of serving/overrides.txt (werkzeug, gunicorn, ... past their advisories)."""
    from packaging.requirements import Requirement

    serving = _pins(REQUIREMENTS)
    floors = [Requirement(line) for line in (PROJECT_ROOT / "serving" / "overrides.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert {r.name for r in floors} >= {"werkzeug", "gunicorn"}
    for req in floors:
        assert req.specifier.contains(serving[req.name], prereleases=True), f"{req.name}=={serving[req.name]}: {req}"
    assert "--override serving/overrides.txt" in REQUIREMENTS.read_text().splitlines()[1]


def test_serving_code_imports_neither_zenml_nor_mlflow():
    for path in (PROJECT_ROOT / "serving").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(zenml|mlflow)\b", text, re.M), path


def test_env_is_reused_and_a_half_built_one_is_rebuilt(serving_python, monkeypatch):
    root = serving_python.parent.parent.parent
    messages = []
    assert ensure_serving_env(log=messages.append, root=root) == serving_python
    assert messages == [], "a finished environment must be reused silently"
    # An environment without its completion marker (a build that was interrupted) is never used.
    calls = []
    monkeypatch.setattr(environment, "_run", lambda cmd, log, what: calls.append(what))
    marker = serving_python.parent.parent / environment.MARKER
    fake_root = root.parent / "fake-serving-env"
    half = environment.env_dir(fake_root)
    (half / "bin").mkdir(parents=True)
    (half / "bin" / "python").touch()
    with pytest.raises(FileNotFoundError):  # _run is stubbed, so the rebuilt env has no python to mark complete
        ensure_serving_env(log=messages.append, root=fake_root)
    assert any("removing incomplete environment" in m for m in messages)
    assert calls[:2] == ["create venv", "install pins"]
    assert marker.is_file()


def test_a_failed_build_says_why_and_leaves_nothing(tmp_path):
    bad = tmp_path / "requirements.txt"
    bad.write_text("seldon-core==0.0.0.dev9999\n")
    messages = []
    with pytest.raises(ServingEnvError, match="could not build the serving environment .*install pins"):
        ensure_serving_env(log=messages.append, root=tmp_path / "envs", requirements=bad)
    assert messages and messages[0].startswith("serving env: building")
    assert not any((tmp_path / "envs").iterdir()), "a failed build must not leave a half-built environment"


def test_env_python_runs_the_microservice_entry_point(serving_python):
    out = subprocess.run([str(serving_python), "-c", "import seldon_core, sklearn, numpy; "
                          "print(seldon_core.__version__, sklearn.__version__, numpy.__version__)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "1.17.1" and out[1] == "1.9.1" and out[2].startswith("1.")
