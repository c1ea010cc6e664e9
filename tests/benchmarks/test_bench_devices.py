"""Where the GPU overtakes the CPU: population × dimension for random search, the GA and CMA-ES.

Each cell runs the optimizer through optbench (evaluator, trace, budget) for a fixed number of
generations on both devices of the same machine, with the same seed, and compares wall time per
generation (CUDA synchronized). The row per optimizer and dimension names the smallest population
at which CUDA is faster; the whole grid goes into the benchmark's ``extra_info`` (and so into
``--benchmark-json``). Needs a GPU (``make bench-gpu``); the CPU side uses every core the machine has.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from optbench.api import Budget
from optbench.evaluator import Evaluator, Stopwatch
from optbench.registry import make_optimizer, make_problem

from .conftest import record

GENERATIONS = 4
MOST_COORDINATES = 20_000_000  # population × dimension per generation: cells above are left out (minutes on a CPU)
# optimizer, its population parameter, the populations and dimensions of the grid (CMA-ES's own
# update is O(d^2) to O(d^3) per generation in NumPy on the host, so its grid stays smaller)
GRIDS = {
    "random": ("batch_size", (100, 1_000, 10_000, 100_000, 1_000_000), (10, 100, 1000)),
    "ga": ("popsize", (100, 1_000, 10_000, 100_000), (10, 100, 1000)),
    "cmaes": ("popsize", (16, 64, 256, 1024, 4096), (10, 100)),
}


def _seconds_per_generation(optimizer: str, parameter: str, population: int, dim: int, device: str) -> float:
    problem = make_problem("rastrigin", {"dim": dim}, device=device, dtype="float32")
    params = {parameter: population} if optimizer != "cmaes" else {parameter: population, "restarts": False}
    method = make_optimizer(optimizer, params)
    sync = torch.cuda.synchronize if device == "cuda" else None
    times = []
    for repeat in range(3):  # the first run warms up kernels and library imports; the better of the other two
        evaluator = Evaluator(problem, Budget(evaluations=population * GENERATIONS), stopwatch=Stopwatch(sync=sync))
        evaluator.stopwatch.start()
        method.minimize(evaluator, rng=np.random.default_rng(repeat))
        times.append(evaluator.stopwatch.stop() / GENERATIONS)
    return min(times[1:])


@pytest.mark.parametrize("optimizer", list(GRIDS))
def test_where_the_gpu_overtakes_the_cpu(benchmark, bench_device, optimizer):
    if not bench_device.startswith("cuda"):
        pytest.skip("compares CPU and CUDA: run with OPTBENCH_BENCH_DEVICE=cuda (make bench-gpu)")
    parameter, populations, dims = GRIDS[optimizer]
    grid: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    for dim in dims:
        crossover = None
        speedups = []
        for population in populations:
            if population * dim > MOST_COORDINATES:
                continue
            cpu = _seconds_per_generation(optimizer, parameter, population, dim, "cpu")
            cuda = _seconds_per_generation(optimizer, parameter, population, dim, "cuda")
            grid[f"d={dim} pop={population}"] = {"cpu_s": cpu, "cuda_s": cuda, "speedup": cpu / cuda}
            speedups.append(f"{population:g}: {cpu / cuda:.2g}×")
            if crossover is None and cuda < cpu:
                crossover = population
        record(benchmark, f"GPU overtakes CPU, {optimizer} on Rastrigin D={dim} float32", "population",
               float(crossover) if crossover is not None else float("nan"), target=None, device=bench_device,
               detail="CPU/GPU time per generation at population " + ", ".join(speedups))
    benchmark.extra_info["grid"] = grid
    benchmark.extra_info["cpu_threads"] = torch.get_num_threads()
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert grid and all(cell["cpu_s"] > 0 and cell["cuda_s"] > 0 for cell in grid.values())
    benchmark.extra_info["seconds"] = time.perf_counter() - start
