"""Batched evaluation throughput of every registered problem: a population of 1,000 points per call.

Run with ``make bench`` (CPU) or ``make bench-gpu``; each problem's ``evals/s`` is in ``extra_info``
and in the closing table of ``make bench`` (no target: these are the reference the optimizers are
measured against).
"""

from __future__ import annotations

import pytest
import torch

from optbench.registry import PROBLEMS, entries, make_problem
from optbench.testing import random_points

from .conftest import record, sync_for

POPULATION = 1000


@pytest.mark.parametrize("name", sorted(entries(PROBLEMS)))
def test_evaluate_population(benchmark, bench_device, name):
    problem = make_problem(name, {}, instance=1, device=bench_device)
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
