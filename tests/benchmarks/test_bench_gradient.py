"""Harness overhead of gradient methods: optbench's adam / sgd against a plain torch training loop.

Both sides train the same model (the problem's own loss on one flat parameter vector, so the
arithmetic is identical), from the same initial weights, on the same minibatch order, with the
same ``torch.optim`` class; the benchmark checks that the final parameters are bit-for-bit equal
before it compares time. The ratio is taken on the optimizer time optbench reports (its
stopwatch, which leaves out the untimed trace checkpoints); the wall-clock ratio including those
checkpoints (evaluated after the run, together, when the trace is read) is a row of its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from optbench.api import Budget, Problem
from optbench.evaluator import Evaluator, Stopwatch
from optbench.optimizers.torch_optim import SGD, Adam, TorchOptimizer
from optbench.registry import make_problem
from optbench.seeding import torch_generator

from .conftest import interleaved_medians, record, sync_for

BATCH = 64
STEPS = 500
CASES = {  # problem label -> (name, params)
    "digits MLP 64-32-10": ("digits", {}),
    "linreg n=20000 d=200": ("linreg", {"n": 20000, "d": 200}),
}
OPTIMIZERS: dict[str, tuple[type[TorchOptimizer], dict[str, Any], type[torch.optim.Optimizer]]] = {
    "adam": (Adam, {"lr": 0.01}, torch.optim.Adam),
    "sgd": (SGD, {"lr": 0.01, "momentum": 0.9}, torch.optim.SGD),
}


def _budget(problem: Problem) -> float:
    """Evaluations that buy exactly ``STEPS`` minibatch steps (a minibatch of b costs b / n)."""
    assert problem.n_examples is not None
    return STEPS * BATCH / problem.n_examples


def _optbench(problem: Problem, optimizer: TorchOptimizer, seed: int = 0) -> tuple[torch.Tensor, float]:
    """The final parameters and the optimizer time optbench would report; the trace is read as the runner
    reads it (after the clock stops), so the wall time includes the checkpoints' evaluation."""
    stopwatch = Stopwatch(sync=sync_for(problem.device))
    evaluator = Evaluator(problem, Budget(evaluations=_budget(problem)), stopwatch=stopwatch)
    stopwatch.start()
    x = optimizer.minimize(evaluator, rng=np.random.default_rng(seed))
    seconds = stopwatch.stop()
    evaluator.finalize()
    assert len(evaluator.trace) >= 3  # checkpoints reached the trace (thinned below one evaluation)
    return x, seconds


def _plain(problem: Problem, make: type[torch.optim.Optimizer], options: dict[str, Any],
           seed: int = 0) -> torch.Tensor:
    """What one writes by hand: shuffle each epoch, zero_grad, loss, backward, step, project on the box."""
    n = problem.n_examples
    assert n is not None
    gen = torch_generator(np.random.default_rng(seed), "cpu")
    param = problem.initial_point(gen).detach().clone().requires_grad_(True)
    optimizer = make([param], **options)
    lower, upper = problem.space.bounds(device=problem.device, dtype=problem.dtype)
    order, cursor = torch.empty(0, dtype=torch.long), 0
    for _ in range(STEPS):
        if cursor + BATCH > order.numel():
            order, cursor = torch.randperm(n, generator=gen).to(problem.device), 0
        batch = order[cursor : cursor + BATCH]
        cursor += BATCH
        optimizer.zero_grad()
        problem.loss(param, batch=batch).backward()
        optimizer.step()
        if problem.space.is_bounded:
            with torch.no_grad():
                param.clamp_(lower, upper)
    return param.detach()


@pytest.mark.parametrize("optimizer_name", list(OPTIMIZERS))
@pytest.mark.parametrize("case", list(CASES))
def test_gradient_harness_overhead(benchmark, bench_device, case, optimizer_name):
    name, params = CASES[case]
    problem = make_problem(name, params, device=bench_device)
    cls, options, torch_cls = OPTIMIZERS[optimizer_name]
    optimizer = cls(batch_size=BATCH, **options)
    ours_x, _ = _optbench(problem, optimizer)
    plain_x = _plain(problem, torch_cls, options)
    assert torch.equal(ours_x, plain_x), "optbench and the plain loop must end on identical parameters"

    timed: list[float] = []
    sync = sync_for(bench_device)
    wall, plain = interleaved_medians(lambda: timed.append(_optbench(problem, optimizer)[1]),
                                      lambda: _plain(problem, torch_cls, options), rounds=9, sync=sync)
    ours = float(np.median(timed))
    benchmark.pedantic(_optbench, args=(problem, optimizer), rounds=3, iterations=1)
    per_step = (ours - plain) / STEPS * 1e6
    record(benchmark, f"{optimizer_name} vs plain torch loop, {case}, batch {BATCH}", "time ratio", ours / plain,
           target=1.03, device=bench_device,
           detail=f"{plain / STEPS * 1e6:.0f} µs/step plain, {per_step:+.1f} µs/step optbench",
           optbench_timed_s=ours, optbench_wall_s=wall, plain_s=plain, steps=STEPS,
           overhead_us_per_step=per_step, wall_ratio=wall / plain)
    record(benchmark, f"{optimizer_name} wall incl. trace checkpoints vs plain loop, {case}", "time ratio",
           wall / plain, target=1.15, device=bench_device,
           detail=f"checkpoints and trace {(wall - ours) * 1e3:.1f} ms after {ours * 1e3:.1f} ms of optimizer time")
    assert math.isfinite(ours) and ours > 0
