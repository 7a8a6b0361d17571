# Two commands set up everything on a fresh machine with python3:
#   make demo   - the course's main job (see README)
#   make test   - the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lab release check-release lint format bench clean

$(STAMP): pyproject.toml scripts/setup_system.sh
	bash scripts/setup_system.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(BIN)/python -m pip install --quiet -e '.[dev]' >> $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	$(BIN)/jupyter labextension disable "@jupyterlab/apputils-extension:announcements" > /dev/null 2>&1 || true
	touch $(STAMP)

demo: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m classroom demo

# Two test workers on two cores: one BLAS thread each, or they fight over the cores.
test: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# The edit loop: every test not marked slow or browser.
test-fast: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow and not browser"

# Students: JupyterLab on 127.0.0.1 in a working folder of its own (LAB_DIR) holding the
# student edition (backprop_hub/edition.py: the release notebooks, the course library, no
# solutions and no grader); a student's work stays there (never in notebooks/, never
# overwritten), the library is refreshed on each start.  nbgrader's student side only (the
# Validate button): lab-config/ switches off the formgrader, the course and assignment lists
# and Create Assignment, so nothing writes a gradebook.  --allow-root only when run as root.
# The student's id is asked once (kept in LAB_DIR/.student-id): their own numbers are drawn
# for it (course.variant_tables).
LAB_DIR ?= $(CURDIR)/lab-work
lab: $(STAMP)
	$(BIN)/python -m backprop_hub.edition --workdir $(LAB_DIR)
	BACKPROP_STUDENT="$$($(BIN)/python -m backprop_hub.student_id $(LAB_DIR))" \
	PYTHONPATH=$(LAB_DIR)/lib JUPYTER_CONFIG_PATH=$(CURDIR)/lab-config PATH=$(abspath $(BIN)):$$PATH \
		$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=$(LAB_DIR)/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# A class on JupyterHub on 127.0.0.1 (root: it creates local users, see README): the demo
# accounts and their passwords are printed; Ctrl-C stops it.
HUB_PORT ?= 8000
hub: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/backprop-grade hub start --port $(HUB_PORT)

release: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m autograder release

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]' > $(VENV)/pip-bench.log 2>&1 || true
	$(BIN)/python benchmarks/mlp_vs_peers.py
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/notebook_times.py || true
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/widget_latency.py
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/autograde_throughput.py

clean:
	rm -rf $(VENV) gradebook.db submitted autograded feedback .pytest_cache
