"""Batched evaluation throughput of every registered problem: a population of 1,000 points per call.

Run with ``make bench`` (CPU) or ``make bench-gpu``; each row's ``evals/s`` is in ``extra_info``
and printed by ``make bench-problems`` as one table.
"""

from __future__ import annotations

import pytest
import torch

from optbench.registry import PROBLEMS, entries, make_problem
from optbench.testing import random_points

POPULATION = 1000


@pytest.mark.parametrize("name", sorted(entries(PROBLEMS)))
def test_evaluate_population(benchmark, bench_device, name):
    problem = make_problem(name, {}, instance=1, device=bench_device)
    X = random_points(problem, POPULATION).to(bench_device)
    sync = torch.cuda.synchronize if bench_device.startswith("cuda") else (lambda: None)

    def evaluate() -> torch.Tensor:
        values = problem.evaluate(X)
        sync()
        return values

    values = benchmark.pedantic(evaluate, rounds=5, iterations=1, warmup_rounds=1)
    assert values.shape == (POPULATION,) and bool(torch.isfinite(values).all())
    benchmark.group = "problem throughput (population 1000)"
    benchmark.extra_info.update({"landscape": problem.landscape, "dim": problem.space.dim,
                                 "evals_per_s": POPULATION / benchmark.stats.stats.median})
