# FraudLens: `make demo` runs the main job on embedded defaults, `make test` runs every test.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install tools demo test unit integration lint typecheck bench lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $$($(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml','rb'))['tool']['fraudlens']['install-without-deps']))")
	touch $(STAMP)

install: $(STAMP) tools ## create .venv and install FraudLens with the whole stack

# System tools the tests need: a JRE for Spark, promtool for the alert-rule tests,
# Chromium for the workspace's browser tests (Playwright drives Debian's build).
# Installed from Debian when missing, as root or through password-less sudo (CI
# images run as a user with it); otherwise say what to install.
tools:
	@missing=""; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else sudo=none; fi; \
	  if [ "$$sudo" != none ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing (install them, e.g. sudo apt-get install$$missing)" >&2; exit 1; \
	  fi; \
	fi

demo: install ## simulate, stream through the embedded broker and print a summary
	FRAUDLENS_DATA_DIR=$${FRAUDLENS_DATA_DIR:-$(CURDIR)/var} $(BIN)/fraudlens demo

test: install lint ## the whole test suite (unit + integration)
	$(BIN)/pytest --durations=15 tests

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

lint: install
	$(BIN)/ruff check fraudlens feature_repo training ray_apps drift tests benchmarks
	$(BIN)/ruff format --check fraudlens feature_repo training ray_apps drift tests benchmarks
	$(BIN)/mypy

typecheck: install
	$(BIN)/mypy

bench: install ## print every figure, then issue #12's targets beside them (see benchmarks/)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
	  || { echo "the serving benchmark needs wrk (sudo apt-get install wrk)" >&2; exit 1; }
	$(BIN)/python -m benchmarks.run

lock: ## re-resolve the stack and rewrite requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var
