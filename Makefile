# Two commands do all the set-up on a fresh machine:
#   make run   -- create .venv if missing, install, run the built-in default
#   make test  -- same set-up, then the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lossybench-installed

.PHONY: run sweep test setup system-deps lint clean

setup: $(STAMP)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (Python 3.11)"; exit 1; }
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); [ "$$free" -ge 7 ] || \
		echo "warning: $$free GiB free here; the venv needs about 6.5 GiB (torch's CUDA build)," \
		"so pip may stop with 'No space left on device': free some space first" >&2
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

# Re-install when the project metadata changes; torch/torchvision come from the
# machine's local wheels through its pip configuration.
$(STAMP): pyproject.toml | $(BIN)/python
	bash scripts/install-system-deps.sh
	$(BIN)/python -m pip install -e '.[test]'
	$(BIN)/python -m pip check
	touch $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

run: $(STAMP)
	$(BIN)/bench run

sweep: $(STAMP)
	$(BIN)/bench codecs sweep --out results/default-sweep.json --plot results/default-sweep.png

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python scripts/lint_imports.py
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python scripts/lint_imports.py

clean:
	rm -rf $(VENV) build *.egg-info results
