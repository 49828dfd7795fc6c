# The two commands a new machine needs: `make demo` and `make test` (README).
# Everything they need is installed by these targets; nothing is assumed pre-installed
# except Python 3.11+ and (for the service tests) apt-get as root.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: demo test test-slow test-all lint bench bench-large serve docs messages clean services eval-tone

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/refund-audit demo

services:
	bash scripts/ensure-packages.sh
	bash scripts/ensure-postgres.sh

test: $(STAMP) services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

# The tests marked slow (speed at a million rows, report size limits, byte-identical re-runs
# across processes): not in `make test`, so that stays short; CI runs both.
test-slow: $(STAMP) services
	$(VENV)/bin/pytest -m slow $(PYTEST_ARGS)

test-all: $(STAMP) services
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/run.py --case tiny 100k 1m-500

bench-large: $(STAMP)
	$(PY) bench/run.py --case 10m

# PC002's precision and recall on every labelled set (tests/data/tone_*.csv), per family
# and language.
eval-tone: $(STAMP)
	for f in tests/data/tone_*.csv; do $(PY) scripts/eval_tone.py "$$f" || exit 1; done

docs: $(STAMP)
	$(VENV)/bin/refund-audit rules --markdown > docs/rules.md

# Re-extract the report's texts (templates, reports/, rule titles and actions) and merge them
# into reports/locale/*/LC_MESSAGES/messages.po; prints what is left untranslated.
messages: $(STAMP)
	$(PY) -m reports.i18n

clean:
	rm -rf out .pytest_cache .ruff_cache test-artifacts
