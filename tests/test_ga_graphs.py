"""The GA's CUDA-graph path gives the eager path's populations bit for bit, and stays eager where it cannot be used.

On CUDA (``gpu`` tests) the GA runs with graphs forced off and on (``OPTBENCH_CUDA_GRAPHS``) and
every population it evaluates, its trace and its recommendation are compared exactly. On the CPU
the switch and the fallback are checked, and the loop's bookkeeping around a replayed generation
(fixed buffers, the generator handed back) with a stand-in for the graph that replays eagerly.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from optbench.api import Budget
from optbench.evaluator import Evaluator
from optbench.optimizers import ga, ga_graphs
from optbench.optimizers.ga import GRAPHS_ENV, GeneticAlgorithm, graphs_wanted
from optbench.registry import problem_class

LOGGER = "optbench.optimizers.ga"
CAPTURED = "generations replayed as a CUDA graph"
FAILED = "no CUDA graph"
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

PROBLEMS = [("rastrigin", {"dim": 10}), ("rastrigin", {"dim": 7, "dtype": torch.float32}), ("onemax", {"n": 37})]
SHAPES = [(24, 2), (25, 0), (25, 2)]  # (popsize, elites): even and odd populations, with and without elites


class _Recording(Evaluator):
    """An evaluator that keeps a copy of every batch it is asked to evaluate (the populations, in order).

    ``short_at``: the call whose batch it cuts by three points without raising, as an evaluator
    may; the GA must carry on, eagerly, from the same random stream.
    """

    def __init__(self, *args: Any, short_at: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[torch.Tensor] = []
        self._short_at = short_at

    def evaluate(self, X: torch.Tensor) -> torch.Tensor:
        if len(self.batches) == self._short_at:
            X = X[:-3]
        self.batches.append(X.detach().cpu().clone())
        return super().evaluate(X)


@dataclass
class _Run:
    best: float
    trace: list[tuple[float, float]]
    recommendation: torch.Tensor
    batches: list[torch.Tensor]


def _budget(popsize: int, elites: int, generations: int = 8) -> int:
    """The first population, ``generations`` full generations and half of one more: the last is cut."""
    return popsize + generations * (popsize - elites) + (popsize - elites) // 2


def _run(family: str, params: dict, popsize: int, elites: int, device: str, *, budget: int | None = None,
         short_at: int | None = None, seed: int = 3) -> _Run:
    problem = problem_class(family)(**params, device=device)
    budget = budget if budget is not None else _budget(popsize, elites)
    evaluator = _Recording(problem, Budget(evaluations=budget), short_at=short_at)
    x = GeneticAlgorithm(popsize=popsize, elites=elites).minimize(evaluator, rng=np.random.default_rng(seed))
    assert evaluator.evaluations == budget  # the budget was spent, the last generation cut
    return _Run(evaluator.best_value, [(p.evaluations, p.best) for p in evaluator.trace], x.detach().cpu(),
                evaluator.batches)


def _assert_same(a: _Run, b: _Run) -> None:
    """Bit for bit: every population evaluated, the trace, the best value and the recommendation."""
    assert len(a.batches) == len(b.batches) and len(a.batches) > 2
    for generation, (x, y) in enumerate(zip(a.batches, b.batches, strict=True)):
        assert x.dtype == y.dtype and x.shape == y.shape, generation
        assert torch.equal(x, y), f"populations differ at generation {generation}"
    assert a.trace == b.trace
    assert a.best == b.best or (math.isnan(a.best) and math.isnan(b.best))
    assert torch.equal(a.recommendation, b.recommendation)


# ---------------------------------------------------------------------------------------------- CUDA


@pytest.mark.gpu
@CUDA
@pytest.mark.parametrize(("popsize", "elites"), SHAPES, ids=[f"pop{p}-elites{e}" for p, e in SHAPES])
@pytest.mark.parametrize(("family", "params"), PROBLEMS, ids=["rastrigin64", "rastrigin32", "onemax"])
def test_graph_replay_gives_the_eager_populations(monkeypatch, caplog, family, params, popsize, elites):
    monkeypatch.setenv(GRAPHS_ENV, "0")
    eager = _run(family, params, popsize, elites, "cuda")
    monkeypatch.setenv(GRAPHS_ENV, "1")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        graphed = _run(family, params, popsize, elites, "cuda")
    assert CAPTURED in caplog.text and FAILED not in caplog.text
    _assert_same(eager, graphed)


@pytest.mark.gpu
@CUDA
def test_default_uses_a_graph_at_the_benchmark_size(monkeypatch, caplog):
    """Population 1,000, D=100: the benchmark's case, where launches dominate; graphs by default."""
    budget = _budget(1000, 2, generations=6)
    monkeypatch.setenv(GRAPHS_ENV, "0")
    eager = _run("rastrigin", {"dim": 100, "dtype": torch.float32}, 1000, 2, "cuda", budget=budget)
    monkeypatch.delenv(GRAPHS_ENV)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        default = _run("rastrigin", {"dim": 100, "dtype": torch.float32}, 1000, 2, "cuda", budget=budget)
    assert CAPTURED in caplog.text
    _assert_same(eager, default)


@pytest.mark.gpu
@CUDA
def test_a_capture_that_syncs_falls_back_to_the_same_run(monkeypatch, caplog):
    """A host sync inside the capture (here forced into the tournament) fails it: the run goes on eagerly."""
    mates = GeneticAlgorithm._mates

    def syncing(self: GeneticAlgorithm, order: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        if torch.cuda.is_current_stream_capturing():
            order.sum().item()  # a copy to the host: not allowed while capturing
        return mates(self, order, n, gen)

    monkeypatch.setenv(GRAPHS_ENV, "0")
    eager = _run("rastrigin", {"dim": 10}, 25, 2, "cuda")
    monkeypatch.setattr(GeneticAlgorithm, "_mates", syncing)
    monkeypatch.setenv(GRAPHS_ENV, "1")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        fallen_back = _run("rastrigin", {"dim": 10}, 25, 2, "cuda")
    assert FAILED in caplog.text and CAPTURED not in caplog.text
    _assert_same(eager, fallen_back)


@pytest.mark.gpu
@CUDA
@pytest.mark.parametrize(("family", "params"), PROBLEMS[::2], ids=["rastrigin64", "onemax"])
def test_a_short_batch_hands_the_stream_back_to_the_eager_path(monkeypatch, family, params):
    """A batch cut without raising (in generation 4) ends the replays; the eager path draws on where they stopped."""
    budget = _budget(25, 2) - 3
    monkeypatch.setenv(GRAPHS_ENV, "0")
    eager = _run(family, params, 25, 2, "cuda", budget=budget, short_at=4)
    monkeypatch.setenv(GRAPHS_ENV, "1")
    graphed = _run(family, params, 25, 2, "cuda", budget=budget, short_at=4)
    _assert_same(eager, graphed)


# ---------------------------------------------------------------------------------------------- CPU


def test_graphs_only_on_cuda_and_as_the_switch_says(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    small, large = 1000 * 100, ga.GRAPH_MAX_ENTRIES + 1
    for setting in (None, "0", "1", "auto"):
        if setting is None:
            monkeypatch.delenv(GRAPHS_ENV, raising=False)
        else:
            monkeypatch.setenv(GRAPHS_ENV, setting)
        assert not graphs_wanted(cpu, small, math.inf)
        expected = {None: (True, False, False), "auto": (True, False, False), "0": (False, False, False),
                    "1": (True, True, True)}[setting]
        got = (graphs_wanted(cuda, small, math.inf), graphs_wanted(cuda, large, math.inf),
               graphs_wanted(cuda, small, ga.GRAPH_MIN_GENERATIONS - 1))
        assert got == expected, setting


def test_a_cpu_run_never_tries_to_capture(monkeypatch):
    calls = []
    monkeypatch.setattr(ga_graphs, "_capture", lambda step, gen: calls.append(gen))
    monkeypatch.setenv(GRAPHS_ENV, "1")
    _run("rastrigin", {"dim": 5}, 12, 2, "cpu")
    assert calls == []


def test_a_failed_capture_leaves_the_run_eager_and_unchanged(monkeypatch, caplog):
    monkeypatch.setenv(GRAPHS_ENV, "0")
    eager = _run("rastrigin", {"dim": 6}, 13, 2, "cpu")

    def failing(step: Any, gen: torch.Generator) -> Any:
        raise RuntimeError("forced capture failure")

    monkeypatch.setattr(ga, "graphs_wanted", lambda device, entries, generations: True)
    monkeypatch.setattr(ga_graphs, "_capture", failing)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        fallen_back = _run("rastrigin", {"dim": 6}, 13, 2, "cpu")
    assert "no CUDA graph (RuntimeError: forced capture failure)" in caplog.text
    _assert_same(eager, fallen_back)


class _EagerReplay:
    """Stands in for a captured graph on the CPU: each replay runs the captured step with the graph's generator."""

    def __init__(self, step: Any, gen: torch.Generator) -> None:
        self.generator = torch.Generator(device=gen.device)
        self.generator.set_state(gen.get_state())
        self._step = step

    def replay(self) -> torch.Tensor:
        return self._step(self.generator)


@pytest.mark.parametrize("short_at", [None, 4], ids=["full", "short-batch"])
@pytest.mark.parametrize(("popsize", "elites"), SHAPES, ids=[f"pop{p}-elites{e}" for p, e in SHAPES])
@pytest.mark.parametrize(("family", "params"), PROBLEMS[::2], ids=["rastrigin64", "onemax"])
def test_the_replay_loop_gives_the_eager_populations(monkeypatch, caplog, family, params, popsize, elites, short_at):
    """The loop around a replayed generation (fixed buffers, fitness copied in, the stream handed back) on the CPU."""
    budget = _budget(popsize, elites) - (3 if short_at is not None else 0)
    monkeypatch.setenv(GRAPHS_ENV, "0")
    eager = _run(family, params, popsize, elites, "cpu", budget=budget, short_at=short_at)
    monkeypatch.setattr(ga, "graphs_wanted", lambda device, entries, generations: True)
    monkeypatch.setattr(ga_graphs, "_capture", _EagerReplay)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        replayed = _run(family, params, popsize, elites, "cpu", budget=budget, short_at=short_at)
    assert CAPTURED in caplog.text
    _assert_same(eager, replayed)
