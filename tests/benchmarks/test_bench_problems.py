"""Batched evaluation throughput of every registered problem: a population of 1,000 points per call.

Run with ``make bench`` (CPU) or ``make bench-gpu``; each problem's ``evals/s`` is in ``extra_info``
and in the closing table of ``make bench`` (no target: these are the reference the optimizers are
measured against).
"""

from __future__ import annotations

import pytest
import torch

from optbench.api import ConfigError
from optbench.registry import PROBLEMS, entries, make_problem
from optbench.testing import random_points

from .conftest import median_seconds, record, sync_for

POPULATION = 1000
POW_STORED = 1 << 22  # stored candidates per kernel call in the GPU rows (256 MB of bits)
POW_TORCH = 1 << 20  # the torch rounds' batch (their int64 columns take ~2 GB)
POW_DRAWN = 1 << 24  # candidates per draw-and-hash call


@pytest.mark.parametrize("name", sorted(entries(PROBLEMS)))
def test_evaluate_population(benchmark, bench_device, name):
    try:
        problem = make_problem(name, {}, instance=1, device=bench_device)
    except ConfigError as error:  # an interop problem whose optional extra is not installed (bbob, pbo)
        pytest.skip(str(error))
    X = random_points(problem, POPULATION).to(bench_device)
    sync = sync_for(bench_device)

    def evaluate() -> torch.Tensor:
        values = problem.evaluate(X)
        sync()
        return values

    values = benchmark.pedantic(evaluate, rounds=5, iterations=1, warmup_rounds=1)
    assert values.shape == (POPULATION,) and bool(torch.isfinite(values).all())
    benchmark.group = "problem throughput (population 1000)"
    benchmark.extra_info.update({"landscape": problem.landscape, "dim": problem.space.dim})
    record(benchmark, f"problem throughput: {problem.id} ({problem.landscape})", "evals/s",
           POPULATION / benchmark.stats.stats.median, target=None, device=bench_device,
           detail=f"one batched call on {POPULATION:,} points", evals_per_s=POPULATION / benchmark.stats.stats.median)


def test_pow_cpu_against_a_hashlib_loop(benchmark):
    """``pow`` on the CPU against a plain Python loop over ``hashlib.sha256`` on prebuilt messages
    (the issue's reference, 1.18e6 hashes/s on one core); target: as fast per core (ratio >= 1)."""
    import hashlib

    import numpy as np

    from .conftest import interleaved_medians

    problem = make_problem("pow", {"n": 64, "k": 20}, instance=1)
    X = torch.randint(0, 2, (100_000, 64), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    prefix = bytes(problem.prefix.tolist())
    messages = [prefix + row.tobytes() for row in np.packbits(X.numpy(), axis=1)]

    def loop() -> None:
        sha256 = hashlib.sha256
        for message in messages:
            sha256(message).digest()

    ours, reference = interleaved_medians(lambda: problem.evaluate(X), loop, rounds=5)
    benchmark.pedantic(lambda: problem.evaluate(X), rounds=3, iterations=1)
    benchmark.group = "pow on the CPU vs hashlib"
    record(benchmark, "pow evaluate (CPU) ÷ hashlib loop speed", "ratio", reference / ours, target=1.0,
           higher_is_better=True, detail=f"{X.shape[0] / ours:.3g} hashes/s vs {X.shape[0] / reference:.3g}/s")


def _pow_on_gpu(bench_device: str, k: int = 24):
    """``pow(n=64, k)`` on the benchmark's CUDA device with its Triton kernel, or a skip saying why not."""
    if torch.device(bench_device).type != "cuda":
        pytest.skip("a GPU row: make bench-gpu (OPTBENCH_BENCH_DEVICE=cuda)")
    problem = make_problem("pow", {"n": 64, "k": k}, instance=1, device=bench_device)
    if problem.kernel_table is None:
        pytest.skip("no Triton kernel here (triton missing or OPTBENCH_KERNELS=eager)")
    return problem


def _rate(fn, count: int, sync, rounds: int = 10) -> float:
    """Hashes per second of ``fn`` (``count`` hashes per call): the median of ``rounds`` synchronized calls."""
    fn()  # compiles the kernel on the first call
    return count / median_seconds(fn, rounds=rounds, sync=sync)


def test_pow_kernel_on_gpu(benchmark, bench_device):
    """``pow(k=24)`` evaluation on CUDA: the Triton kernel (each launch configuration) against the batched
    torch rounds, on stored bit strings; target >= 1e9 hashes/s for the kernel (issue 15: 2.3e7 before)."""
    from optbench.kernels import sha256

    problem = _pow_on_gpu(bench_device)
    sync = sync_for(bench_device)
    X = torch.randint(0, 2, (POW_STORED, 64), dtype=torch.uint8, device=bench_device,
                      generator=torch.Generator(device=bench_device).manual_seed(0))
    small = X[:POW_TORCH]
    assert torch.equal(problem.evaluate(small), problem.evaluate_torch(small))  # the same values, first
    torch_rate = _rate(lambda: problem.evaluate_torch(small), small.shape[0], sync, rounds=3)
    rates = {}
    for config in sha256.CONFIGS:
        rates[config] = _rate(lambda c=config: sha256.pow_values(X, problem.kernel_table, k=24, dtype=problem.dtype,
                                                                 config=c), X.shape[0], sync)
        record(benchmark, f"pow(k=24) kernel, BLOCK={config[0]} num_warps={config[1]}", "hashes/s", rates[config],
               target=None, higher_is_better=True, device=bench_device,
               detail=f"stored bits, {POW_STORED:.3g} per call")
    benchmark.pedantic(lambda: (problem.evaluate(X), sync()), rounds=5, iterations=1, warmup_rounds=1)
    benchmark.group = "pow on the GPU"
    ours = X.shape[0] / benchmark.stats.stats.median
    best = max(rates, key=rates.get)
    record(benchmark, "pow(k=24) evaluate on CUDA (Triton kernel)", "hashes/s", ours, target=1e9,
           higher_is_better=True, device=bench_device,
           detail=f"torch rounds {torch_rate:.3g}/s ({ours / torch_rate:.0f}x); best config {best} {rates[best]:.3g}/s",
           torch_hashes_per_s=torch_rate)


def test_pow_fused_uniform_on_gpu(benchmark, bench_device):
    """Draw-and-hash in one kernel (``evaluate_uniform``): the random search's inner loop on ``pow(k=24)``,
    no candidate ever stored; target >= 1e9 hashes/s."""
    from optbench.kernels import sha256

    problem = _pow_on_gpu(bench_device)
    sync = sync_for(bench_device)
    count = POW_DRAWN
    rows = torch.arange(0, count, 4099, device=bench_device)
    values = problem.evaluate_uniform(count, seed=3, offset=1 << 30)
    assert torch.equal(problem.evaluate(problem.uniform_points(rows, seed=3, offset=1 << 30)), values[rows])
    for config in sha256.CONFIGS:
        rate = _rate(lambda c=config: sha256.pow_uniform_values(count, problem.kernel_table, n_bits=64, k=24, seed=3,
                                                                offset=0, dtype=problem.dtype, config=c), count, sync)
        record(benchmark, f"pow(k=24) draw+hash kernel, BLOCK={config[0]} num_warps={config[1]}", "hashes/s", rate,
               target=None, higher_is_better=True, device=bench_device, detail=f"{count:.3g} per call")
    offsets = iter(range(0, 1 << 40, count))
    benchmark.pedantic(lambda: (problem.evaluate_uniform(count, seed=3, offset=next(offsets)), sync()),
                       rounds=5, iterations=1, warmup_rounds=1)
    benchmark.group = "pow on the GPU"
    rate = count / benchmark.stats.stats.median
    record(benchmark, "pow(k=24) evaluate_uniform on CUDA (draw+hash)", "hashes/s", rate, target=1e9,
           higher_is_better=True, device=bench_device, detail=f"{count:.3g} candidates per call, none stored")
