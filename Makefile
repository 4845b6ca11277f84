# `make run` and `make test` each create .venv and install mskbench on first use.
# Needs only Python 3.11 on PATH. Torch is pinned here (not in pyproject, whose ranges stay
# open for GPU users): these machines carry torch 2.14.1 / torchvision 0.29.1 on local disk.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
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
