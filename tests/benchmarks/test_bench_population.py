"""Population methods at tensor speed: random search and the GA on Rastrigin, D=100, population 1,000.

The reference is the raw batched evaluation of one population (``problem.evaluate(X)`` on a
``(1000, 100)`` tensor). Random search must reach 2e6 evaluations/s and 30% of that raw rate
(it also draws the points); one GA generation must cost at most three raw evaluations; and the
same random search through Nevergrad's ask/tell at equal budget is the thousand-times-slower
alternative. Each optbench run is checked against the same algorithm driven without the
evaluator (same seed, same final best value, exactly) before it is timed. The GA's rows time the
run, the bare loop, the run's raw evaluations and (on the CPU) its torch path (``OPTBENCH_KERNELS=eager``,
where the default uses the C pass) in the same rounds, so a shared machine's load weighs on all alike.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import warnings
from typing import Any

import numpy as np
import pytest
import torch

from optbench.api import Budget, BudgetExhausted, Problem
from optbench.evaluator import Evaluator
from optbench.kernels.switches import KERNELS as KERNELS_ENV
from optbench.optimizers.ga import GRAPHS_ENV, GeneticAlgorithm, _bernoulli_sites, _random_fields, graphs_wanted
from optbench.optimizers.random_search import RandomSearch
from optbench.registry import problem_class

from .conftest import interleaved_medians, record, sync_for

DIM = 100
POPULATION = 1000
GENERATIONS = 50
NEVERGRAD_BUDGET = 10_000  # large enough that one-off set-up costs do not decide the ratio


def _rastrigin(device: str) -> Problem:
    """Rastrigin in float32, the precision the reference figure (6.5 M evals/s) was taken in."""
    return problem_class("rastrigin")(dim=DIM, instance=1, device=device, dtype=torch.float32)


class _Bare:
    """The evaluator's interface without counting, trace or best tracking: the optimizer alone.

    Raises :class:`BudgetExhausted` at the same point as the evaluator, so an optimizer driven
    by it makes the identical sequence of calls; keeps only a running minimum, on the device.
    """

    def __init__(self, problem: Problem, budget: int) -> None:
        self._problem, self._left = problem, budget
        self.space, self.device, self.dtype, self.dim = problem.space, problem.device, problem.dtype, problem.space.dim
        self.best_x: torch.Tensor | None = None
        self._best = torch.full((), math.inf, dtype=problem.dtype, device=problem.device)
        self.capabilities = problem.capabilities  # a fused draw-and-evaluate kernel (CUDA) is used alike

    @property
    def remaining(self) -> float:
        return float(self._left)

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.space.bounds(device=self.device, dtype=self.dtype)

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        return self._problem.initial_point(generator)

    def evaluate(self, X: torch.Tensor) -> torch.Tensor:
        if self._left <= 0:
            raise BudgetExhausted("spent")
        if X.shape[0] > self._left:
            X = X[: self._left]
        values = self._problem.evaluate(X)
        self._left -= X.shape[0]
        self._best = torch.minimum(self._best, values.nan_to_num(math.inf).min())
        if self.best_x is None:  # only needs to be set for the optimizers' final check
            self.best_x = X[0].clone()
        return values

    def evaluate_uniform(self, n: int, *, seed: int, offset: int) -> torch.Tensor:
        """The problem's fused kernel with the same budget cut and running minimum as :meth:`evaluate`."""
        if self._left <= 0:
            raise BudgetExhausted("spent")
        n = min(n, self._left)
        values = self._problem.evaluate_uniform(n, seed=seed, offset=offset)
        self._left -= n
        self._best = torch.minimum(self._best, values.nan_to_num(math.inf).min())
        if self.best_x is None:
            first = torch.zeros(1, dtype=torch.int64, device=self.device)
            self.best_x = self._problem.uniform_points(first, seed=seed, offset=offset)[0]
        return values

    def best_value(self) -> float:
        return float(self._best)


def _optbench(problem: Problem, optimizer: Any, budget: int) -> float:
    evaluator = Evaluator(problem, Budget(evaluations=budget))
    optimizer.minimize(evaluator, rng=np.random.default_rng(0))
    return evaluator.best_value


def _bare(problem: Problem, optimizer: Any, budget: int) -> float:
    bare = _Bare(problem, budget)
    optimizer.minimize(bare, rng=np.random.default_rng(0))  # type: ignore[arg-type]
    return bare.best_value()


def _raw_evaluation_seconds(problem: Problem, sync: Any, population: int = POPULATION) -> float:
    """Median time of one batched evaluation of a fixed population ``(population, 100)``."""
    X = torch.rand(population, DIM, generator=torch.Generator().manual_seed(1), dtype=problem.dtype)
    X = (X * 10.24 - 5.12).to(problem.device)
    raw, _ = interleaved_medians(lambda: problem.evaluate(X), lambda: None, rounds=50, sync=sync)
    return raw


def _draw_seconds(device: str, sync: Any, n: int, *, numpy_on_cpu: bool) -> float:
    """Median time to draw ``n`` float32 uniforms the way the optimizer does: the floor under its cost."""
    if numpy_on_cpu and device == "cpu":
        rng = np.random.default_rng(0)
        return interleaved_medians(lambda: rng.random(n, dtype=np.float32), lambda: None, rounds=50)[0]
    gen = torch.Generator(device=device).manual_seed(0)
    return interleaved_medians(lambda: torch.rand(n, generator=gen, device=device), lambda: None, rounds=50,
                               sync=sync)[0]


def test_random_search_throughput(benchmark, bench_device):
    problem, sync = _rastrigin(bench_device), sync_for(bench_device)
    optimizer, budget = RandomSearch(batch_size=POPULATION), GENERATIONS * POPULATION
    assert _optbench(problem, optimizer, budget) == _bare(problem, optimizer, budget)
    ours, bare = interleaved_medians(lambda: _optbench(problem, optimizer, budget),
                                     lambda: _bare(problem, optimizer, budget), rounds=15, sync=sync)
    raw = _raw_evaluation_seconds(problem, sync)
    benchmark.pedantic(_optbench, args=(problem, optimizer, budget), rounds=5, iterations=1)
    draw = _draw_seconds(bench_device, sync, POPULATION * DIM, numpy_on_cpu=True)
    rate, raw_rate = budget / ours, POPULATION / raw
    detail = f"raw evaluation {raw_rate:.3g} evals/s ({raw * 1e6:.0f} µs per 1,000)"
    record(benchmark, "random search, Rastrigin D=100 float32, batch 1,000", "evals/s", rate, target=2e6,
           higher_is_better=True, detail=detail, device=bench_device, raw_evals_per_s=raw_rate)
    record(benchmark, "random search / raw batched evaluation", "rate ratio", rate / raw_rate, target=0.30,
           higher_is_better=True, device=bench_device, draw_seconds=draw,
           detail=f"{ours / GENERATIONS * 1e6:.0f} µs per batch, of which drawing the points {draw * 1e6:.0f} µs")
    record(benchmark, "random search: optbench vs the same loop without evaluator", "time ratio", ours / bare,
           target=1.03, detail=f"{(ours - bare) / GENERATIONS * 1e6:+.1f} µs per batch", device=bench_device)


def _check_mutation_sites(device: str, *, n: int = 100_000, rate: float = 0.01, draws: int = 200) -> None:
    """The GA's sparse mutation draws an i.i.d. Bernoulli(rate) mask: distinct sites, mean count n * rate."""
    gen = torch.Generator(device=device).manual_seed(0)
    counts = []
    for _ in range(draws):
        sites = _bernoulli_sites(n, rate, gen, torch.device(device))
        sites = sites[sites < n]
        assert bool((sites[1:] > sites[:-1]).all()) and bool((sites >= 0).all())
        counts.append(sites.numel())
    spread = math.sqrt(n * rate * (1 - rate) / draws)
    assert abs(float(np.mean(counts)) - n * rate) < 5 * spread


def _with_graphs(setting: str | None, run: Any) -> Any:
    """``run`` made to run with ``OPTBENCH_CUDA_GRAPHS`` set to ``setting`` (``None``: unset, the default)."""
    def wrapped() -> Any:
        previous = os.environ.pop(GRAPHS_ENV, None)
        if setting is not None:
            os.environ[GRAPHS_ENV] = setting
        try:
            return run()
        finally:
            os.environ.pop(GRAPHS_ENV, None)
            if previous is not None:
                os.environ[GRAPHS_ENV] = previous
    return wrapped


def _with_kernels(mode: str, run: Any) -> Any:
    """``run`` made to run with ``OPTBENCH_KERNELS`` set to ``mode``."""
    def wrapped() -> Any:
        previous = os.environ.get(KERNELS_ENV)
        os.environ[KERNELS_ENV] = mode
        try:
            return run()
        finally:
            if previous is None:
                os.environ.pop(KERNELS_ENV, None)
            else:
                os.environ[KERNELS_ENV] = previous
    return wrapped


def _interleaved(fns: list[Any], *, rounds: int, sync: Any) -> list[float]:
    """Median wall time of each of ``fns`` (``None``: skipped, 0.0), called in turn in every round, so the
    load of a shared machine weighs on all of them alike (a ratio of medians from other minutes does not)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, spent in zip(fns, times, strict=True):
            if fn is None:
                continue
            sync()
            start = time.perf_counter()
            fn()
            sync()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) if spent else 0.0 for spent in times]


@pytest.mark.parametrize("population", [POPULATION, 100_000], ids=["pop1000", "pop100000"])
def test_ga_generation_cost(benchmark, bench_device, population):
    if population > POPULATION and not bench_device.startswith("cuda"):
        pytest.skip("the population of 100,000 is the GPU's row")
    problem, sync = _rastrigin(bench_device), sync_for(bench_device)
    _check_mutation_sites(bench_device)
    optimizer = GeneticAlgorithm(popsize=population)
    budget = population + GENERATIONS * (population - optimizer.elites)
    default = _with_graphs(None, lambda: _optbench(problem, optimizer, budget))
    bare_loop = _with_graphs(None, lambda: _bare(problem, optimizer, budget))  # the same path as optbench's
    assert default() == bare_loop()
    X = (torch.rand(population, DIM, generator=torch.Generator().manual_seed(1), dtype=problem.dtype) * 10.24
         - 5.12).to(bench_device)

    def raw_loop() -> None:  # as many raw evaluations as the run makes, timed in the same rounds
        for _ in range(GENERATIONS + 1):
            problem.evaluate(X)

    on_cpu = torch.device(bench_device).type == "cpu"
    torch_path = _with_kernels("eager", default)  # the GA's torch operations, where the default uses its C pass
    if on_cpu:
        assert torch_path() == default()  # the same populations either way
    ours, bare, raw_total, eager = _interleaved([default, bare_loop, raw_loop, torch_path if on_cpu else None],
                                                rounds=15, sync=sync)
    raw = raw_total / (GENERATIONS + 1)
    benchmark.pedantic(default, rounds=5, iterations=1)
    generation = ours / (GENERATIONS + 1)
    gen, device = torch.Generator(device=bench_device).manual_seed(0), torch.device(bench_device)
    draw = interleaved_medians(lambda: _random_fields(population // 2 * DIM, torch.int16, gen, device),
                               lambda: None, rounds=50, sync=sync)[0]
    graphed = graphs_wanted(device, population * DIM, GENERATIONS)  # the default's choice (unless capture fails)
    path = " (CUDA graph)" if graphed else " (eager)" if device.type == "cuda" else ""
    record(benchmark, f"GA generation / one raw evaluation, Rastrigin D=100, pop {population:,}", "time ratio",
           generation / raw, target=3.0, device=bench_device, draw_seconds=draw,
           detail=f"{generation * 1e6:.0f} µs per generation{path}, raw evaluation {raw * 1e6:.0f} µs, "
                  f"crossover draws (16-bit) {draw * 1e6:.0f} µs")
    record(benchmark, f"GA: optbench vs the same loop without evaluator, pop {population:,}", "time ratio",
           ours / bare, target=1.03,
           detail=f"{(ours - bare) / (GENERATIONS + 1) * 1e6:+.1f} µs per generation", device=bench_device)
    if on_cpu:
        record(benchmark, f"GA generation / one raw evaluation, torch path (OPTBENCH_KERNELS=eager), "
               f"pop {population:,}", "time ratio", eager / (GENERATIONS + 1) / raw, target=None, device=bench_device,
               detail=f"{eager / (GENERATIONS + 1) * 1e6:.0f} µs per generation in the same rounds; the default "
                      f"(C pass where built) {generation * 1e6:.0f} µs")
    if device.type == "cuda":  # the other path next to the default: eager, or the graph where the default is eager
        other, name = ("0", "eager path") if graphed else ("1", "CUDA graph forced")
        alternative = _with_graphs(other, lambda: _optbench(problem, optimizer, budget))
        assert alternative() == default()  # the same populations whichever the path
        theirs, ours_again = interleaved_medians(alternative, default, rounds=15, sync=sync)
        record(benchmark, f"GA generation / one raw evaluation, {name}, pop {population:,}", "time ratio",
               theirs / (GENERATIONS + 1) / raw, target=None, device=bench_device,
               detail=f"{theirs / (GENERATIONS + 1) * 1e6:.0f} µs per generation; the default "
                      f"{ours_again / (GENERATIONS + 1) * 1e6:.0f} µs in the same rounds")


def _nevergrad_random_search(problem: Problem, budget: int) -> tuple[float, int]:
    """Nevergrad's RandomSearch through ask/tell, one candidate per evaluation, as its docs show."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import nevergrad as ng

    lower, upper = problem.space.lower, problem.space.upper
    assert lower is not None and upper is not None
    parametrization = ng.p.Array(shape=(DIM,), lower=lower[0], upper=upper[0])
    parametrization.random_state = np.random.RandomState(0)
    optimizer = ng.optimizers.RandomSearch(parametrization=parametrization, budget=budget)
    best = math.inf
    for _ in range(budget):
        candidate = optimizer.ask()
        X = torch.as_tensor(candidate.value, dtype=problem.dtype, device=problem.device).unsqueeze(0)
        value = float(problem.evaluate(X)[0])
        optimizer.tell(candidate, value)
        best = min(best, value)
    return best, optimizer.num_tell


def test_random_search_against_nevergrad(benchmark, bench_device):
    problem, sync = _rastrigin(bench_device), sync_for(bench_device)
    optimizer = RandomSearch(batch_size=POPULATION)
    ng_best, told = _nevergrad_random_search(problem, NEVERGRAD_BUDGET)
    ours_best = _optbench(problem, optimizer, NEVERGRAD_BUDGET)
    # Different random streams, same algorithm: both spent the budget and found a comparable best.
    assert told == NEVERGRAD_BUDGET and math.isfinite(ng_best) and math.isfinite(ours_best)
    assert 0.5 < ours_best / ng_best < 2.0
    ours, nevergrad = interleaved_medians(lambda: _optbench(problem, optimizer, NEVERGRAD_BUDGET),
                                          lambda: _nevergrad_random_search(problem, NEVERGRAD_BUDGET),
                                          rounds=3, sync=sync)
    benchmark.pedantic(_optbench, args=(problem, optimizer, NEVERGRAD_BUDGET), rounds=10, iterations=1)
    record(benchmark, f"random search: Nevergrad ask/tell / optbench, {NEVERGRAD_BUDGET:,} evals", "speedup",
           nevergrad / ours, target=1000.0, higher_is_better=True, device=bench_device,
           detail=f"Nevergrad {nevergrad / NEVERGRAD_BUDGET * 1e6:.0f} µs/eval, optbench "
                  f"{ours / NEVERGRAD_BUDGET * 1e6:.2f} µs/eval", nevergrad_s=nevergrad, optbench_s=ours)


@pytest.fixture(autouse=True)
def _population_group(benchmark):
    benchmark.group = "population methods, Rastrigin D=100"
