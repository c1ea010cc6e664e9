"""The cost of counting, budgets and the anytime trace: a problem evaluated through the evaluator vs directly.

One million evaluations of the sphere (d=10), once as 1,000 batched calls of 1,000 points (how
population methods call it) and once as single-point calls (how a sequential black-box method
calls it, scaled down to 20,000 calls to keep `make bench` short). Both sides compute the same
values; the evaluator must report the same best value and count every point.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from optbench.api import Budget, Problem
from optbench.evaluator import Evaluator
from optbench.registry import make_problem

from .conftest import interleaved_medians, record, sync_for

DIM = 10
BATCHED = (1000, 1000)  # calls x points per call: 1e6 evaluations
SINGLE = (20_000, 1)


def _points(problem: Problem, calls: int, size: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(calls * size, DIM, generator=gen, dtype=problem.dtype) * 10 - 5
    return list(X.to(problem.device).split(size))


def _through_evaluator(problem: Problem, batches: list[torch.Tensor]) -> Evaluator:
    evaluator = Evaluator(problem, Budget(evaluations=sum(len(X) for X in batches)))
    for X in batches:
        evaluator.evaluate(X)
    return evaluator


def _direct(problem: Problem, batches: list[torch.Tensor]) -> float:
    """The problem alone; keeps the running best on the device, as a bare loop would."""
    best = torch.full((), math.inf, dtype=problem.dtype, device=problem.device)
    for X in batches:
        best = torch.minimum(best, problem.evaluate(X).min())
    return float(best)


@pytest.mark.parametrize(("calls", "size"), [BATCHED, SINGLE], ids=["1000x1000", "20000x1"])
def test_trace_and_counting_cost(benchmark, bench_device, calls, size):
    problem = make_problem("sphere", {"dim": DIM}, device=bench_device)
    batches = _points(problem, calls, size)
    evaluator = _through_evaluator(problem, batches)
    assert evaluator.best_value == _direct(problem, batches)
    assert evaluator.points == calls * size and evaluator.remaining == 0
    trace = evaluator.trace
    assert 1 <= len(trace) <= 200  # thinned: at most two points per log bucket
    assert all(a.best > b.best and a.evaluations < b.evaluations for a, b in itertools.pairwise(trace))
    assert trace[-1].best == evaluator.best_value
    ours, direct = interleaved_medians(lambda: _through_evaluator(problem, batches),
                                       lambda: _direct(problem, batches), rounds=7, sync=sync_for(bench_device))
    benchmark.pedantic(_through_evaluator, args=(problem, batches), rounds=3, iterations=1)
    per_call = (ours - direct) / calls * 1e6
    record(benchmark, f"evaluator vs direct, sphere d={DIM}, {calls:,} calls × {size:,} points", "time ratio",
           ours / direct, target=None, device=bench_device,
           detail=f"{per_call:+.1f} µs per call ({direct / calls * 1e6:.1f} µs direct); "
                  f"{len(evaluator.trace)} trace points", overhead_us_per_call=per_call)
