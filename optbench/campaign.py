"""A campaign: the grid of trial specs, validated before anything runs, then run into a store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, freeze_params
from optbench.parsing import parse_call
from optbench.registry import make_optimizer, make_problem
from optbench.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grid:
    """What to cross: problems and optimizers as ``name(key=value)`` strings, seeds, instances, devices."""

    problems: Sequence[str]
    optimizers: Sequence[str]
    seeds: Sequence[int]
    instances: Sequence[int]
    devices: Sequence[str]
    budget: Budget
    budgets: Mapping[str, Budget] = field(default_factory=dict)  # per-problem overrides, keyed by problem text


def _validated(calls: Sequence[str], kind: str, instance: int) -> list[tuple[str, dict]]:
    parsed = [parse_call(text) for text in calls]
    if not parsed:
        raise ConfigError(f"no {kind}s given")
    for name, params in parsed:
        # constructing once checks names, parameter names and values before any trial runs
        if kind == "problem":
            make_problem(name, params, instance=instance, device="cpu")
        else:
            make_optimizer(name, params)
    return parsed


def build_specs(grid: Grid) -> list[TrialSpec]:
    """Every trial of the grid, problem-major; raises :class:`ConfigError` on any bad entry."""
    if any(s < 0 for s in grid.seeds) or any(i < 0 for i in grid.instances):
        raise ConfigError("seeds and instances must be integers >= 0")
    problems = [(*parsed, grid.budgets.get(text, grid.budget))
                for text, parsed in zip(grid.problems, _validated(grid.problems, "problem", grid.instances[0]),
                                        strict=True)]
    optimizers = _validated(grid.optimizers, "optimizer", 0)
    specs = [
        TrialSpec(
            problem=p_name,
            problem_params=freeze_params(p_params),
            optimizer=o_name,
            optimizer_params=freeze_params(o_params),
            budget=budget,
            seed=seed,
            instance=instance,
            device=device,
        )
        for p_name, p_params, budget in problems
        for o_name, o_params in optimizers
        for device in grid.devices
        for instance in grid.instances
        for seed in grid.seeds
    ]
    unique = list(dict.fromkeys(specs))  # a problem listed twice runs once
    return unique


def run_campaign(
    specs: Sequence[TrialSpec],
    store: Store,
    *,
    executor: object | None = None,
    rerun: bool = False,
    on_result: Callable[[TrialResult], None] | None = None,
) -> list[TrialResult]:
    """Claim what is missing from the store, run it, and save each result as it arrives.

    Returns the results of the trials run now. Interrupting (Ctrl-C) loses only the trials in
    flight: everything saved so far stays, unfinished claims are given back, and rerunning the
    campaign resumes. Trials another live campaign has claimed are left to it.
    """
    from optbench.runners.executors import InlineExecutor
    from optbench.runners.trial import run_trial

    claimed = store.claim(specs, rerun=rerun)
    runner = executor or InlineExecutor()
    finished: list[TrialResult] = []
    try:
        for result in runner.map(run_trial, claimed):  # type: ignore[attr-defined]
            store.save(result)
            finished.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        runner.close()  # type: ignore[attr-defined]
        done = {r.key for r in finished}
        store.release([s.key for s in claimed if s.key not in done])
    return finished
