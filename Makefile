# `make run` and `make test` each create .venv and install mskbench on first use.
# Needs only Python 3.11 on PATH. Torch is pinned here (not in pyproject, whose ranges stay
# open for GPU users): these machines carry torch 2.14.1 / torchvision 0.29.1 on local disk.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed-stamp
# No wheel cache: the CUDA build of torch is about 5.5 GB in the venv already, and a CI
# machine once ran out of disk ("No space left on device") while pip installed it.
PIP := $(BIN)/python -m pip --no-cache-dir

.PHONY: install run test lint clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_PIN)
	$(PIP) install --quiet -e ".[dev]"
	touch $@

install: $(STAMP)

# The product's main job: cross-validate U-Net 2D on the thigh phantom (quick profile,
# three folds on the CPU) and print the per-model summary.
run: $(STAMP)
	$(BIN)/bench run --task nmd_thigh --model unet2d --profile quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
