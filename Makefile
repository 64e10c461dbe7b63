# One entry point for a fresh machine: `make demo` (set up + main job), `make test`.
# GPU users: `make setup TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"`
# (or install the torch build for their CUDA first; `pip install -e .` keeps it).

VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
SHARED_DATA := $(abspath ../shared/data)
export HALIBENCH_DATA ?= $(if $(wildcard $(SHARED_DATA)/mnist),$(SHARED_DATA),)

.PHONY: setup demo celeba test lint regress

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

# The main job: the shipped MNIST checkpoints and the raw-pixel baseline on mnist-semisup
# (downloads MNIST first where no data root holds it). Its records and leaderboard go to
# $(DEMO_RESULTS), so the committed results/ stay as they are.
DEMO_RESULTS ?= .demo/results
demo: setup
	$(VENV)/bin/halibench data prepare mnist
	$(VENV)/bin/halibench run mnist-semisup --model hali-mnist --model ali-mnist \
		--model bigan-mnist --model raw-pixels --probe l2svm --probe knn --labels-per-class 10 \
		--results $(DEMO_RESULTS)

# CelebA's subset protocol on the shipped 64 px models, L2-SVM (needs CelebA's annotation
# files and images under the data root; the baselines: `halibench run ... --model hog`).
celeba: setup
	$(VENV)/bin/halibench run celeba-attributes-subset --model hali-celeba64 \
		--model ali-celeba64 --probe l2svm

lint: setup
	$(VENV)/bin/ruff check halibench tests benchmarks

test: setup lint
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

# Reproduce halibench/shipped/expected.csv on the real data (CI runs it when ../shared/data exists).
regress: setup
	@if [ -n "$(HALIBENCH_DATA)" ]; then $(VENV)/bin/halibench regress --strict; \
	else echo "regress skipped: no data root (set HALIBENCH_DATA or place ../shared/data)"; fi
