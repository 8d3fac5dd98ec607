# The two commands: `make workshop` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
INSTALL_LOG := $(VENV)/install.log
NOTEBOOK_PORT ?= 8888
JUPYTER ?= $(BIN)/jupyter
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# JupyterLab saves the widgets' state (the MQTT console's last table, the forms) with the notebook,
# so a saved notebook shows what they showed.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
LAB_OVERRIDES := {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": true}}
# `make workshop BACKEND=aws`: JupyterLab alone (no lab, no MQTT port needed here), and the notebooks
# get WORKSHOP_BACKEND=aws. README "Running on AWS".
BACKEND ?= local
ifeq ($(filter $(BACKEND),local aws),)
$(error BACKEND=$(BACKEND): use BACKEND=local (the lab on this machine, the default) or BACKEND=aws (your AWS account))
endif
NOTEBOOK_ENV := $(if $(filter aws,$(BACKEND)),WORKSHOP_BACKEND=aws,)
# After JupyterLab stops (one shell command with it: make itself stops at Ctrl-C): is the lab still running?
ifeq ($(BACKEND),aws)
AFTER_JUPYTER := true
else
AFTER_JUPYTER := if $(BIN)/python -m localcore status > /dev/null 2>&1; then \
	  echo "The lab is still running (what you made is kept). Stop it with: make stop"; \
	else echo "The lab is not running."; fi
endif

.PHONY: workshop test class lab stop status bench clean-work help

help:
	@echo "make workshop  start the local lab and JupyterLab (notebooks/)"
	@echo "make workshop BACKEND=aws   JupyterLab alone, the notebooks on your AWS account"
	@echo "make test      run every test (unit, lab contract, notebooks)"
	@echo "make class     rehearse a class: instructor set-up, three trainees 00-10 at once, teardown"
	@echo "make lab       start the local lab alone;  make stop / make status"
	@echo "make bench     run the benchmarks and print their figures and targets"

# pip's output goes to $(INSTALL_LOG); one line says what is happening, and a failure shows the log's end.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@printf '%s' "Installing the workshop's Python packages into $(VENV) (the first time takes a few minutes) ... "
	@{ $(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e '.[test]'; } > $(INSTALL_LOG) 2>&1 \
	  || { echo "failed."; echo "The end of $(INSTALL_LOG):"; tail -n 30 $(INSTALL_LOG); exit 1; }
	@touch $(STAMP)
	@echo "done (details in $(INSTALL_LOG))."

$(LAB_SETTINGS): $(STAMP)
	@mkdir -p $(dir $@) && echo '$(LAB_OVERRIDES)' > $@

# JupyterLab logs warnings and errors only; its address (with a token made here) is printed once.
# The first Ctrl-C stops it (no "Shutdown this Jupyter server (y/[n])?"); then the recipe says
# whether the lab is still running and how to stop it.
workshop: $(STAMP) $(LAB_SETTINGS)
ifeq ($(BACKEND),aws)
	@$(BIN)/python -m helpers.aws_preflight
	@echo "Backend: aws (your AWS credentials and region; the local lab is not started)."
else
	@$(BIN)/python -m localcore start
endif
	@token=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(24))'); \
	echo "JupyterLab: http://127.0.0.1:$(NOTEBOOK_PORT)/lab?token=$$token"; \
	echo "Open notebooks/00_setup.ipynb there. Ctrl-C here stops JupyterLab."; \
	trap ':' INT TERM HUP; \
	$(NOTEBOOK_ENV) $(JUPYTER) lab --ip 127.0.0.1 --port $(NOTEBOOK_PORT) --ServerApp.port_retries=0 --notebook-dir notebooks \
	  --ServerApp.open_browser=False --ServerApp.answer_yes=True --ServerApp.log_level=WARN --LabApp.log_level=WARN \
	  --IdentityProvider.token=$$token $(ALLOW_ROOT); \
	status=$$?; trap - INT TERM HUP; echo; \
	if [ $$status -ne 0 ] && [ $$status -lt 128 ]; then \
	  echo "JupyterLab stopped with exit status $$status (see above). Port $(NOTEBOOK_PORT) taken? Try: make workshop NOTEBOOK_PORT=8890"; \
	else echo "JupyterLab has stopped."; fi; \
	$(AFTER_JUPYTER)

test: $(STAMP)
	$(BIN)/python -m pytest

# A class in one account on one lab (LOCALCORE_REALISM=aws); `make test` runs it too.
class: $(STAMP)
	$(BIN)/python tests/class_rehearsal.py

lab: $(STAMP)
	$(BIN)/python -m localcore start

stop: $(STAMP)
	$(BIN)/python -m localcore stop

status: $(STAMP)
	$(BIN)/python -m localcore status

bench: $(STAMP)
	bench/tools.sh $(BIN)
	cd bench && PATH="/usr/sbin:$$PATH" ../$(BIN)/python run_all.py

clean-work:
	$(BIN)/python -m localcore stop || true
	rm -rf work
