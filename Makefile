# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch/torchaudio are pinned to a pair that loads together on CPU (see README).
TORCH_PINS ?= torch==2.14.1 torchaudio==2.11.0
DEMO_DIR ?= demo_output

.PHONY: install test test-faults demo lint bench clean

install: $(VENV)/.installed

# Debian programs the tests drive: a browser for the web page, speech and audio tools for the
# generated recordings. Installed where missing and apt-get can (as root); otherwise the tests
# that need them say so and skip.
SYSTEM_TOOLS := chromium chromedriver ffmpeg espeak-ng sox
SYSTEM_PACKAGES := chromium chromium-driver ffmpeg espeak-ng sox

$(VENV)/.installed: setup.cfg pyproject.toml
	@missing=$$(for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages for: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[test,tensorboard,onnx,serve]'
	touch $@

# Two workers: most tests wait on subprocesses, servers and files, so 2 cores serve 2 workers.
# Each test process runs torch on one thread (tests/conftest.py): two threads per process spun on
# the busy cores (the suite: 12 min 44 s before, 10 min 43 s after, quiet 2-core machine).
# --dist loadfile keeps each test file on one worker, so a module's fixtures (a training run,
# a server) are made once, not once per worker that happens to get some of its tests; the
# slowest files start first (tests/conftest.py), in our order, not xdist's by test count.
test: install
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not faults" tests

# Slow fault tests: killed builders, concurrent builds and trainings (docs/reliability.md).
test-faults: install
	$(PY) -m pytest -q -m faults tests

demo: install
	$(PY) -m training.demo --output_dir $(DEMO_DIR)

lint: install
	$(VENV)/bin/ruff check data_scripts training tests bench
	$(VENV)/bin/ruff format --check data_scripts training tests bench

# The audiofolder comparison in bench_prepare needs torchcodec and FFmpeg's libraries
# (apt-get install ffmpeg); without them that part is skipped with a message.
bench: install
	-$(PY) -m pip install -q torchcodec
	$(PY) bench/bench_prepare.py
	$(PY) bench/bench_training.py

clean:
	rm -rf $(DEMO_DIR) .pytest_cache build *.egg-info
