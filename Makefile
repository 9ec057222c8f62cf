# Two commands on a fresh Linux machine with Python 3.11:
#   make run    set up, then train -> gate -> deploy on the embedded local stack (python run.py)
#   make test   set up (Python packages and the Debian packages the tests run), then the whole test suite
PYTHON ?= python3.11
VENV := .venv
UV_VERSION := 0.13.9

.PHONY: setup system-deps run-deps run test lock clean-state

setup: $(VENV)/.installed

# --compile-bytecode: no command pays for compiling ZenML/MLflow on first import (or on every import when the
# interpreter cannot write __pycache__), as the serving environment already does.
$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --compile-bytecode --python $(VENV)/bin/python requirements.lock
	touch $@

# Debian packages: the tests use all of them; `make run` only needs the local ingress (nginx).
system-deps:
	@for script in .ci/deps-*.sh; do bash "$$script" || exit 1; done

run-deps:
	@bash .ci/deps-serving.sh

run: setup run-deps
	$(VENV)/bin/python run.py

test: setup system-deps
	$(VENV)/bin/python -m pytest

lock:
	$(VENV)/bin/uv pip compile pyproject.toml --extra test -p 3.11 -o requirements.lock --no-header

clean-state:
	rm -rf .state .zen
