"""The evaluator: the only thing that counts, enforces budgets and keeps the anytime trace.

Optimizers receive an :class:`Evaluator` instead of the problem (the COCO / IOHprofiler
observer idea). Every call is priced with the cost convention in :mod:`optbench.api`; a call
that does not fit in the budget is cut or refused, so a budget cannot be exceeded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from optbench.api import (
    Budget,
    BudgetExhausted,
    Capability,
    Problem,
    Space,
    TracePoint,
    Unsupported,
)

_EPS = 1e-9  # float slack when turning a budget into whole cost units
_SMALL_BATCH = 64  # up to this many values, in-batch improvements are found by a Python loop
_UNREAD_LIMIT = 1_000_000  # improving batches' values kept before the trace is brought up to date


class Stopwatch:
    """Wall clock of the optimizer's own work; paused during untimed bookkeeping.

    Args:
        sync: called before reading the clock at start and stop (``torch.cuda.synchronize``
            on CUDA), so queued GPU work is charged to the region that launched it.
    """

    def __init__(self, *, sync: Callable[[], None] | None = None) -> None:
        self._sync = sync or (lambda: None)
        self._started: float | None = None
        self._paused_total = 0.0
        self._stopped: float | None = None

    def start(self) -> None:
        self._sync()
        self._started = time.perf_counter()

    def stop(self) -> float:
        self._sync()
        self._stopped = time.perf_counter()
        return self.elapsed()

    def elapsed(self) -> float:
        if self._started is None:
            return 0.0
        end = self._stopped if self._stopped is not None else time.perf_counter()
        return end - self._started - self._paused_total

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Exclude the enclosed work (e.g. checkpoint evaluations) from the measured time."""
        self._sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self._paused_total += time.perf_counter() - t0


class _Trace:
    """Best-so-far on improvement, thinned to the first and last improvement per log bucket.

    With ``per_decade`` buckets per decade of evaluations the trace stays small (at most two
    points per bucket) while the first time a level is reached is known to one bucket width.
    """

    def __init__(self, per_decade: int = 50) -> None:
        self.per_decade = per_decade
        self.points: list[TracePoint] = []
        self._pending: TracePoint | None = None
        self._last_bucket: int | None = None  # the bucket of points[-1]

    def _bucket(self, evaluations: float) -> int:
        return math.floor(math.log10(max(evaluations, 1.0)) * self.per_decade)

    def add(self, point: TracePoint) -> None:
        bucket = self._bucket(point.evaluations)
        if bucket == self._last_bucket:
            self._pending = point
            return
        if self._pending is not None:
            self.points.append(self._pending)
            self._pending = None
        self.points.append(point)
        self._last_bucket = bucket

    def snapshot(self) -> tuple[TracePoint, ...]:
        tail = (self._pending,) if self._pending is not None else ()
        return (*self.points, *tail)


def _steps(values: list[float], previous: float) -> list[tuple[int, float]]:
    """``(index, value)`` of each value below ``previous`` and every value before it (NaN never is)."""
    steps, best = [], previous
    for index, value in enumerate(values):
        if value < best:
            best = value
            steps.append((index, value))
    return steps


class _Draw:
    """The points of one fused uniform draw, redrawn by row on demand (they were never stored)."""

    __slots__ = ("offset", "problem", "seed")

    def __init__(self, problem: Problem, seed: int, offset: int) -> None:
        self.problem, self.seed, self.offset = problem, seed, offset

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Rows ``index`` (int64, shape ``(k,)``, on the problem's device) of the draw; shape ``(k, d)``."""
        return self.problem.uniform_points(index, seed=self.seed, offset=self.offset)


def _row(X: torch.Tensor | _Draw, index: int) -> torch.Tensor:
    """Row ``index`` of a batch, shape ``(d,)``: a copy (the caller may reuse ``X``), or redrawn."""
    if isinstance(X, _Draw):
        return X.rows(torch.tensor([index], dtype=torch.int64, device=X.problem.device))[0]
    return X[index].detach().clone()


class Evaluator:
    """Counts, prices and budgets every access an optimizer makes to a problem.

    Args:
        problem: the problem instance (never handed to the optimizer).
        budget: evaluations (cost units) and/or seconds.
        stopwatch: the runner's clock; the time budget and the trace's seconds axis read it.
        checkpoints_per_decade: how often minibatch methods get an untimed, uncounted
            full-objective evaluation of their iterate for the trace.
    """

    def __init__(
        self,
        problem: Problem,
        budget: Budget,
        *,
        stopwatch: Stopwatch | None = None,
        checkpoints_per_decade: int = 10,
    ) -> None:
        self._problem = problem
        self._dim = problem.space.dim
        self.budget = budget
        self.stopwatch = stopwatch or Stopwatch()
        # Costs are kept exactly, as integers in units of 1/n_examples, so fractional minibatch
        # costs never drift past the budget through float rounding.
        self._unit = problem.n_examples or 1
        self._spent = 0
        self._gradient_spent = 0
        self._limit = (
            None if budget.evaluations is None else math.floor(budget.evaluations * self._unit + _EPS)
        )
        self.points = 0
        self.examples = 0
        self.best_value = math.inf
        self.best_x: torch.Tensor | None = None
        self.last_x: torch.Tensor | None = None  # last iterate of a gradient method
        self._trace = _Trace()
        self._optimum = None if problem.optimal_value is None else float(problem.optimal_value)
        self._target = float(problem.target)
        self._first_hit: TracePoint | None = None
        # Improving batches whose in-batch improvements are not yet in the trace: (start, values,
        # best before the batch, seconds). Worked out when the trace is read, outside the hot loop.
        self._unread: list[tuple[int, torch.Tensor, float, float]] = []
        self._unread_size = 0
        self._checkpoint_every = 10 ** (1 / checkpoints_per_decade)
        self._next_checkpoint = 0.0
        self._last_checkpoint: float | None = None

    # ------------------------------------------------------------------ what optimizers see
    @property
    def space(self) -> Space:
        return self._problem.space

    @property
    def dim(self) -> int:
        return self._problem.space.dim

    @property
    def device(self) -> torch.device:
        return self._problem.device

    @property
    def dtype(self) -> torch.dtype:
        return self._problem.dtype

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._problem.capabilities

    @property
    def n_examples(self) -> int | None:
        return self._problem.n_examples

    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Box bounds, each of shape ``(d,)``, on the problem's device and dtype."""
        return self.space.bounds(device=self.device, dtype=self.dtype)

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        """The problem's random starting point, shape ``(d,)``; costs nothing."""
        return self._problem.initial_point(generator)

    @property
    def evaluations(self) -> float:
        """Cost spent so far (see the cost convention in :mod:`optbench.api`)."""
        return self._spent / self._unit

    @property
    def gradient_evaluations(self) -> float:
        return self._gradient_spent / self._unit

    @property
    def remaining(self) -> float:
        """Cost units left (``inf`` under a time-only budget)."""
        if self._limit is None:
            return math.inf
        return (self._limit - self._spent) / self._unit

    def _fits(self, units: int) -> bool:
        return self._limit is None or self._spent + units <= self._limit

    @property
    def trace(self) -> tuple[TracePoint, ...]:
        self._read_improvements()
        return self._trace.snapshot()

    @property
    def first_hit(self) -> TracePoint | None:
        """When the best first came within target of the optimum (``None``: never, or no known optimum)."""
        self._read_improvements()
        return self._first_hit

    def recommendation(self) -> torch.Tensor | None:
        """The best evaluated point, else the last gradient iterate, else ``None``."""
        return self.best_x if self.best_x is not None else self.last_x

    # ------------------------------------------------------------------ priced calls
    def evaluate(self, X: torch.Tensor) -> torch.Tensor:
        """Objective values of a batch; costs one unit per point.

        Args:
            X: candidates, shape ``(n, d)``.

        Returns:
            Values, shape ``(n,)``, on the problem's device.

        Raises:
            BudgetExhausted: the budget is spent; when the batch crossed it, the points that
                fit were evaluated and their values are on the exception.
        """
        if self.budget.seconds is not None:
            self._check_time()
        if X.ndim != 2 or X.shape[1] != self._dim:
            raise ValueError(f"evaluate expects shape (n, {self._dim}), got {tuple(X.shape)}")
        n = X.shape[0]
        fit = n if self._limit is None else min(n, (self._limit - self._spent) // self._unit)
        if fit <= 0 and n > 0:
            raise BudgetExhausted(f"evaluation budget of {self.budget.evaluations:g} spent")
        if fit < n:
            X = X[:fit]
        values = self._problem.evaluate(X)
        start = self._spent
        self._spent += fit * self._unit
        self.points += fit
        self._observe(X, values, start=start)
        if fit < n:
            raise BudgetExhausted(f"evaluation budget spent after {fit} of {n} points", values=values)
        return values

    def evaluate_uniform(self, n: int, *, seed: int, offset: int) -> torch.Tensor:
        """Values of ``n`` uniform points drawn and evaluated by the problem in one fused pass.

        Priced, budgeted and traced exactly as :meth:`evaluate` of the points that
        ``problem.uniform_points`` gives for rows ``0 .. n-1``; the points are never stored, and
        the best one is redrawn from its row only when a batch improves on the best.

        Args:
            n: how many points (each costs one unit).
            seed, offset: the draw (see :meth:`optbench.api.Problem.evaluate_uniform`).

        Returns:
            Values, shape ``(n,)``, on the problem's device.

        Raises:
            Unsupported: the problem has no fused uniform kernel (``Capability.UNIFORM_KERNEL``).
            BudgetExhausted: as :meth:`evaluate`; a cut batch is rows ``0 .. fit-1`` of the draw.
        """
        problem = self._problem
        if Capability.UNIFORM_KERNEL not in problem.capabilities:
            raise Unsupported(f"{problem.id} has no fused uniform kernel")
        if self.budget.seconds is not None:
            self._check_time()
        if n < 0:
            raise ValueError(f"evaluate_uniform expects n >= 0, got {n}")
        fit = n if self._limit is None else min(n, (self._limit - self._spent) // self._unit)
        if fit <= 0 and n > 0:
            raise BudgetExhausted(f"evaluation budget of {self.budget.evaluations:g} spent")
        values = problem.evaluate_uniform(fit, seed=seed, offset=offset)
        start = self._spent
        self._spent += fit * self._unit
        self.points += fit
        self._observe(_Draw(problem, seed, offset), values, start=start)
        if fit < n:
            raise BudgetExhausted(f"evaluation budget spent after {fit} of {n} points", values=values)
        return values

    def loss_and_grad(
        self, x: torch.Tensor, *, batch: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and gradient at one point; costs ``len(batch) / n_examples`` or 1 (full).

        Args:
            x: the point, shape ``(d,)``.
            batch: indices of examples, shape ``(b,)``, for a minibatch estimate on MINIBATCH
                problems; ``None`` for the full objective.

        Returns:
            ``(loss, grad)``: a 0-d tensor and a tensor of shape ``(d,)``, both detached.

        Raises:
            BudgetExhausted: the call does not fit in what is left (nothing is evaluated;
                a gradient cannot be cut).
            Unsupported: the problem is not differentiable.
        """
        # The hot path of every gradient method: a few microseconds of Python here are a percent
        # of a small training step, so attributes are read once and no context is entered needlessly.
        problem = self._problem
        if Capability.DIFFERENTIABLE not in problem.capabilities:
            raise Unsupported(f"{problem.id} is not differentiable")
        if self.budget.seconds is not None:
            self._check_time()
        units = size = self._unit if batch is None else batch.numel()
        if self._limit is not None and self._spent + units > self._limit:
            raise BudgetExhausted(f"a gradient costing {units / self._unit:g} does not fit in {self.remaining:g}")
        point = x.detach()
        if point.dtype != problem.dtype or point.device != problem.device:
            point = point.to(device=problem.device, dtype=problem.dtype)
        point.requires_grad_(True)
        if torch.is_grad_enabled():
            loss = problem.loss(point, batch=batch)
            (grad,) = torch.autograd.grad(loss, point)
        else:
            with torch.enable_grad():
                loss = problem.loss(point, batch=batch)
                (grad,) = torch.autograd.grad(loss, point)
        loss = loss.detach()
        self._spent += units
        self._gradient_spent += units
        self.examples += size
        self.last_x = point.detach()
        if batch is None:
            self._last_checkpoint = self.evaluations
            self._observe(self.last_x.unsqueeze(0), loss.reshape(1))
        elif self.evaluations >= self._next_checkpoint:
            self._checkpoint(self.last_x)
        return loss, grad

    def least_squares(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, b)`` of a LINEAR_LEAST_SQUARES problem; reading the data costs one full pass."""
        self._check_time()
        if not self._fits(self._unit):
            raise BudgetExhausted("reading the data costs 1 evaluation and none is left")
        A, b = self._problem.least_squares()
        self._spent += self._unit
        self.examples += int(A.shape[0])
        return A, b

    # ------------------------------------------------------------------ bookkeeping
    def _check_time(self) -> None:
        limit = self.budget.seconds
        if limit is not None and self.stopwatch.elapsed() >= limit:
            raise BudgetExhausted(f"time budget of {limit:g} s spent")

    def _observe(self, X: torch.Tensor | _Draw, values: torch.Tensor, *, start: int | None = None,
                 seconds: float | None = None) -> None:
        """Track the best point and add a trace point when the batch improves on it.

        With ``start`` (the units spent before a batch of one-unit points) the trace point is
        placed at the evaluation that found the best value, as COCO counts, not at the batch's end.
        Small CPU batches are walked at once (:meth:`_observe_small`); a larger improving batch is
        only noted here (a copy of its values, on its device: no host sync) and its in-batch
        improvements enter the trace when the trace or the first hit is read.
        ``seconds`` is the optimizer time to record (default: now).
        """
        n = values.numel()
        if n == 0:
            return
        if start is not None and 1 < n <= _SMALL_BATCH and values.device.type == "cpu":
            self._observe_small(X, values, start, seconds)
            return
        if values.device.type == "cpu":  # zero-copy view; NumPy's reduction has far less overhead
            array = values.detach().numpy()
            best_index = int(array.argmin())  # NumPy's argmin stops at the first NaN ...
            best_value = float(array[best_index])
            if best_value != best_value and n > 1:  # ... so only then mask NaN out
                best_index = int(np.where(np.isnan(array), np.inf, array).argmin())
                best_value = float(array[best_index])
        else:  # one host sync for value and index together
            clean = torch.nan_to_num(values.detach().to(torch.float64), nan=math.inf)
            best, index = torch.min(clean, dim=0)
            best_value, best_index = torch.stack([best, index.to(torch.float64)]).tolist()
        if math.isnan(best_value):
            best_value = math.inf
        if not (best_value < self.best_value or self.best_x is None):
            return  # the common case: nothing better in this batch
        self.best_x = _row(X, int(best_index))
        if seconds is None:
            seconds = self.stopwatch.elapsed()
        if start is None or n == 1:
            self._read_improvements()  # keep the trace in evaluation order
            at = self.evaluations if start is None else (start + (int(best_index) + 1) * self._unit) / self._unit
            self._record(at, seconds, best_value)
        else:  # a copy: the caller may change `values` in place
            self._unread.append((start, values.detach().clone(), self.best_value, seconds))
            self._unread_size += n
            if self._unread_size > _UNREAD_LIMIT:
                self._read_improvements()
        self.best_value = best_value

    def _observe_small(self, X: torch.Tensor | _Draw, values: torch.Tensor, start: int, seconds: float | None) -> None:
        """:meth:`_observe` for a small CPU batch (a CMA-ES generation): one pass over its values.

        Walking ten values in Python costs less than NumPy's reductions, and improvements go into
        the trace at once, so nothing is copied for later.
        """
        steps = _steps(values.detach().numpy().tolist(), self.best_value)
        if not steps:
            if self.best_x is None:  # every value NaN: keep a point all the same, as the general path does
                self.best_x = _row(X, 0)
            return
        if seconds is None:
            seconds = self.stopwatch.elapsed()
        self._read_improvements()  # keep the trace in evaluation order
        for index, value in steps:
            self._record((start + (index + 1) * self._unit) / self._unit, seconds, value)
        index, self.best_value = steps[-1]
        self.best_x = _row(X, index)

    def _record(self, evaluations: float, seconds: float, value: float) -> None:
        point = TracePoint(evaluations, seconds, value)
        self._trace.add(point)
        if self._first_hit is None and self.reaches_target(value):
            self._first_hit = point

    def _read_improvements(self) -> None:
        """Add every point of the unread improving batches that beat all before it, in evaluation order.

        Each lands at its own evaluation count, as COCO counts, with its batch's time.
        """
        for start, values, previous, seconds in self._unread:
            for index, value in self._running_improvements(values, previous):
                self._record((start + (index + 1) * self._unit) / self._unit, seconds, value)
        self._unread.clear()
        self._unread_size = 0

    @staticmethod
    def _running_improvements(values: torch.Tensor, previous: float) -> list[tuple[int, float]]:
        """``(index, value)`` of each point that beat every point before it (and ``previous``).

        Only batches that improve the best get here, so the transfer of a GPU batch is rare.
        Small batches (CMA-ES generations) take a plain loop: a few microseconds where NumPy's
        machinery costs fifteen, and a population method improves in most generations.
        """
        if values.numel() <= _SMALL_BATCH:
            return _steps(values.detach().cpu().tolist(), previous)
        array = values.detach().to(torch.float64).cpu().numpy()
        clean = np.where(np.isnan(array), np.inf, array)
        # the running best starts from `previous`: a point worse than the best before the batch never counts
        running = np.minimum.accumulate(np.concatenate([[previous], clean]))
        improved = np.nonzero(running[1:] < running[:-1])[0]
        return [(int(i), float(running[i + 1])) for i in improved]

    def reaches_target(self, value: float) -> bool:
        """Whether ``value`` is within the problem's target of its known optimum (the success test)."""
        return self._optimum is not None and value - self._optimum <= self._target

    def _checkpoint(self, x: torch.Tensor) -> None:
        """Full objective of a minibatch iterate, untimed and uncounted, for the trace.

        Its bookkeeping is untimed too; the trace point carries the time the iterate was reached.
        """
        seconds = self.stopwatch.elapsed()
        with self.stopwatch.paused(), torch.no_grad():
            # the full loss through the code path of the training steps (not the batched objective,
            # which runs a vmapped copy of the model): less memory touched, warm code for the next step
            value = self._problem.loss(x).reshape(1)
            self._last_checkpoint = self.evaluations
            self._next_checkpoint = max(self.evaluations * self._checkpoint_every, self.evaluations + _EPS)
            self._observe(x.unsqueeze(0), value, seconds=seconds)

    def finalize(self) -> None:
        """Checkpoint the last minibatch iterate (called by the runner after the clock stops)."""
        if self.last_x is not None and self._last_checkpoint != self.evaluations:
            self._checkpoint(self.last_x)
