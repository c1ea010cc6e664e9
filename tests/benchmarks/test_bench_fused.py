"""Fused problem kernels against the eager path and against the memory bandwidth (``make bench-gpu``).

* A stored ``(1e6, 100)`` float32 population of Rastrigin and of Sphere evaluated in one fused
  pass: time, achieved GB/s, and the fraction of the bandwidth bound (the population read once at
  the device's own copy bandwidth, measured here by a large device-to-device copy; target >= 0.5).
* Both sides of :data:`optbench.kernels.fused.MIN_ELEMENTS` (the batch from which ``auto`` uses
  the kernel): kernel and eager times just below and above it.
* Random search end to end through optbench (``make_optimizer('random', {'batch_size': 1e6})`` on an
  Evaluator with a 5e7 budget): evaluations per second with the fused draw-and-evaluate kernel
  (target >= 1e9) next to the eager path (torch draws, eager evaluation).

CUDA only: the kernels run on the CPU only through Triton's interpreter (a correctness tool). On the
CPU, ``torch.compile`` was measured and is not used (see :mod:`optbench.kernels.fused`'s notes in
the report): nothing here runs there. Compilation is warmed up outside every timing.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from optbench.api import Budget, Capability, Problem
from optbench.evaluator import Evaluator
from optbench.kernels import fused
from optbench.registry import make_optimizer, problem_class

from .conftest import interleaved_medians, median_seconds, record, sync_for

N, DIM = 1_000_000, 100
BUDGET = 50_000_000


@pytest.fixture
def cuda_device(bench_device: str) -> str:
    if not bench_device.startswith("cuda"):
        pytest.skip("the fused kernels run on CUDA (OPTBENCH_BENCH_DEVICE=cuda)")
    if not fused.triton_installed():
        pytest.skip("triton is not installed")
    return bench_device


@contextmanager
def kernels(mode: str) -> Iterator[None]:
    previous = os.environ.get(fused.ENV)
    os.environ[fused.ENV] = mode
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(fused.ENV, None)
        else:
            os.environ[fused.ENV] = previous


def _problem(name: str, device: str) -> Problem:
    return problem_class(name)(dim=DIM, instance=1, device=device, dtype=torch.float32)


def _population(problem: Problem, n: int) -> torch.Tensor:
    lower, upper = problem.space.bounds(device=problem.device, dtype=problem.dtype)
    gen = torch.Generator(device=problem.device).manual_seed(0)
    return torch.rand(n, DIM, generator=gen, device=problem.device, dtype=problem.dtype) * (upper - lower) + lower


def copy_bandwidth(device: str, nbytes: int = 1 << 30) -> float:
    """Bytes moved per second (read + written) by a device-to-device copy of ``nbytes``."""
    src = torch.empty(nbytes // 4, device=device, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    sync = sync_for(device)
    dst.copy_(src)
    seconds = median_seconds(lambda: dst.copy_(src), rounds=10, sync=sync)
    return 2 * nbytes / seconds


@pytest.mark.parametrize("name", ["rastrigin", "sphere"])
def test_fused_stored_population(benchmark, cuda_device, name):
    problem, sync = _problem(name, cuda_device), sync_for(cuda_device)
    X = _population(problem, N)
    with kernels("eager"):
        want = problem.evaluate(X)
    with kernels("auto"):
        got = problem.evaluate(X)  # compiles the kernel, outside the timing
    # equal up to the reduction order and the last bits of cos: |gap| <= 2 (gamma_d + 8u) M per row, M the
    # magnitude of the terms (the bound tests/test_fused.py derives and checks)
    u = torch.finfo(torch.float32).eps / 2
    Z = X.double() - problem.shift.double()
    M = (Z * Z).sum(1) if name == "sphere" else (Z * Z + 10 + 20 * torch.pi * Z.abs()).sum(1) + 10 * DIM
    gap = (got.double() - want.double()).abs()
    assert bool((gap <= 2 * (DIM * u / (1 - DIM * u) + 8 * u) * M).all())
    del Z, M, gap

    def fused_pass() -> None:
        with kernels("auto"):
            problem.evaluate(X)

    def eager_pass() -> None:
        with kernels("eager"):
            problem.evaluate(X)

    kernel_s, eager_s = interleaved_medians(fused_pass, eager_pass, rounds=10, sync=sync)
    bandwidth = copy_bandwidth(cuda_device)
    nbytes = X.numel() * X.element_size() + N * 4
    achieved = nbytes / kernel_s
    benchmark.pedantic(fused_pass, rounds=3, iterations=1)
    record(benchmark, f"fused {name} (1e6 x 100 float32) / bandwidth bound", "fraction", achieved / bandwidth,
           target=0.5, higher_is_better=True, device=cuda_device,
           detail=f"{kernel_s * 1e3:.3f} ms, {achieved / 1e9:.0f} GB/s of {bandwidth / 1e9:.0f} GB/s (copy); "
                  f"eager {eager_s * 1e3:.3f} ms ({eager_s / kernel_s:.1f}x)",
           kernel_seconds=kernel_s, eager_seconds=eager_s, copy_bytes_per_s=bandwidth)


def test_fused_threshold_both_sides(benchmark, cuda_device):
    """Kernel / eager time for Rastrigin float32 batches just below and above ``MIN_ELEMENTS``."""
    problem, sync = _problem("rastrigin", cuda_device), sync_for(cuda_device)
    ratios = {}
    for rows in (fused.MIN_ELEMENTS // DIM // 4, fused.MIN_ELEMENTS // DIM + 1, 4 * fused.MIN_ELEMENTS // DIM):
        X = _population(problem, rows)
        with kernels("triton"):
            problem.evaluate(X)

        def forced(mode: str, X: torch.Tensor = X) -> Callable[[], None]:
            def run() -> None:
                with kernels(mode):
                    for _ in range(20):
                        problem.evaluate(X)
            return run

        kernel_s, eager_s = interleaved_medians(forced("triton"), forced("eager"), rounds=10, sync=sync)
        ratios[rows] = kernel_s / eager_s
        side = "below" if rows * DIM < fused.MIN_ELEMENTS else "above"
        record(benchmark, f"fused / eager Rastrigin {rows} x 100 float32 ({side} the threshold)", "time ratio",
               kernel_s / eager_s, target=None, device=cuda_device,
               detail=f"kernel {kernel_s / 20 * 1e6:.1f} µs, eager {eager_s / 20 * 1e6:.1f} µs per call")
    benchmark.extra_info["ratios"] = ratios


def _random_search(problem: Problem) -> tuple[float, Evaluator]:
    optimizer = make_optimizer("random", {"batch_size": 1_000_000})
    evaluator = Evaluator(problem, Budget(evaluations=BUDGET))
    sync = sync_for(problem.device)
    sync()
    start = time.perf_counter()
    optimizer.minimize(evaluator, rng=np.random.default_rng(0))
    sync()
    return time.perf_counter() - start, evaluator


def test_random_search_fused(benchmark, cuda_device):
    with kernels("auto"):
        problem = _problem("rastrigin", cuda_device)
    with kernels("eager"):
        eager_problem = _problem("rastrigin", cuda_device)
    assert Capability.UNIFORM_KERNEL in problem.capabilities
    assert Capability.UNIFORM_KERNEL not in eager_problem.capabilities
    _random_search(problem)  # compiles the kernels, outside the timing
    fused_runs = [_random_search(problem) for _ in range(3)]
    with kernels("eager"):
        eager_runs = [_random_search(eager_problem) for _ in range(3)]
    fused_s = statistics.median(s for s, _ in fused_runs)
    eager_s = statistics.median(s for s, _ in eager_runs)
    evaluator = fused_runs[0][1]
    assert evaluator.points == BUDGET
    # the best point is a real point of the draw, inside the box, whose value the evaluator reports
    best = evaluator.best_x.unsqueeze(0)
    lower, upper = problem.space.bounds(device=problem.device, dtype=problem.dtype)
    assert bool(((best >= lower) & (best <= upper)).all())
    assert abs(float(problem.evaluate(best)[0]) - evaluator.best_value) <= 1e-3 * max(1.0, evaluator.best_value)
    benchmark.pedantic(lambda: _random_search(problem), rounds=1, iterations=1)
    record(benchmark, "random search, Rastrigin D=100 float32, batch 1e6, fused draw", "evals/s", BUDGET / fused_s,
           target=1e9, higher_is_better=True, device=cuda_device,
           detail=f"{fused_s * 1e3:.1f} ms for 5e7; eager path {BUDGET / eager_s:.3g} evals/s "
                  f"({eager_s * 1e3:.0f} ms, {eager_s / fused_s:.1f}x slower)",
           eager_evals_per_s=BUDGET / eager_s)


def test_compiled_cpu_rastrigin(benchmark, bench_device):
    """CPU: the torch.compile path against eager at the smallest batch it is used for (1e4 x 100, float64)."""
    if bench_device != "cpu":
        pytest.skip("the compiled path is the CPU's (make bench)")
    from optbench.kernels import compiled

    rows = compiled.MIN_ELEMENTS // DIM
    problem = problem_class("rastrigin")(dim=DIM, instance=1)  # the default precision, float64
    X = _population(problem, rows)
    with kernels("compile"):
        start = time.perf_counter()
        got = problem.evaluate(X)  # compiles, outside the timing
        compile_s = time.perf_counter() - start
    assert problem._compiled is not None and problem._compiled._compiled is not None, "torch.compile failed"
    with kernels("eager"):
        want = problem.evaluate(X)
    u = torch.finfo(torch.float64).eps / 2
    Z = X - problem.shift
    M = (Z * Z + 10 + 20 * torch.pi * Z.abs()).sum(1) + 10 * DIM
    assert bool(((got - want).abs() <= 2 * (DIM * u / (1 - DIM * u) + 8 * u) * M).all())

    def run(mode: str) -> Callable[[], None]:
        def call() -> None:
            with kernels(mode):
                problem.evaluate(X)
        return call

    compiled_s, eager_s = interleaved_medians(run("compile"), run("eager"), rounds=7)
    benchmark.pedantic(run("compile"), rounds=3, iterations=1)
    repaid = compile_s / max(eager_s - compiled_s, 1e-9)
    record(benchmark, "compiled / eager Rastrigin 1e4 x 100 float64 (CPU)", "time ratio", compiled_s / eager_s,
           target=0.5, detail=f"compiled {compiled_s * 1e3:.1f} ms, eager {eager_s * 1e3:.1f} ms; first call "
                              f"(compile) {compile_s:.1f} s, repaid after {repaid:.0f} batches",
           compile_seconds=compile_s)
