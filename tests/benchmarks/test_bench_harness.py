"""Harness overhead: optbench's cmaes against a plain pycma ask/tell loop on the same function.

Both paths see the same x0, sigma0, pycma seed, options and budget, so they make the identical
sequence of evaluations; the benchmark checks that (same best value) before comparing time.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from optbench.api import Budget
from optbench.evaluator import Evaluator
from optbench.optimizers.cmaes import CMAES
from optbench.registry import make_problem
from optbench.seeding import torch_generator

from .conftest import interleaved_medians, record, sync_for

BUDGET = 2000
DIM = 10


def _plain_pycma(problem, seed: int = 0) -> float:
    """What a user would write by hand: ask, stack, evaluate once per generation, tell."""
    import cma

    rng = np.random.default_rng(seed)
    x0 = problem.initial_point(torch_generator(rng, "cpu")).cpu().numpy()
    width = float(np.mean(np.subtract(problem.space.upper, problem.space.lower)))
    options = {"seed": int(rng.integers(1, 2**31 - 1)), "verbose": -9, "verb_log": 0, "verb_disp": 0,
               "bounds": [list(problem.space.lower), list(problem.space.upper)], "maxfevals": BUDGET}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = cma.CMAEvolutionStrategy(x0, 0.25 * width, options)
    lower, upper = problem.space.bounds(device=problem.device, dtype=problem.dtype)
    best, used = np.inf, 0
    while not es.stop() and used < BUDGET:
        population = es.ask()
        X = torch.as_tensor(np.asarray(population), dtype=problem.dtype, device=problem.device).clamp(lower, upper)
        values = problem.evaluate(X).cpu().numpy()
        es.tell(population, values.tolist())
        used += len(population)
        best = min(best, float(values.min()))
    return best


def _optbench_cmaes(problem, seed: int = 0) -> float:
    evaluator = Evaluator(problem, Budget(evaluations=BUDGET))
    CMAES(restarts=False).minimize(evaluator, rng=np.random.default_rng(seed))
    return evaluator.best_value


@pytest.mark.parametrize("problem_name", ["sphere", "rastrigin"])
def test_cmaes_harness_overhead(benchmark, problem_name, bench_device):
    problem = make_problem(problem_name, {"dim": DIM}, device=bench_device)
    assert _optbench_cmaes(problem) == _plain_pycma(problem)  # identical evaluation sequence
    sync = sync_for(bench_device)
    ours, plain = interleaved_medians(lambda: _optbench_cmaes(problem), lambda: _plain_pycma(problem),
                                      rounds=15, sync=sync)
    benchmark.pedantic(_optbench_cmaes, args=(problem,), rounds=5, iterations=1)
    record(benchmark, f"cmaes vs plain pycma ask/tell, {problem_name} d={DIM}, {BUDGET:,} evals", "time ratio",
           ours / plain, target=1.03, device=bench_device,
           detail=f"optbench {ours * 1e3:.1f} ms, pycma {plain * 1e3:.1f} ms; "
                  f"{plain / BUDGET * 1e6:.0f} µs/eval in pycma",
           optbench_s=ours, plain_pycma_s=plain, overhead_ratio=ours / plain)
