# The two commands of the quick start: `make demo` and `make test`.
# Both create .venv and install the pinned versions from requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck unit browser bench bench-quick soak lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

DEMO_HOME := $(CURDIR)/.modelbook-demo

demo: $(STAMP)
	$(BIN)/python examples/demo.py
	MODELBOOK_HOME=$(DEMO_HOME) $(BIN)/modelbook versions breast_cancer_classifier
	MODELBOOK_HOME=$(DEMO_HOME) $(BIN)/modelbook alias history breast_cancer_classifier
	MODELBOOK_HOME=$(DEMO_HOME) $(BIN)/modelbook resolve models:/breast_cancer_classifier@production
	MODELBOOK_HOME=$(DEMO_HOME) $(BIN)/modelbook evidence models:/breast_cancer_classifier/2
	MODELBOOK_HOME=$(DEMO_HOME) $(BIN)/modelbook audit log --model breast_cancer_classifier --action version.rollback
	MODELBOOK_HOME=$(DEMO_HOME) $(BIN)/modelbook audit verify
	MODELBOOK_HOME=$(DEMO_HOME) $(BIN)/modelbook verify

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

# Four workers on two cores: much of the suite waits on the processes it starts
# (CLI runs, smoke tests, racers, limits that must expire), so two workers left
# the cores idle a third of the time.
PYTEST_WORKERS ?= 4

# The suite starts hundreds of Python processes (CLI runs, smoke tests, racers):
# where PYTHONDONTWRITEBYTECODE is set, each would compile modelbook from source
# (0.15 s a process here) unless its bytecode is compiled first.
unit: $(STAMP) browser
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

test: lint unit

# The report test prints a report in a real browser (Debian's chromium package) and
# the lineage test renders DOT with Graphviz (graphviz): both are installed from the
# system's package index when they are missing (never a download).
browser:
	@{ test -x /usr/bin/chromium && test -x /usr/bin/dot; } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get"; \
	  $$APT install -y chromium graphviz || { $$APT update && $$APT install -y chromium graphviz; }; }

bench: $(STAMP)
	$(BIN)/python bench/run.py --full

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick

soak: $(STAMP)
	MODELBOOK_SOAK=1 $(BIN)/python -m pytest -q tests/reliability

# Re-resolve the pinned versions after changing ranges in pyproject.toml.
lock:
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .modelbook-demo
