"""The tuning trial, a task kind (entry point ``validation`` in ``optbench.tasks``).

It runs the optimizer loop of an ordinary trial, on a tuning instance and seed disjoint from the
evaluation ones, and scores the configuration by a validation signal that is never the reported one:

- a problem with training data carves a validation set out of it (:meth:`Problem.validation_split`);
  the score is its held-out metric on that set, and the test set is never read;
- any other problem scores by its final gap (or value) on the tuning instance.

The score is stored in the result's ``extra`` (``validation``, ``validation_metric``, ``higher_is_better``);
the result's ``test_metric`` stays empty.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from optbench.api import Problem, TrialResult, TrialSpec, TrialState, Unsupported

TASK = "validation"


def score(result: TrialResult) -> tuple[float, bool]:
    """``(validation score, higher is better)`` of a tuning trial's result; a failure scores worst."""
    extra = dict(result.extra)
    higher = bool(extra.get("higher_is_better", False))
    value = extra.get("validation")
    if not result.state.has_result or value is None or not math.isfinite(float(value)):
        return (-math.inf if higher else math.inf), higher
    return float(value), higher


class ValidationTrial:
    """A trial that tunes: the optimizer loop on a validation split (or a tuning instance), scored there."""

    @staticmethod
    def run_task(spec: TrialSpec) -> TrialResult:
        from optbench.runners.trial import optimizer_trial

        split: dict[str, Any] = {}

        def carve(problem: Problem) -> None:
            try:
                problem.validation_split()
            except Unsupported:
                return  # no training data: the final gap on the tuning instance is the signal
            split["metric"] = f"validation {problem.test_metric_name}"
            split["higher"] = bool(problem.test_metric_higher_is_better)

        result = optimizer_trial(spec, adapt=carve)
        if split:
            value, metric, higher = result.test_metric, split["metric"], split["higher"]
        else:
            value = result.gap if result.gap is not None else result.final_value
            metric, higher = ("gap" if result.gap is not None else "final value"), False
        extra = (*result.extra, ("validation", value), ("validation_metric", metric), ("higher_is_better", higher))
        if result.state is TrialState.COMPLETE and value is None:
            return replace(result, test_metric=None, extra=extra, state=TrialState.FAILED,
                           reason="the tuning trial produced no validation score")
        return replace(result, test_metric=None, extra=extra)
