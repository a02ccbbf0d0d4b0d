# Two commands work on a fresh machine with Python 3.10+ and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export MPLBACKEND ?= Agg

.PHONY: install demo test export clean-nbs check-sync bench lab

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "dfm-tutorial needs Python 3.10 or newer, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## the toy WSOL dataset -> data/toy, out/toy_samples.png; the DFM walk-through; CAM vs ADL vs DFM, one seed -> out/demo
	$(BIN)/python data_scripts/make_toy.py data/toy --samples out/toy_samples.png
	$(BIN)/python -m dfm_tutorial demo --out out/demo --data data/toy
	$(BIN)/python -c "from dfm_tutorial.dfm import save_walkthrough; print('wrote', save_walkthrough('out/dfm_walkthrough.png'))"

test: $(STAMP)  ## tests/ and every notebook (nbval), as configured in pyproject.toml
	$(BIN)/python -m pytest

export: $(STAMP)  ## notebooks -> dfm_tutorial/
	$(BIN)/nbdev-export

clean-nbs: $(STAMP)  ## strip execution noise from the notebooks
	$(BIN)/nbdev-clean

check-sync: export clean-nbs  ## fail if exporting or cleaning changed anything git tracks (or added files)
	@changed="$$(git status --porcelain)"; \
	if [ -n "$$changed" ]; then \
	  echo "nbdev-export / nbdev-clean changed tracked files: export and clean the notebooks, then commit."; \
	  echo "$$changed"; git --no-pager diff --stat; exit 1; \
	fi; echo "library and notebooks in sync"

bench: $(STAMP)  ## the benchmark tables
	$(BIN)/python bench/dfm_overhead.py
	$(BIN)/python bench/eval_speed.py
	$(BIN)/python bench/loader_speed.py

lab: $(STAMP)  ## JupyterLab in the project's environment
	$(BIN)/jupyter lab nbs
