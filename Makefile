# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch that these machines serve from local disk; override for a CUDA build,
# e.g. `make install TORCH=torch` on a GPU machine. pyproject.toml itself only asks for torch>=2.4.
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?=
# Test processes (pytest-xdist). Most tests wait on subprocesses, SQLite and sleeps, so two workers
# take the suite from 10 to under 6 minutes on two cores; benchmarks always run in one process.
TEST_WORKERS ?= 2

.PHONY: install demo test test-all lint gate baseline bench bench-gpu gpu-check docs docs-data clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test,docs,coco,ioh,optuna,evotorch,dashboard]"
	# the dashboard's browser tests: Playwright drives the system's Chromium (no browser is downloaded);
	# Chromium is installed when missing and this is root on Debian, else those tests skip and say why
	$(BIN)/python -m pip install -q "playwright>=1.45"
	command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || \
		echo "no chromium installed: the dashboard's browser tests will skip"
	touch $@

demo: install
	$(BIN)/optbench compare

lint: install
	$(BIN)/ruff check optbench problems runners tests docs

test: install lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow and not gpu" $(PYTEST_ARGS)
	$(MAKE) gate
	$(MAKE) docs

# The documentation site: Sphinx with MyST, warnings as errors, every tutorial in docs/tutorials executed
# (sphinx-gallery; about two minutes on 2 cores), from a clean environment each time (-E) so that every page
# is read again. Open docs/_build/html/index.html.
docs: install
	rm -rf docs/auto_tutorials docs/sg_execution_times.rst
	$(BIN)/python -m sphinx -W --keep-going -E -q -b html docs docs/_build/html

# Rerun every measured table and figure of the docs from the shipped code (docs/generate.py): the quick
# comparison and each study at its defaults and with --quick (about 25 minutes on 2 cores), each with the
# machine it ran on. `make docs-data DOCS_DATA_ARGS=--quick-only` does only the quick runs (about 4 minutes).
DOCS_DATA_ARGS ?=
docs-data: install
	$(BIN)/python docs/generate.py $(DOCS_DATA_ARGS)

# The project's own regression gate: rerun the quick suite at the baseline's 8 seeds and compare.
# Quality always; speed only on the machine the baseline came from, and only a slowdown whose whole
# 95% interval is beyond 2x fails, because shared machines drift by 30-50% between runs.
gate: install
	$(BIN)/optbench check --baseline reports/baseline-quick.json --jobs 2 --tolerance 1.0 \
		--store $(or $(TMPDIR),/tmp)/optbench-gate.sqlite -q

# Refresh the committed baseline after an intended change in results.
baseline: install
	rm -f reports/baseline.sqlite
	$(BIN)/optbench compare --suite quick --seeds 8 --jobs 2 --store reports/baseline.sqlite -q > /dev/null
	$(BIN)/optbench baseline save --store reports/baseline.sqlite -o reports/baseline-quick.json

test-all: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

# pytest-benchmark comparisons of optbench against plain loops and libraries (interleaved, same process);
# ends with one table of every ratio and throughput against its target (also written as Markdown to
# reports/bench-cpu.md, which docs/explanation/performance.md includes); whole commands against plain scripts
# (tests/benchmarks/test_bench_campaigns.py) add about 4 minutes. Exits 1 when a row misses its target.
# About 8 minutes on 2 cores.
# OPTBENCH_BENCH_THREADS=1 pins torch to one thread on a machine busy with other jobs.
BENCH_ARGS := --benchmark-only --benchmark-columns=min,median,mean,rounds --benchmark-sort=name
bench: install
	OPTBENCH_BENCH_TABLE=reports/bench-cpu.md $(BIN)/python -m pytest -q tests/benchmarks $(BENCH_ARGS) $(PYTEST_ARGS)

# The same benchmarks on CUDA (skipped where there is no GPU), timed with synchronization; the closing
# table is also written as Markdown to reports/bench-gpu.md (the README's GPU section quotes it).
bench-gpu: install
	OPTBENCH_BENCH_DEVICE=cuda OPTBENCH_BENCH_TABLE=reports/bench-gpu.md \
		$(BIN)/python -m pytest -q tests/benchmarks $(BENCH_ARGS) $(PYTEST_ARGS)

# On a GPU machine whose Python already has a CUDA build of torch and optbench installed (no venv made):
# the GPU tests, then the benchmarks on CUDA. E.g. `make gpu-check GPU_PYTHON="python3 -P"`.
GPU_PYTHON ?= $(BIN)/python
GPU_TESTS  ?= tests/test_gpu.py tests/test_fused.py tests/test_sha256_kernel.py tests/test_lstsq_conditioning.py \
	tests/test_evaluator.py tests/test_dtype.py tests/test_ga_graphs.py
gpu-check:
	$(GPU_PYTHON) -m pytest -q -m gpu $(GPU_TESTS) $(PYTEST_ARGS)
	OPTBENCH_BENCH_DEVICE=cuda OPTBENCH_BENCH_TABLE=reports/bench-gpu.md \
		$(GPU_PYTHON) -m pytest -q tests/benchmarks $(BENCH_ARGS) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .benchmarks docs/_build docs/auto_tutorials
