"""``run_trial``: one optimizer on one problem instance, seeded, placed, timed, and never fatal."""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable
from typing import Any

import torch

from optbench.api import (
    Budget,
    BudgetExhausted,
    Problem,
    SpaceKind,
    TracePoint,
    TrialResult,
    TrialSpec,
    TrialState,
    Unsupported,
)
from optbench.evaluator import Evaluator, Stopwatch
from optbench.registry import OPTIMIZERS, PROBLEMS, make_optimizer, make_problem, source_of, task_kind
from optbench.runners.devices import device_name
from optbench.seeding import trial_rng

log = logging.getLogger(__name__)


def _sync_for(device: torch.device) -> Any:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return None


def _warm_up(problem: Any) -> None:
    """One untimed, uncounted evaluation so lazy initialisation (CUDA context, kernels) is not timed."""
    gen = torch.Generator().manual_seed(0)
    if problem.space.kind is SpaceKind.BITS:
        X = torch.randint(0, 2, (2, problem.space.dim), generator=gen, dtype=torch.uint8)
    else:  # a batch of two (the batched code path), of one start: drawing it costs more than evaluating it
        x = problem.initial_point(gen)
        X = torch.stack([x, x])
    with torch.no_grad():
        problem.evaluate(X)


_WARMED: set[tuple[type, str]] = set()


def _warm_optimizer(optimizer: Any, problem: Any) -> None:
    """Run each optimizer class once per process and device on a tiny budget, untimed.

    Libraries import lazily (torch.optim's first step, pycma, Nevergrad, SciPy), which would
    otherwise charge seconds of one-time set-up to whichever trial happens to run first.
    """
    key = (type(optimizer), str(problem.device))
    if key in _WARMED:
        return
    _WARMED.add(key)
    import numpy as np

    try:
        optimizer.minimize(Evaluator(problem, Budget(evaluations=8)), rng=np.random.default_rng(0))
    except Exception:  # the real run reports any problem; the warm-up only loads code
        log.debug("warm-up of %s failed", type(optimizer).__name__, exc_info=True)


def _to_float(value: Any) -> float | None:
    return None if value is None else float(value)


def run_task(spec: TrialSpec) -> TrialResult:
    """Run a trial of the task kind ``spec.task`` (entry point group ``optbench.tasks``): its
    ``run_task(spec)`` returns the result; an exception, or a kind that cannot be loaded, is FAILED."""
    try:
        return task_kind(spec.task).run_task(spec)
    except Exception:
        return TrialResult(spec=spec, state=TrialState.FAILED, reason=traceback.format_exc())


def run_trial(spec: TrialSpec) -> TrialResult:
    """Run one trial and describe what happened; exceptions become FAILED results.

    The optimizer's work is timed (CUDA synchronized); the final evaluation of the
    recommendation and the test metric happen after the clock stops and are not counted.
    A spec with a ``task`` is a trial of that task kind (a study's training run or sample, a tuning
    trial) and runs there.
    """
    if spec.task:
        return run_task(spec)
    return optimizer_trial(spec)


def optimizer_trial(spec: TrialSpec, *, adapt: Callable[[Problem], None] | None = None) -> TrialResult:
    """The optimizer loop of :func:`run_trial` for ``spec`` (whatever its task).

    Args:
        adapt: called on the problem once it is built, before anything runs (a tuning trial carves
            its validation split there); an exception from it is the trial's failure.
    """
    # what every result of this spec carries, filled in as the trial goes; the result is built once, at the
    # return (each dataclasses.replace of a TrialResult costs ~6 us, and a short trial is a millisecond)
    base: dict[str, Any] = {"spec": spec, "problem_source": source_of(PROBLEMS, spec.problem),
                            "optimizer_source": source_of(OPTIMIZERS, spec.optimizer)}
    try:
        problem = make_problem(
            spec.problem, dict(spec.problem_params), instance=spec.instance, device=spec.device,
            dtype=spec.dtype or None,
        )
        optimizer = make_optimizer(spec.optimizer, dict(spec.optimizer_params))
    except Exception:
        return TrialResult(**base, state=TrialState.FAILED, reason=traceback.format_exc())
    if adapt is not None:
        try:
            adapt(problem)
        except Unsupported as exc:
            return TrialResult(**base, state=TrialState.SKIPPED, reason=str(exc))
        except Exception:
            return TrialResult(**base, state=TrialState.FAILED, reason=traceback.format_exc())

    base.update(
        problem_id=problem.id,
        optimal_value=_to_float(problem.optimal_value),
        target=_to_float(problem.target),
        blind_search_evaluations=_to_float(problem.blind_search_evaluations),
        device_name=device_name(spec.device),
    )
    reason = optimizer.check(problem.space, problem.capabilities)
    if reason is not None:
        return TrialResult(**base, state=TrialState.SKIPPED, reason=reason)

    stopwatch = Stopwatch(sync=_sync_for(problem.device))
    evaluator = Evaluator(problem, spec.budget, stopwatch=stopwatch)
    rng = trial_rng(spec.seed, spec.instance)
    state, error = TrialState.COMPLETE, None
    x = None
    try:
        _warm_up(problem)
        _warm_optimizer(optimizer, problem)
        stopwatch.start()
        try:
            x = optimizer.minimize(evaluator, rng=rng)
        except BudgetExhausted:
            x = None
        stopwatch.stop()
    except Unsupported as exc:
        return TrialResult(**base, state=TrialState.SKIPPED, reason=str(exc))
    except torch.cuda.OutOfMemoryError:
        stopwatch.stop()
        torch.cuda.empty_cache()
        state, error = TrialState.FAILED, "CUDA out of memory: " + traceback.format_exc(limit=1)
    except Exception:
        stopwatch.stop()
        state, error = TrialState.FAILED, traceback.format_exc()
        log.warning("trial %s failed", spec.key)

    if x is None:
        x = evaluator.recommendation()
    final_value = test_metric = None
    trace = list(evaluator.trace)
    if x is not None:
        try:
            evaluator.finalize()
            trace = list(evaluator.trace)
            with torch.no_grad():
                final_value = float(problem.evaluate(x.detach().reshape(1, -1))[0])
                test_metric = _to_float(problem.test_metric(x.detach()))
        except Exception:
            if state is TrialState.COMPLETE:
                state, error = TrialState.FAILED, traceback.format_exc()
        best_seen = trace[-1].best if trace else math.inf
        if final_value is not None and (final_value < best_seen or not trace):
            # the recommendation beats what the optimizer evaluated (e.g. a closed form): close the trace
            trace.append(TracePoint(evaluator.evaluations, stopwatch.elapsed(), final_value))
    hit = evaluator.first_hit
    if hit is None and final_value is not None and state is not TrialState.FAILED \
            and evaluator.reaches_target(final_value):
        hit = TracePoint(evaluator.evaluations, stopwatch.elapsed(), final_value)
    if state is TrialState.FAILED and final_value is None and math.isfinite(evaluator.best_value):
        final_value = evaluator.best_value  # the best value seen before the failure

    return TrialResult(
        **base,
        state=state,
        reason=error,
        final_value=final_value,
        test_metric=test_metric,
        evaluations=evaluator.evaluations,
        gradient_evaluations=evaluator.gradient_evaluations,
        points=evaluator.points,
        examples=evaluator.examples,
        seconds=stopwatch.elapsed(),
        trace=tuple(trace),
        hit_evaluations=None if hit is None else hit.evaluations,
        hit_seconds=None if hit is None else hit.seconds,
    )
