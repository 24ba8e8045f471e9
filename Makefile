# The README's two commands: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# TensorFlow's C++ start-up lines: 3 hides them all (2 leaves cuDNN/cuFFT/cuBLAS "Unable to
# register"); reproml sets the same default itself. `make demo TF_CPP_MIN_LOG_LEVEL=0` shows them.
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: demo test bench lint format install constraints clean omniboard screenshots demo-screenshot

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23" wheel

# Re-installs whenever setup.py or the pins change.
$(VENV)/.installed: $(BIN)/python setup.py constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

install: $(VENV)/.installed

# `make demo DEMO_ARGS="with quick"`: the seconds-long run (tests/experiments/test_make_demo.py).
DEMO_ARGS ?=
demo: install
	$(BIN)/python -m experiments.mnist $(DEMO_ARGS)
	@echo "To type reproml, tensorboard and python without $(BIN)/: source $(BIN)/activate"

# Omniboard for `reproml board` and its browser tests: `npm ci` from tools/omniboard's lock, once,
# into ~/.cache/reproml (or $$REPROML_CACHE). Without Node.js the board tests skip (fail in CI).
omniboard: install
	$(BIN)/reproml board --install --sacredboard
	@if command -v node >/dev/null; then $(BIN)/reproml board --install; \
	else echo "no Node.js: the board tests will skip (install: apt-get install nodejs npm)"; fi

# pytest exits 5 when it collected nothing: that is a failure here, as any non-zero exit.
# The 15 slowest tests are listed last, so CI's own output says where the time goes. Two workers
# (pytest-xdist), one test file each at a time, so a file's shared fixtures are made once; the
# longest files first, in tests/file_order.py's order (--no-loadscope-reorder keeps it).
test: install omniboard
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder --durations=15 tests

# docs/img/*.png of docs/reviewing.md: the browser tests, saving the pages they check.
screenshots: install omniboard
	REPROML_SCREENSHOTS=docs/img $(BIN)/python -m pytest -q -p no:cacheprovider tests/board/test_browser.py tests/board/test_browser_tags.py tests/board/test_browser_readable.py tests/board/test_browser_sacredboard.py

# docs/img/board_demo.png: `reproml board` on the runs of `make demo` (the main job, own runs dir).
demo-screenshot: install omniboard
	rm -rf build/demo-runs
	REPROML_RUNS_DIR=build/demo-runs $(BIN)/python -m experiments.mnist
	$(BIN)/python -m tests.board.demo_screenshot build/demo-runs docs/img/board_demo.png

# Every benchmark, >= 5 alternating repeats per comparison; writes all of docs/performance.md
# (tables from this run, then benchmarks/notes*.md). `make bench MNIST=path/to/mnist.npz`
# also measures benchmark 9 (the run's shard check) on MNIST.
MNIST ?=
bench: install
	$(BIN)/python -m benchmarks.run $(if $(MNIST),--mnist $(MNIST))

# lint-imports: the layers contract in .importlinter (docs/architecture.md); tests/test_layers.py
# runs it in `make test` too, with the lazy_import and function-level import checks.
lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Re-pins every dependency after a change to setup.py (needs the package registry).
constraints:
	rm -rf /tmp/reproml-pin && $(PYTHON) -m venv /tmp/reproml-pin
	/tmp/reproml-pin/bin/pip install --quiet -e ".[test]"
	{ echo "# Every install resolves against these pins (pip install -c constraints.txt ...)."; \
	  echo "# Regenerate: make constraints (after changing setup.py)."; \
	  /tmp/reproml-pin/bin/pip freeze --exclude-editable | grep -v -E '^(pip|setuptools|wheel)=='; } > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
