# The two Quick-start commands: `make demo` (the main job: a drum kit in every sampler format and eight snares from the bundled
# model) and `make test` (the whole test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench clean

$(BIN)/dkvae: pyproject.toml
	scripts/install-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/dkvae

demo: install
	$(BIN)/dkvae kit --seed 3 --format all --round-robin 4 --demo --out out/kit
	$(BIN)/dkvae generate --instrument snare --count 8 --seed 7 --out out/snares

test: install
	$(BIN)/python -m pytest -n 2 -q

bench: install
	$(BIN)/python bench/preprocess.py

clean:
	rm -rf $(VENV) out
