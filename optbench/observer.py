"""The evaluator's record of what it saw: the best point, the anytime trace and the first hit.

Two ways to keep it, with identical results:

- **eager** (CPU batches, host memory): each batch's minimum is read at once (NumPy, no copy) and
  improvements enter the trace as they happen;
- **lazy** (a GPU, or any device where reading a value waits for the queue): each batch leaves a
  small record on the device — its values with NaN made ``inf``, their minimum and the row that
  scored it — in three kernel launches and no host synchronisation. The records are read in one
  transfer when the trace, the best value or the best point is asked for, or when a bounded amount
  of them is pending, and walked in evaluation order exactly as the eager path would have.

Full-objective checkpoints of minibatch iterates are deferred in both modes: the iterate is copied
(a device copy of ``x``) with the time and evaluation count at which it was reached, and the pending
iterates are evaluated together with the problem's batched objective, untimed, when the record is
read or another observation follows — one pass over the data for many iterates (a matrix product
where each would be a matrix-vector product) instead of one pass each between training steps. The
grouping depends only on the sequence of calls, so a trial's trace is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from optbench.api import Problem, TracePoint

SMALL_BATCH = 64  # up to this many values, in-batch improvements are found by a Python loop
PENDING_LIMIT = 1 << 22  # elements (values, rows, iterates) held before the record is brought up to date
# what a lazy record counts for besides its elements: its three small device tensors take a block of the
# caching allocator each, so at most PENDING_LIMIT / RECORD_COST (4,096) records pend, one sync per 4,096 calls
RECORD_COST = 1024


class Trace:
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
        self._add(point, self._bucket(point.evaluations))

    def add_steps(self, steps: list[tuple[float, float]], seconds: float) -> None:
        """:meth:`add` of ``TracePoint(evaluations, seconds, value)`` for each ``(evaluations, value)``, skipping
        what thinning drops at once (a point after its bucket's first, followed by one in the same bucket)."""
        buckets = [self._bucket(evaluations) for evaluations, _ in steps]
        last = len(steps) - 1
        for k, (evaluations, value) in enumerate(steps):
            bucket = buckets[k]
            if k < last and bucket == self._last_bucket and buckets[k + 1] == bucket:
                continue
            self._add(TracePoint(evaluations, seconds, value), bucket)

    def _add(self, point: TracePoint, bucket: int) -> None:
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


def steps(values: list[float], previous: float) -> list[tuple[int, float]]:
    """``(index, value)`` of each value below ``previous`` and every value before it (NaN never is)."""
    found, best = [], previous
    for index, value in enumerate(values):
        if value < best:
            best = value
            found.append((index, value))
    return found


def running_improvements(values: np.ndarray, previous: float) -> list[tuple[int, float]]:
    """:func:`steps` of a float array, vectorized: ``(index, value)`` of each point that beat all before it."""
    if values.size <= SMALL_BATCH:
        return steps(values.tolist(), previous)
    clean = np.where(np.isnan(values), np.inf, values)
    # the running best starts from `previous`: a point worse than the best before the batch never counts
    running = np.minimum.accumulate(np.concatenate([[previous], clean]))
    improved = np.nonzero(running[1:] < running[:-1])[0]
    return [(int(i), float(running[i + 1])) for i in improved]


class Draw:
    """The points of one fused uniform draw, redrawn by row on demand (they were never stored)."""

    __slots__ = ("offset", "problem", "seed")

    def __init__(self, problem: Problem, seed: int, offset: int) -> None:
        self.problem, self.seed, self.offset = problem, seed, offset

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Rows ``index`` (int64, shape ``(k,)``, on the problem's device) of the draw; shape ``(k, d)``."""
        return self.problem.uniform_points(index, seed=self.seed, offset=self.offset)


Points = torch.Tensor | Draw


def _row(X: Points, index: int) -> torch.Tensor:
    """Row ``index`` of a batch, shape ``(d,)``: a copy (the caller may reuse ``X``), or redrawn."""
    if isinstance(X, Draw):
        return X.rows(torch.tensor([index], dtype=torch.int64, device=X.problem.device))[0]
    return (X.detach() if X.requires_grad else X)[index].clone()


# A pending lazy record: (start, at, clean values (n,), their minimum (1,), row, seconds).
# ``start`` is the units spent before a batch of one-unit points (None: one point at ``at`` evaluations);
# ``row`` is the best row (1, d), or (draw, index) to redraw it.
_Record = tuple[int | None, float, Any, Any, Any, float]


class Observer:
    """Tracks the best value and point, the thinned trace and the first hit, eagerly or lazily.

    Args:
        problem: evaluates deferred checkpoints with its batched objective.
        unit: cost units per evaluation (``n_examples`` for minibatch problems, else 1).
        lazy: keep records on the device until read (see the module docstring).
        elapsed: the optimizer's clock (seconds so far).
        paused: a context in which work is not charged to the optimizer (the stopwatch's pause).
    """

    def __init__(self, problem: Problem, *, unit: int, lazy: bool, elapsed: Callable[[], float],
                 paused: Callable[[], AbstractContextManager[None]]) -> None:
        self._problem = problem
        self._unit = unit
        self.lazy = lazy
        self._elapsed = elapsed
        self._paused = paused
        self._best_value = math.inf
        self._best_x: torch.Tensor | None = None
        self._trace = Trace()
        self._optimum = None if problem.optimal_value is None else float(problem.optimal_value)
        self._target = float(problem.target)
        self._first_hit: TracePoint | None = None
        # Eager improving batches whose in-batch improvements are not yet in the trace: (start, values,
        # best before the batch, seconds). Worked out when the trace is read, outside the hot loop.
        self._unread: list[tuple[int, np.ndarray, float, float]] = []
        self._unread_size = 0
        self._pending: list[_Record] = []  # lazy records, in evaluation order
        self._pending_size = 0
        # deferred checkpoints (at, seconds, iterate (d,)): evaluated together before any later observation
        # and whenever the record is read, so they are grouped the same way in both modes
        self._iterates: list[tuple[float, float, torch.Tensor]] = []
        self._iterates_size = 0

    # ------------------------------------------------------------------ reading (brings the record up to date)
    @property
    def best_value(self) -> float:
        if self._pending or self._iterates:
            self.flush()
        return self._best_value

    @property
    def best_x(self) -> torch.Tensor | None:
        if self._pending or self._iterates:
            self.flush()
        return self._best_x

    @property
    def trace(self) -> tuple[TracePoint, ...]:
        self.read()
        return self._trace.snapshot()

    @property
    def first_hit(self) -> TracePoint | None:
        self.read()
        return self._first_hit

    def read(self) -> None:
        """Bring everything into the trace: checkpoints, pending records and unread improving batches."""
        if self._pending or self._iterates:
            self.flush()
        if self._unread:
            self._read_improvements()

    def reaches_target(self, value: float) -> bool:
        """Whether ``value`` is within the problem's target of its known optimum (the success test)."""
        return self._optimum is not None and value - self._optimum <= self._target

    # ------------------------------------------------------------------ observing
    def observe(self, X: Points, values: torch.Tensor, *, start: int | None, at: float) -> None:
        """Track the best point and the trace after a batch ``X`` (``(n, d)`` or a draw) scored ``values`` (``(n,)``).

        With ``start`` (the units spent before a batch of one-unit points) a trace point is placed
        at the evaluation that found its value, as COCO counts, not at the batch's end; without it
        (one point, e.g. a full-batch loss) at ``at`` evaluations.
        """
        if self._iterates:  # deferred checkpoints come first in evaluation order
            self._evaluate_checkpoints()
        if self.lazy:
            self._note(X, values, start, at)
        else:
            self._observe_now(X, values, start, at)

    def checkpoint(self, x: torch.Tensor, *, at: float, seconds: float) -> None:
        """Defer the full objective of iterate ``x`` (``(d,)``), reached at ``at`` evaluations and ``seconds``."""
        self._iterates.append((at, seconds, x.detach().clone()))
        self._iterates_size += x.numel()
        if self._iterates_size > PENDING_LIMIT:
            self._evaluate_checkpoints()

    def _evaluate_checkpoints(self) -> None:
        """Evaluate the deferred iterates together with the batched objective (untimed) and observe them."""
        iterates, self._iterates, self._iterates_size = self._iterates, [], 0
        with self._paused(), torch.no_grad():
            X = torch.stack([x for _, _, x in iterates])
            values = self._problem.evaluate(X).detach()
        if self.lazy:  # one-point records, no kernel launched per checkpoint
            clean = torch.nan_to_num(values, nan=math.inf, posinf=math.inf, neginf=-math.inf)
            for j, (at, seconds, _) in enumerate(iterates):
                self._pending.append((None, at, clean[j : j + 1], clean[j : j + 1], X[j : j + 1], seconds))
            self._pending_size += values.numel() * (2 + X.shape[1] + RECORD_COST)
        else:
            for j, (at, seconds, _) in enumerate(iterates):
                self._observe_now(X[j : j + 1], values[j : j + 1], None, at, seconds)

    def _note(self, X: Points, values: torch.Tensor, start: int | None, at: float) -> None:
        """Lazy path: a device record of the batch, no host sync (nan_to_num, min, index_select)."""
        if values.requires_grad:
            values = values.detach()
        n = values.shape[0]
        if n == 0:
            return
        clean = torch.nan_to_num(values, nan=math.inf, posinf=math.inf, neginf=-math.inf)
        low, index = torch.min(clean, 0, keepdim=True)  # the first index of the minimum
        if isinstance(X, Draw):
            row: Any = (X, index)
        else:
            if X.device != index.device:
                index = index.to(X.device)
            row = (X.detach() if X.requires_grad else X).index_select(0, index)
        self._pending.append((start, at, clean, low, row, self._elapsed()))
        self._pending_size += n + (row.numel() if isinstance(row, torch.Tensor) else 1) + RECORD_COST
        if self._pending_size > PENDING_LIMIT:
            self.flush()

    def _observe_now(self, X: Points, values: torch.Tensor, start: int | None, at: float,
                     seconds: float | None = None) -> None:
        """Eager path (host memory): the batch's minimum now; in-batch improvements when the trace is read."""
        n = values.numel()
        if n == 0:
            return
        if values.requires_grad:
            values = values.detach()
        array = values.numpy() if values.is_cpu else values.cpu().numpy()
        if start is not None and 1 < n <= SMALL_BATCH:
            self._observe_small(X, array, start)
            return
        best_index = int(array.argmin())  # NumPy's argmin stops at the first NaN ...
        best_value = float(array[best_index])
        if best_value != best_value:
            if n > 1:  # ... so only then mask NaN out
                best_index = int(np.where(np.isnan(array), np.inf, array).argmin())
                best_value = float(array[best_index])
            if best_value != best_value:
                best_value = math.inf
        if not (best_value < self._best_value or self._best_x is None):
            return  # the common case: nothing better in this batch
        self._best_x = _row(X, best_index)
        if seconds is None:
            seconds = self._elapsed()
        if start is None or n == 1:
            if self._unread:
                self._read_improvements()  # keep the trace in evaluation order
            self._record(at if start is None else (start + (best_index + 1) * self._unit) / self._unit,
                         seconds, best_value)
        else:  # a copy: the caller may change `values` in place
            self._unread.append((start, array.copy(), self._best_value, seconds))
            self._unread_size += n
            if self._unread_size > PENDING_LIMIT:
                self._read_improvements()
        self._best_value = best_value

    def _observe_small(self, X: Points, array: np.ndarray, start: int) -> None:
        """:meth:`_observe_now` for a small batch (a CMA-ES generation): one pass over its values.

        Walking ten values in Python costs less than NumPy's reductions, and improvements go into
        the trace at once, so nothing is copied for later.
        """
        found = steps(array.tolist(), self._best_value)
        if not found:
            if self._best_x is None:  # every value NaN: keep a point all the same, as the general path does
                self._best_x = _row(X, 0)
            return
        seconds = self._elapsed()
        if self._unread:
            self._read_improvements()  # keep the trace in evaluation order
        self._record_steps(start, found, seconds)
        index, self._best_value = found[-1]
        self._best_x = _row(X, index)

    # ------------------------------------------------------------------ bringing the record up to date
    def _record(self, evaluations: float, seconds: float, value: float) -> None:
        point = TracePoint(evaluations, seconds, value)
        self._trace.add(point)
        if self._first_hit is None and self.reaches_target(value):
            self._first_hit = point

    def _record_steps(self, start: int, found: list[tuple[int, float]], seconds: float) -> None:
        """:meth:`_record` of each in-batch improvement ``(index, value)`` of a batch that started after ``start``
        units, all at the batch's ``seconds``."""
        unit = self._unit
        steps = [((start + (index + 1) * unit) / unit, value) for index, value in found]
        self._trace.add_steps(steps, seconds)
        if self._first_hit is None and self._optimum is not None:
            for evaluations, value in steps:
                if self.reaches_target(value):
                    self._first_hit = TracePoint(evaluations, seconds, value)
                    break

    def _read_improvements(self) -> None:
        """Add every point of the unread improving batches that beat all before it, in evaluation order.

        Each lands at its own evaluation count, as COCO counts, with its batch's time.
        """
        for start, values, previous, seconds in self._unread:
            self._record_steps(start, running_improvements(values, previous), seconds)
        self._unread.clear()
        self._unread_size = 0

    @staticmethod
    def _steps_on_device(improving: list[tuple[_Record, float, float]]) -> dict[int, list[tuple[int, float]]]:
        """In-batch improvements of the improving records, ``{k: [(index, value), ...]}``, found on the device.

        One running minimum over the improving records' values in evaluation order, started from the
        best before the first of them, steps exactly where each record's own walk from the best before
        it would (records between them improve on nothing, so they cannot move the running minimum).
        Only the steps cross to the host: a population method improves in most generations, and
        copying every value of every improving generation to walk it in NumPy cost more than the
        generations themselves. Steps of one-value records are left out: their point is recorded as is.
        """
        values = [record[2].reshape(-1) for record, _, _ in improving]
        multi = [k for k, (record, _, _) in enumerate(improving) if record[0] is not None and values[k].numel() > 1]
        if not multi:
            return {}
        device = values[0].device
        first = torch.tensor([improving[0][1]], dtype=torch.float64, device=device)
        running = torch.cummin(torch.cat([first, *(v.to(torch.float64) for v in values)]), 0).values
        drops = torch.nonzero(running[1:] < running[:-1]).squeeze(1)  # the one host sync of the walk
        found = torch.stack([drops.to(torch.float64), running[1:][drops]]).cpu().numpy()
        ends = np.cumsum([v.numel() for v in values])
        wanted, steps = set(multi), {}
        for position, value in zip(found[0].astype(np.int64).tolist(), found[1].tolist(), strict=True):
            k = int(np.searchsorted(ends, position, side="right"))
            if k in wanted:
                steps.setdefault(k, []).append((position - (int(ends[k - 1]) if k else 0), value))
        return steps

    def flush(self) -> None:
        """Read the pending records (one transfer) and walk them in evaluation order as the eager path does."""
        if self._iterates:
            self._evaluate_checkpoints()
        pending, self._pending, self._pending_size = self._pending, [], 0
        if self._unread:
            self._read_improvements()
        if not pending:
            return
        lows = torch.cat([record[3] for record in pending]).tolist()  # the one host sync
        running, forced = self._best_value, self._best_x is None
        improving: list[tuple[_Record, float, float]] = []  # (record, best before it, its minimum)
        for record, low in zip(pending, lows, strict=True):
            if low < running or forced:
                improving.append((record, running, low))
                running, forced = low, False
        if not improving:
            return
        steps = self._steps_on_device(improving)
        for k, ((start, at, clean, _, _, seconds), _, low) in enumerate(improving):
            if start is None or clean.numel() == 1:
                self._record(at if start is None else (start + self._unit) / self._unit, seconds, low)
            else:
                self._record_steps(start, steps.get(k, []), seconds)
        self._best_value = running
        row = improving[-1][0][4]
        self._best_x = row[0].rows(row[1])[0] if isinstance(row, tuple) else row[0]
