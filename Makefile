# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
POSTS ?= examples/blog/_posts
INDEX_DIR ?= index

.PHONY: install install-test run index test test-browser lint audit bench clean

# Runtime dependencies come pinned with hashes from requirements.lock
# (regenerate: pip-compile --generate-hashes --strip-extras -o requirements.lock pyproject.toml).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The test tools (pytest, ruff, Playwright, ...) only for `make test` and friends.
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

index: install
	$(BIN)/blogsearch index $(POSTS) --index-dir $(INDEX_DIR)

# Serves the JSON API (and search page) on http://127.0.0.1:8000
run: index
	$(BIN)/blogsearch serve --index-dir $(INDEX_DIR) --host 127.0.0.1 --port 8000 \
		--synonyms examples/blog/synonyms.txt

lint: install-test
	$(BIN)/ruff check .

# Everything, the browser tests included (they need /usr/bin/chromium: see .ci/run).
test: lint
	$(BIN)/pytest

# Only the real-browser tests; screenshots go to artifacts/screenshots/.
test-browser: install-test
	$(BIN)/pytest -m browser tests/browser

# Known vulnerabilities in the pinned runtime set (asks PyPI's JSON API).
audit: install
	$(BIN)/pip install --quiet pip-audit
	$(BIN)/pip-audit --strict --disable-pip --require-hashes -r requirements.lock

bench: install
	$(BIN)/python bench/index_bench.py

clean:
	rm -rf $(VENV) $(INDEX_DIR)/versions $(INDEX_DIR)/CURRENT $(INDEX_DIR)/.lock
