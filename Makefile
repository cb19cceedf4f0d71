# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
POSTS ?= examples/blog/_posts
INDEX_DIR ?= index

.PHONY: install run index test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/blogsearch index $(POSTS) --index-dir $(INDEX_DIR)

run: index
	$(BIN)/blogsearch search 新幹線 --index-dir $(INDEX_DIR)

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/index_bench.py

clean:
	rm -rf $(VENV) $(INDEX_DIR)/versions $(INDEX_DIR)/CURRENT $(INDEX_DIR)/.lock
