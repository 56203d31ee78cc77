# The two Quick-start commands: `make demo` (the main job: a drum kit in every sampler format and eight snares from the bundled
# model) and `make test` (the whole test suite).
#
# Two installs, each with its stamp in the venv. `make install` (what `make demo` needs): the venv, torch and the package, no
# Debian packages and no extras. `make install-dev` (what `make test` and `make bench` need): that, plus the Debian packages the
# tests and importers use (scripts/install-system-packages.sh) and the `dev` extras. So `make demo` then `make test` upgrades the
# venv, and `make test` then `make demo` installs nothing more.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install install-dev demo test bench clean

$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) scripts/install-system-packages.sh
	scripts/install-system-packages.sh
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

# --force: a second `make demo` replaces the first one's kit (dkvae kit refuses to otherwise).
demo: install
	$(BIN)/dkvae kit --seed 3 --format all --round-robin 4 --demo --force --out out/kit
	$(BIN)/dkvae generate --instrument snare --count 8 --seed 7 --out out/snares

test: install-dev
	$(BIN)/python -m pytest -n 2 -q

bench: install-dev
	$(BIN)/python bench/preprocess.py

clean:
	rm -rf $(VENV) out
