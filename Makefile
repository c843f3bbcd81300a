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
# Test processes (pytest-xdist, --dist loadscope: a notebook's cells stay together in one process, as
# do a module's tests and a class's; --no-loadscope-reorder keeps the plugin's order, longest scopes
# first). Each process gets its share of the cores (rtxcourse/course/plugin.py), and timing claims are
# measured in alternating rounds, so two processes side by side do not disturb them. 0: serial.
PYTEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder)
# JupyterLab refuses to start as root (containers, cloud images) unless told it may.
ROOT_FLAG := $(shell [ "$$(id -u)" = "0" ] && echo --allow-root)

# One-framework installs, checked for real by `make test` (issue: a torch-only or a TF-only learner
# loses no lesson): a venv with only the extra named, running lesson 00 and a lesson of both frameworks.
ONE_FRAMEWORK_LESSONS ?= notebooks/00_welcome_and_setup.ipynb notebooks/05_input_pipelines.ipynb
ONE_FRAMEWORK_PINS := pytest==9.2.0 pytest-timeout==2.4.0 nbval==0.11.0

.PHONY: setup lab test test-one-framework one-framework-venvs doctor release clean

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

# The whole suite; with no PYTEST_ARGS it also builds the two one-framework venvs in the background
# while the suite runs, and runs ONE_FRAMEWORK_LESSONS in each of them there (one thread each).
test: $(STAMP)
	@if [ -n "$(PYTEST_ARGS)" ]; then RTXCOURSE_QUICK=1 $(PY) -m pytest $(PYTEST_ARGS); exit $$?; fi; \
	OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 $(MAKE) --no-print-directory test-one-framework > $(VENV)/one-framework.log 2>&1 & side=$$!; \
	status=0; RTXCOURSE_QUICK=1 $(PY) -m pytest $(XDIST) || status=$$?; \
	if wait $$side; then tail -n 4 $(VENV)/one-framework.log; else cat $(VENV)/one-framework.log; echo "one-framework installs or their lessons failed"; status=1; fi; \
	exit $$status

one-framework-venvs: .venv-torch/.installed .venv-tf/.installed

.venv-%/.installed: pyproject.toml
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet -e ".[$*]" $(ONE_FRAMEWORK_PINS)
	.venv-$*/bin/python -m ipykernel install --sys-prefix --name rtxcourse --display-name "Python (rtxcourse)"
	@touch $@

test-one-framework: one-framework-venvs
	@for fw in torch tf; do \
	  echo "== only $$fw installed: $(ONE_FRAMEWORK_LESSONS)"; \
	  RTXCOURSE_QUICK=1 .venv-$$fw/bin/python -m pytest -p no:cacheprovider -q $(ONE_FRAMEWORK_LESSONS) tests/test_one_framework.py || exit 1; \
	done

doctor: $(STAMP)
	$(VENV)/bin/rtxcourse doctor

release: $(STAMP)
	$(VENV)/bin/rtxcourse release

clean:
	rm -rf $(VENV) .venv-torch .venv-tf .pytest_cache
