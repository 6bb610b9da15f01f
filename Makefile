# ppp-desk — every target builds what it needs; a fresh clone needs only python3 (3.11+).
# `make demo` / `make setup` install only what the chat and the Slack app need; `make test` adds
# the dev extras (pytest, ruff, psycopg, ...). PostgreSQL or an LLM: .venv/bin/pip install -e '.[postgres,llm]'
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo setup setup-dev install ingest chat test lint bench pdf clean

demo: ingest chat  ## set up, ingest the bundled knowledge, start the local chat

setup: $(STAMP)

setup-dev: $(DEV_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing ppp-desk and its runtime dependencies (first time: about a minute, ~1 GB in $(VENV))"
	$(BIN)/python -m pip install --progress-bar on -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	touch $(DEV_STAMP)

ingest: $(STAMP)
	$(BIN)/ppp-desk ingest --prune

chat: $(STAMP)
	$(BIN)/ppp-desk chat

test: $(DEV_STAMP)  ## the whole test suite (CI runs exactly this)
	$(BIN)/ruff check bot ingest tests bench tools
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check bot ingest tests bench tools

bench: $(DEV_STAMP)  ## every benchmark (prints numbers; slow: embeds real text on the CPU)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.answer
	$(BIN)/python -m bench.slack_load
	$(BIN)/python -m bench.precedents

pdf: $(DEV_STAMP)  ## re-render the bundled Japanese PDF
	$(BIN)/python tools/build_pdf.py

clean:
	rm -rf data .pytest_cache
