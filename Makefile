# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch/torchaudio are pinned to a pair that loads together on CPU (see README).
TORCH_PINS ?= torch==2.14.1 torchaudio==2.11.0
DEMO_DIR ?= demo_output

.PHONY: install test test-faults demo lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[test,tensorboard,onnx,serve]'
	touch $@

test: install
	$(PY) -m pytest -q -m "not faults" tests

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
