# Two entry points (see README): `make workbench` and `make test`. Both create .venv with pip first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | sha1sum | cut -c1-12)

.PHONY: setup workbench search test test-slow lint bench screenshots clean-venv

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

workbench: setup
	$(BIN)/python -m streamlit run apps/workbench.py --server.headless true --browser.gatherUsageStats false

search: setup
	$(BIN)/python apps/search.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

bench: setup
	$(BIN)/python -m bench --readme README.md

screenshots: setup
	$(BIN)/python -m bench.screenshots --out docs/screenshots

clean-venv:
	rm -rf $(VENV)
