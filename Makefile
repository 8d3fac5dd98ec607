# The two commands: `make workshop` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NOTEBOOK_PORT ?= 8888
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: workshop test lab stop status bench clean-work help

help:
	@echo "make workshop  start the local lab and JupyterLab (notebooks/)"
	@echo "make test      run every test (unit, lab contract, notebooks)"
	@echo "make lab       start the local lab alone;  make stop / make status"
	@echo "make bench     run the benchmarks and print their figures and targets"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

workshop: $(STAMP)
	$(BIN)/python -m localcore start
	$(BIN)/jupyter lab --ip 127.0.0.1 --port $(NOTEBOOK_PORT) --notebook-dir notebooks --ServerApp.open_browser=False $(ALLOW_ROOT)

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/python -m localcore start

stop: $(STAMP)
	$(BIN)/python -m localcore stop

status: $(STAMP)
	$(BIN)/python -m localcore status

bench: $(STAMP)
	cd bench && ../$(BIN)/python run_all.py

clean-work:
	$(BIN)/python -m localcore stop || true
	rm -rf work
