# ppp-desk — every target builds what it needs; a fresh clone needs only python3 (3.11+).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo setup install ingest chat test lint bench pdf clean

demo: ingest chat  ## set up, ingest the bundled knowledge, start the local chat

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,llm,postgres]'
	touch $(STAMP)

ingest: $(STAMP)
	$(BIN)/ppp-desk ingest --prune

chat: $(STAMP)
	$(BIN)/ppp-desk chat

test: $(STAMP)  ## the whole test suite (CI runs exactly this)
	$(BIN)/ruff check bot ingest tests bench
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check bot ingest tests bench

bench: $(STAMP)  ## every benchmark (prints numbers; slow: embeds real text on the CPU)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.answer
	$(BIN)/python -m bench.slack_load
	$(BIN)/python -m bench.precedents

pdf: $(STAMP)  ## re-render the bundled Japanese PDF
	$(BIN)/python -m ingest.build_pdf

clean:
	rm -rf data .pytest_cache
