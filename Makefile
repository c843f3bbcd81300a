# rtxcourse: the two commands a newcomer needs are `make lab` and `make test` (see README.md).
# Both create .venv on first use, install the course with pinned dependencies and are safe to re-run.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rtxcourse-installed
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --ip 0.0.0.0 --port 8888"
LAB_ARGS ?=
# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k precision -x"
PYTEST_ARGS ?=
# JupyterLab refuses to start as root (containers, cloud images) unless told it may.
ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

.PHONY: setup lab test doctor release clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changed since the last successful install.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "rtxcourse needs Python 3.10, 3.11 or 3.12 (TensorFlow 2.21 wheels); found %d.%d. Re-run with e.g. make PYTHON=python3.11 ..." % v)'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name rtxcourse --display-name "Python (rtxcourse)"
	@# No "get notified about Jupyter news?" pop-up for learners: JupyterLab reads overrides.json from the venv.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' > $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)
	@echo "rtxcourse installed in $(VENV). Check your machine with: $(VENV)/bin/rtxcourse doctor"

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --FileContentsManager.preferred_dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)
	RTXCOURSE_QUICK=1 $(PY) -m pytest $(PYTEST_ARGS)

doctor: $(STAMP)
	$(VENV)/bin/rtxcourse doctor

release: $(STAMP)
	$(VENV)/bin/rtxcourse release

clean:
	rm -rf $(VENV) .pytest_cache
