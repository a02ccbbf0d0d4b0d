# Two commands work on a fresh machine with Python 3.10+ and make: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export MPLBACKEND ?= Agg

.PHONY: install demo test export clean-nbs check-sync bench lab docs check-site readme-figure gpu-check

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "dfm-tutorial needs Python 3.10 or newer, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,docs,opencv]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## the toy set -> data/toy, out/toy_samples.png; the DFM walk-through; every method at its tuned settings on the pretrained toy CNN (built on first use), one seed -> out/tuned
	$(BIN)/python data_scripts/make_toy.py data/toy --samples out/toy_samples.png
	$(BIN)/python -m dfm_tutorial demo --tuned --out out/tuned --data data/toy
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
	$(BIN)/python bench/explorer_speed.py

lab: $(STAMP)  ## JupyterLab in the project's environment; as root (containers) it needs --allow-root
	$(BIN)/jupyter lab nbs $$([ "$$(id -u)" = 0 ] && echo --allow-root)

SPHINX := $(BIN)/sphinx-build -W --keep-going -q -E -b html -c docs -d build/doctrees nbs

docs: $(STAMP)  ## the site from the notebooks as they are -> _build/html/index.html; fails on a broken notebook or a dead internal link
	rm -rf _build/html _build/html.digest
	$(SPHINX) _build/html
	$(BIN)/python docs/site_digest.py > _build/html.digest   # tests/test_docs.py reuses the site while this matches
	@echo "site: _build/html/index.html"

check-site: docs  ## the site of `make docs` (a copy, MathJax served locally), every page opened in headless Chromium; screenshots -> out/screenshots
	npm install --silent --no-audit --no-fund --prefix build/mathjax mathjax@3
	rm -rf build/site
	cp -r _build/html build/site
	cp -r build/mathjax/node_modules/mathjax/es5 build/site/_static/mathjax
	$(BIN)/python docs/check_site.py build/site --mathjax _static/mathjax/tex-mml-chtml.js --shots out/screenshots index 04_dfm 40_explorer

README_RUNS := out/readme
readme-figure: $(STAMP)  ## the README picture: CAM, DFM and DFM at beta = 0.5 on the toy set, from scratch, seed 0 -> nbs/images/cam_vs_dfm.png, its numbers -> .md
	$(BIN)/python -m dfm_tutorial demo --config toy_scratch --methods cam dfm --out $(README_RUNS) --data data/toy
	$(BIN)/python -m dfm_tutorial train --config toy_scratch method=dfm 'options={beta=0.5}' data=data/toy \
	    out=$(README_RUNS)/dfm_beta05_seed0 cache_dir=$(README_RUNS)/cache progress=false
	$(BIN)/python -c "from dfm_tutorial.experiments import save_cam_gallery; print(save_cam_gallery({'CAM': '$(README_RUNS)/cam_seed0/last.pt', \
	    'DFM': '$(README_RUNS)/dfm_seed0/last.pt', 'DFM, β = 0.5': '$(README_RUNS)/dfm_beta05_seed0/last.pt'}, 'nbs/images/cam_vs_dfm.png'))"
	$(BIN)/python docs/readme_numbers.py $(README_RUNS) nbs/images/cam_vs_dfm.md

gpu-check: $(STAMP)  ## the prepared GPU check, one table (bench/gpu_check.py; --cpu for a CPU dry run)
	$(BIN)/python bench/gpu_check.py
