"""The evaluator counts, prices and budgets every access; the budget cannot be exceeded."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from numerics import gamma

from optbench.api import Budget, BudgetExhausted, Capability, Problem, Space, SpaceKind, Unsupported
from optbench.evaluator import Evaluator, Stopwatch
from optbench.registry import make_problem


def test_batch_crossing_the_budget_is_cut_then_exhausted():
    problem = make_problem("sphere", {"dim": 3})
    ev = Evaluator(problem, Budget(evaluations=10))
    X = torch.zeros(7, 3, dtype=torch.float64)
    assert ev.evaluate(X).shape == (7,)
    with pytest.raises(BudgetExhausted) as info:
        ev.evaluate(X)
    assert info.value.values is not None and info.value.values.shape == (3,)
    assert ev.evaluations == 10 and ev.points == 10
    with pytest.raises(BudgetExhausted) as again:
        ev.evaluate(X[:1])
    assert again.value.values is None
    assert ev.evaluations == 10


def test_counted_points_equal_points_the_problem_evaluated():
    problem = make_problem("rastrigin", {"dim": 4})
    seen = []
    original = problem._evaluate
    problem._evaluate = lambda X: (seen.append(X.shape[0]), original(X))[1]
    ev = Evaluator(problem, Budget(evaluations=50))
    gen = torch.Generator().manual_seed(1)
    with pytest.raises(BudgetExhausted):
        while True:
            ev.evaluate(torch.rand(6, 4, generator=gen, dtype=torch.float64))
    assert sum(seen) == ev.points == 50


def test_minibatch_costs_fraction_and_full_gradient_costs_one():
    problem = make_problem("linreg", {"n": 100, "d": 5})
    ev = Evaluator(problem, Budget(evaluations=2))
    x = torch.zeros(5, dtype=torch.float64)
    loss, grad = ev.loss_and_grad(x, batch=torch.arange(25))
    assert ev.evaluations == pytest.approx(0.25) and ev.examples == 25
    assert grad.shape == (5,) and loss.ndim == 0
    ev.loss_and_grad(x)
    assert ev.evaluations == pytest.approx(1.25) and ev.gradient_evaluations == pytest.approx(1.25)
    for _ in range(3):
        ev.loss_and_grad(x, batch=torch.arange(25))
    assert ev.evaluations == pytest.approx(2.0)
    with pytest.raises(BudgetExhausted):
        ev.loss_and_grad(x, batch=torch.arange(1))
    assert ev.evaluations == pytest.approx(2.0) and ev.examples == 100 + 4 * 25


def test_gradient_matches_autograd_of_the_full_objective():
    problem = make_problem("linreg", {"n": 50, "d": 4})
    ev = Evaluator(problem, Budget(evaluations=5))
    x = torch.randn(4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    loss, grad = ev.loss_and_grad(x)
    A, b = problem.least_squares()
    expected = 2 * A.T @ (A @ x - b) / A.shape[0]
    # Same formula through two kernels (autograd's products vs these): each residual entry is within
    # gamma(d+1) (|A||x| + |b|) and each product with A^T within gamma(n+2) more, in any summation order,
    # so the two differ by at most twice that, elementwise; the mean of squares by 2 gamma(n+d+2) of its
    # nonnegative envelope.
    n, d = A.shape
    spread = A.abs() @ x.abs() + b.abs()
    bound = 2 * (2 / n) * (gamma(d + 1) + gamma(n + 2)) * (A.abs().T @ spread)
    assert bool(((grad - expected).abs() <= bound).all())
    assert abs(float(loss) - float(problem.evaluate(x[None])[0])) <= 2 * gamma(n + d + 2) * float(spread @ spread) / n


def test_non_differentiable_problem_refuses_gradients():
    ev = Evaluator(make_problem("onemax", {"n": 8}), Budget(evaluations=5))
    with pytest.raises(Unsupported):
        ev.loss_and_grad(torch.zeros(8))


def test_time_budget_refuses_the_first_call_after_it_runs_out():
    clock = Stopwatch()
    ev = Evaluator(make_problem("sphere", {"dim": 2}), Budget(seconds=0.05), stopwatch=clock)
    clock.start()
    ev.evaluate(torch.zeros(1, 2, dtype=torch.float64))
    clock._started -= 1.0  # pretend a second went by, without sleeping
    with pytest.raises(BudgetExhausted, match="time budget"):
        ev.evaluate(torch.zeros(1, 2, dtype=torch.float64))
    assert ev.points == 1


def test_trace_records_improvements_only_and_stays_compact():
    problem = make_problem("sphere", {"dim": 2})
    ev = Evaluator(problem, Budget(evaluations=100_000))
    for step in range(20_000):
        ev.evaluate(torch.full((1, 2), 1.0 / (step + 1), dtype=torch.float64) + problem.shift)
    trace = ev.trace
    assert len(trace) <= 2 * 50 * 5 + 2  # at most two points per log bucket
    bests = [p.best for p in trace]
    assert bests == sorted(bests, reverse=True) and len(set(bests)) == len(bests)
    assert trace[-1].evaluations == 20_000 and trace[-1].best == pytest.approx(ev.best_value)
    assert trace[0].evaluations == 1


def test_nan_values_never_become_the_best():
    problem = make_problem("sphere", {"dim": 2})
    ev = Evaluator(problem, Budget(evaluations=10))
    original = problem._evaluate
    problem._evaluate = lambda X: torch.full((X.shape[0],), math.nan, dtype=torch.float64)
    ev.evaluate(torch.zeros(2, 2, dtype=torch.float64))
    assert ev.best_value == math.inf
    problem._evaluate = original
    ev.evaluate(torch.zeros(1, 2, dtype=torch.float64))
    assert math.isfinite(ev.best_value)


def test_wrong_shape_is_rejected_and_not_counted():
    ev = Evaluator(make_problem("sphere", {"dim": 3}), Budget(evaluations=10))
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        ev.evaluate(torch.zeros(4, 2, dtype=torch.float64))
    assert ev.evaluations == 0


def test_minibatch_methods_get_untimed_checkpoints_in_the_trace():
    problem = make_problem("linreg", {"n": 100, "d": 3})
    ev = Evaluator(problem, Budget(evaluations=50))
    x = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(BudgetExhausted):
        while True:
            _, g = ev.loss_and_grad(x, batch=torch.arange(10))
            x = x - 0.1 * g
    ev.finalize()
    assert ev.points == 0  # checkpoints are not counted
    assert 5 <= len(ev.trace) <= 40
    assert ev.trace[-1].evaluations == pytest.approx(50.0)


def test_trace_and_first_hit_count_the_point_that_found_the_best_not_the_batch_end():
    problem = make_problem("sphere", {"dim": 2})  # target 1e-8
    ev = Evaluator(problem, Budget(evaluations=100))
    first, second = (problem.shift + 1.0).repeat(10, 1), (problem.shift + 1.0).repeat(10, 1)
    first[3] = problem.shift + 1e-3  # gap 2e-6: better, not on target
    second[6] = problem.shift  # on target: the 17th evaluation
    ev.evaluate(first)
    ev.evaluate(second)
    # every point that improved on all before it is in the trace, at its own evaluation count
    assert [(p.evaluations, p.best) for p in ev.trace] == [(1, 2.0), (4, pytest.approx(2e-6)), (17, 0.0)]
    assert ev.first_hit is not None and ev.first_hit.evaluations == 17
    ev.evaluate(second)  # later hits do not move the first one
    assert ev.first_hit.evaluations == 17


def test_first_hit_inside_a_batch_is_the_first_point_on_target_not_the_batch_minimum():
    problem = make_problem("sphere", {"dim": 1})  # target 1e-8
    ev = Evaluator(problem, Budget(evaluations=100))
    X = (problem.shift + torch.tensor([1.0, 0.5, 5e-5, 0.3, 1e-6, 0.0], dtype=torch.float64)).unsqueeze(1)
    ev.evaluate(X)  # gaps 1, 0.25, 2.5e-9 (on target: 3rd), 0.09, 1e-12, 0
    assert ev.first_hit is not None and ev.first_hit.evaluations == 3
    assert [p.evaluations for p in ev.trace] == [1, 2, 3, 5, 6]
    assert ev.best_value == 0.0 and float(ev.best_x[0]) == float(problem.shift[0])


def test_no_first_hit_without_a_known_optimum_or_before_the_target():
    unknown = make_problem("digits", {"hidden": 2})
    ev = Evaluator(unknown, Budget(evaluations=10))
    ev.evaluate(torch.zeros(3, unknown.space.dim))
    assert ev.first_hit is None and len(ev.trace) == 1
    sphere = make_problem("sphere", {"dim": 2})
    ev = Evaluator(sphere, Budget(evaluations=10))
    ev.evaluate(sphere.shift.unsqueeze(0) + 1e-3)
    assert ev.first_hit is None


@pytest.mark.parametrize("size", [4, 400])  # the small-batch loop and the vectorized path
def test_trace_never_records_a_point_worse_than_the_best_before_its_batch(size):
    problem = make_problem("sphere", {"dim": 1})
    ev = Evaluator(problem, Budget(evaluations=10_000))

    def at_gaps(gaps: torch.Tensor) -> torch.Tensor:  # sphere: the value is the squared distance
        return (problem.shift + gaps.to(torch.float64).sqrt()).unsqueeze(1)

    second = torch.full((size,), 3.0)
    second[:4] = torch.tensor([3.0, 2.0, 0.25, 0.01])  # 2 beats 3 but not the 1 before: no trace point
    ev.evaluate(at_gaps(torch.tensor([4.0, 1.0])))
    ev.evaluate(at_gaps(second))
    assert [(p.evaluations, p.best) for p in ev.trace] == [
        (1, pytest.approx(4.0)), (2, pytest.approx(1.0)), (5, pytest.approx(0.25)), (6, pytest.approx(0.01))]


class _UniformSphere(Problem):
    """The sphere with the UNIFORM_KERNEL contract in eager torch: row ``r`` of a draw comes from a
    generator seeded with ``(seed, offset + r)`` alone, so any row can be redrawn by itself."""

    family = "uniform_sphere"

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.space = Space(SpaceKind.CONTINUOUS, dim, (-1.0,) * dim, (1.0,) * dim)
        self.optimal_value, self.target = 0.0, 0.1  # about 1.6 % of the box is on target
        self.capabilities = frozenset({Capability.UNIFORM_KERNEL})
        self.fused: list[int] = []  # sizes of the fused calls
        self.redrawn: list[list[int]] = []  # rows asked of uniform_points

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        return (X * X).sum(dim=1)

    def uniform_points(self, rows: torch.Tensor, *, seed: int, offset: int) -> torch.Tensor:
        self.redrawn.append(rows.tolist())
        return self._draw(rows, seed, offset)

    def _draw(self, rows: torch.Tensor, seed: int, offset: int) -> torch.Tensor:
        d = self.space.dim
        u = [torch.rand(d, dtype=self.dtype, generator=torch.Generator().manual_seed(seed * 2**32 + offset + int(r)))
             for r in rows]
        return torch.stack(u) * 2 - 1 if u else torch.empty(0, d, dtype=self.dtype)

    def evaluate_uniform(self, n: int, *, seed: int, offset: int) -> torch.Tensor:
        self.fused.append(n)
        return self.evaluate(self._draw(torch.arange(n), seed, offset))


@pytest.mark.parametrize("lazy", [False, True])  # host bookkeeping, device records read when asked for
@pytest.mark.parametrize("size", [100, 10])  # the vectorized path and the small-batch loop
def test_evaluate_uniform_counts_cuts_and_traces_as_evaluate_of_the_same_points(size, lazy):
    problem, reference = _UniformSphere(), _UniformSphere()
    budget, batches = 4 * size + size // 2, 5
    fused = Evaluator(problem, Budget(evaluations=budget), lazy=lazy)
    plain = Evaluator(reference, Budget(evaluations=budget))
    seed, offsets = 7, [k * size for k in range(batches)]
    for offset in offsets[:-1]:
        values = fused.evaluate_uniform(size, seed=seed, offset=offset)
        assert torch.equal(values, plain.evaluate(reference._draw(torch.arange(size), seed, offset)))
    with pytest.raises(BudgetExhausted) as cut:
        fused.evaluate_uniform(size, seed=seed, offset=offsets[-1])
    with pytest.raises(BudgetExhausted) as cut_plain:
        plain.evaluate(reference._draw(torch.arange(size), seed, offsets[-1]))
    assert problem.fused == [size] * 4 + [size // 2]  # only the points that fit were evaluated
    assert torch.equal(cut.value.values, cut_plain.value.values) and cut.value.values.shape == (size // 2,)
    assert fused.evaluations == fused.points == budget
    with pytest.raises(BudgetExhausted):
        fused.evaluate_uniform(1, seed=seed, offset=batches * size)
    assert problem.fused == [size] * 4 + [size // 2]

    assert [(p.evaluations, p.best) for p in fused.trace] == [(p.evaluations, p.best) for p in plain.trace]
    assert len(fused.trace) >= 2
    hits = [None if ev.first_hit is None else (ev.first_hit.evaluations, ev.first_hit.best) for ev in (fused, plain)]
    assert hits[0] == hits[1]
    assert fused.best_value == plain.best_value
    # the best point is the row that scored best, redrawn by itself, once per improving batch at most
    everything = torch.cat([reference._draw(torch.arange(size), seed, o) for o in offsets])[:budget]
    best = int(reference.evaluate(everything).argmin())
    assert torch.equal(fused.best_x, everything[best]) and torch.equal(fused.best_x, plain.best_x)
    assert all(len(rows) == 1 for rows in problem.redrawn)
    assert 1 <= len(problem.redrawn) <= batches
    assert problem.redrawn[-1] == [best % size]


def test_evaluate_uniform_needs_the_capability():
    ev = Evaluator(make_problem("sphere", {"dim": 3}), Budget(evaluations=10))
    with pytest.raises(Unsupported, match="uniform"):
        ev.evaluate_uniform(5, seed=0, offset=0)
    assert ev.evaluations == 0


class _Programmed(Problem):
    """``f(x) = x[0]``: a batch's values are whatever its first column says (NaN included)."""

    family = "programmed"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device=device)
        self.space = Space(SpaceKind.CONTINUOUS, 2, (-1e9, -1e9), (1e9, 1e9))
        self.optimal_value, self.target = 0.0, 2.0  # values 0, 1 and 2 are hits

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        return X[:, 0].clone()


def _replay(lazy: bool | None, batches: list[torch.Tensor], limit: int | None = None,
            device: str = "cpu") -> Evaluator:
    ev = Evaluator(_Programmed(device), Budget(evaluations=sum(len(X) for X in batches)), lazy=lazy)
    for X in batches:
        ev.evaluate(X.to(device))
        if limit is not None and len(ev._observer._pending) >= limit:
            ev._observer.flush()  # as the bounded pending amount would, mid-run
    return ev


def _summary(ev: Evaluator) -> tuple:
    hit = ev.first_hit
    return ([(p.evaluations, p.best) for p in ev.trace], None if hit is None else (hit.evaluations, hit.best),
            ev.best_value, None if ev.best_x is None else ev.best_x.tolist())


def _programmed_batches(seed: int) -> list[torch.Tensor]:
    """40 batches of 1 to 199 points whose values drift down, with many ties and 10 % NaN."""
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(40):
        n = int(torch.randint(0, 3, (1,), generator=gen)) and int(torch.randint(1, 200, (1,), generator=gen))
        n = max(n, 1)
        level = 1000.0 / (1 + len(batches)) ** 1.5  # values drift down so that improvements keep coming
        values = torch.randint(0, int(level) + 3, (n,), generator=gen).to(torch.float64)  # many ties
        values[torch.rand(n, generator=gen) < 0.1] = math.nan
        if seed == 0 and not batches:
            values[:] = math.nan  # an all-NaN first batch still yields a best point
        X = torch.stack([values, torch.arange(n, dtype=torch.float64) + 1000 * len(batches)], dim=1)
        batches.append(X)
    return batches


@pytest.mark.parametrize("seed", range(6))
def test_lazy_device_bookkeeping_equals_the_eager_path(seed):
    """The lazy path (device records read when asked for) on CPU tensors gives the eager path's results:
    same trace points, first hit, best value and best point, with NaN, ties and every batch size."""
    batches = _programmed_batches(seed)
    eager = _summary(_replay(False, batches))
    assert eager == _summary(_replay(True, batches))
    assert eager == _summary(_replay(True, batches, limit=3))
    assert len(eager[0]) >= 3


def test_lazy_bookkeeping_of_gradients_and_deferred_checkpoints_equals_the_eager_path():
    problem = make_problem("linreg", {"n": 100, "d": 3})
    runs = []
    for lazy in (False, True):
        ev = Evaluator(problem, Budget(evaluations=30), lazy=lazy)
        x = torch.zeros(3, dtype=torch.float64)
        with pytest.raises(BudgetExhausted):
            for step in itertools.count():
                _, g = ev.loss_and_grad(x, batch=None if step % 7 == 3 else torch.arange(10) + step % 9 * 10)
                x = x - 0.05 * g
        ev.finalize()
        runs.append(_summary(ev))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) >= 5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("seed", range(3))
def test_lazy_bookkeeping_on_cuda_equals_the_eager_path_on_cpu(seed):
    batches = _programmed_batches(seed)
    cuda = _replay(None, batches, device="cuda")
    assert cuda._observer.lazy and len(cuda._observer._pending) == len(batches)  # nothing read before asked
    assert _summary(cuda) == _summary(_replay(False, batches))
    assert not cuda._observer._pending and cuda.best_x.device.type == "cuda"
