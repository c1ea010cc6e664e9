"""The evaluator: the only thing that counts, enforces budgets and keeps the anytime trace.

Optimizers receive an :class:`Evaluator` instead of the problem (the COCO / IOHprofiler
observer idea). Every call is priced with the cost convention in :mod:`optbench.api`; a call
that does not fit in the budget is cut or refused, so a budget cannot be exceeded.

A refusal (:class:`~optbench.api.BudgetExhausted`) ends ``minimize``. An optimizer that catches it
and calls again would loop forever; after :data:`REFUSALS` refusals the evaluator raises
:class:`BudgetIgnoredError` instead, which no ``except BudgetExhausted`` catches, and the trial is FAILED
with that reason. (One that catches every exception is stopped only by its hard time limit.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from optbench.api import (
    Budget,
    BudgetExhausted,
    Capability,
    OptbenchError,
    Problem,
    Space,
    TracePoint,
    Unsupported,
)
from optbench.observer import Draw, Observer

_EPS = 1e-9  # float slack when turning a budget into whole cost units
# calls refused for want of budget before the evaluator concludes the optimizer swallows the refusals:
# a well-behaved one stops at the first (a cut batch's values ride on it), a few are harmless
REFUSALS = 100


class BudgetIgnoredError(OptbenchError):
    """The optimizer kept calling the evaluator after :class:`~optbench.api.BudgetExhausted` refused it."""


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

    @property
    def running(self) -> bool:
        return self._started is not None and self._stopped is None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Exclude the enclosed work (e.g. checkpoint evaluations) from the measured time.

        Outside the timed region (before start, after stop) there is nothing to exclude.
        """
        if not self.running:
            yield
            return
        self._sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self._paused_total += time.perf_counter() - t0


class Evaluator:
    """Counts, prices and budgets every access an optimizer makes to a problem.

    Args:
        problem: the problem instance (never handed to the optimizer).
        budget: evaluations (cost units) and/or seconds.
        stopwatch: the runner's clock; the time budget and the trace's seconds axis read it.
        checkpoints_per_decade: how often minibatch methods get an untimed, uncounted
            full-objective evaluation of their iterate for the trace (deferred: see
            :mod:`optbench.observer`).
        lazy: keep the best point and the trace's raw material on the problem's device, read in
            one transfer when asked for (no host sync per call); default: on any device but the CPU.
            The results are identical either way.
    """

    def __init__(
        self,
        problem: Problem,
        budget: Budget,
        *,
        stopwatch: Stopwatch | None = None,
        checkpoints_per_decade: int = 10,
        lazy: bool | None = None,
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
        self.last_x: torch.Tensor | None = None  # last iterate of a gradient method
        self._observer = Observer(problem, unit=self._unit,
                                  lazy=problem.device.type != "cpu" if lazy is None else lazy,
                                  elapsed=self.stopwatch.elapsed, paused=self.stopwatch.paused)
        self._observe = self._observer.observe
        self._checkpoint_every = 10 ** (1 / checkpoints_per_decade)
        self._next_checkpoint = 0.0
        self._last_checkpoint: float | None = None
        self.refusals = 0  # calls refused with BudgetExhausted so far

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
    def best_value(self) -> float:
        """The best value evaluated so far (``inf`` before any); reading it brings the record up to date."""
        return self._observer.best_value

    @property
    def best_x(self) -> torch.Tensor | None:
        """The point that scored :attr:`best_value`, shape ``(d,)`` (``None`` before any evaluation)."""
        return self._observer.best_x

    @property
    def trace(self) -> tuple[TracePoint, ...]:
        return self._observer.trace

    @property
    def first_hit(self) -> TracePoint | None:
        """When the best first came within target of the optimum (``None``: never, or no known optimum)."""
        return self._observer.first_hit

    def reaches_target(self, value: float) -> bool:
        """Whether ``value`` is within the problem's target of its known optimum (the success test)."""
        return self._observer.reaches_target(value)

    def recommendation(self) -> torch.Tensor | None:
        """The best evaluated point, else the last gradient iterate, else ``None``."""
        best = self._observer.best_x
        return best if best is not None else self.last_x

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
            raise self._refuse(f"evaluation budget of {self.budget.evaluations:g} spent")
        if fit < n:
            X = X[:fit]
        values = self._problem.evaluate(X)
        start = self._spent
        self._spent += fit * self._unit
        self.points += fit
        self._observe(X, values, start=start, at=0.0)
        if fit < n:
            raise self._refuse(f"evaluation budget spent after {fit} of {n} points", values=values)
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
            raise self._refuse(f"evaluation budget of {self.budget.evaluations:g} spent")
        values = problem.evaluate_uniform(fit, seed=seed, offset=offset)
        start = self._spent
        self._spent += fit * self._unit
        self.points += fit
        self._observe(Draw(problem, seed, offset), values, start=start, at=0.0)
        if fit < n:
            raise self._refuse(f"evaluation budget spent after {fit} of {n} points", values=values)
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
            raise self._refuse(f"a gradient costing {units / self._unit:g} does not fit in {self.remaining:g}")
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
            self._observe(self.last_x.unsqueeze(0), loss.reshape(1), start=None, at=self.evaluations)
        elif self.evaluations >= self._next_checkpoint:
            self._checkpoint(self.last_x)
        return loss, grad

    def least_squares(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, b)`` of a LINEAR_LEAST_SQUARES problem; reading the data costs one full pass."""
        self._check_time()
        if not self._fits(self._unit):
            raise self._refuse("reading the data costs 1 evaluation and none is left")
        A, b = self._problem.least_squares()
        self._spent += self._unit
        self.examples += int(A.shape[0])
        return A, b

    # ------------------------------------------------------------------ bookkeeping
    def _check_time(self) -> None:
        limit = self.budget.seconds
        if limit is not None and self.stopwatch.elapsed() >= limit:
            raise self._refuse(f"time budget of {limit:g} s spent")

    def _refuse(self, message: str, *, values: torch.Tensor | None = None) -> OptbenchError:
        """The exception refusing a call: :class:`BudgetExhausted`, or :class:`BudgetIgnoredError` once the
        optimizer has been refused :data:`REFUSALS` times and keeps calling."""
        self.refusals += 1
        if self.refusals > REFUSALS:
            return BudgetIgnoredError(f"the optimizer called the evaluator {self.refusals - 1} times after "
                                      f"BudgetExhausted ({message}) instead of returning: it catches and ignores "
                                      "BudgetExhausted, which must end minimize")
        return BudgetExhausted(message, values=values)

    def _checkpoint(self, x: torch.Tensor) -> None:
        """Full objective of a minibatch iterate, untimed and uncounted, for the trace.

        Deferred: a copy of ``x`` is kept with the time and evaluation count it was reached at, and
        the pending iterates are evaluated together with the batched objective when the trace is read.
        """
        evaluations = self._spent / self._unit
        self._observer.checkpoint(x, at=evaluations, seconds=self.stopwatch.elapsed())
        self._last_checkpoint = evaluations
        self._next_checkpoint = max(evaluations * self._checkpoint_every, evaluations + _EPS)

    def finalize(self) -> None:
        """Checkpoint the last minibatch iterate (called by the runner after the clock stops)."""
        if self.last_x is not None and self._last_checkpoint != self.evaluations:
            self._checkpoint(self.last_x)
        self._observer.read()
