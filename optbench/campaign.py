"""A campaign: the grid of trial specs, validated before anything runs, then run into a store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, check_dtype, freeze_params
from optbench.parsing import parse_call
from optbench.registry import canonical_params, make_optimizer, make_problem, split_dtype
from optbench.store import Store

log = logging.getLogger(__name__)

MAX_TRIALS = 100_000  # trials of one campaign: beyond this, a grid is a typo (or should be split)
POLL_SECONDS = 0.5  # how often a campaign looks at the trials another campaign on its store is running


@dataclass(frozen=True)
class Grid:
    """What to cross: problems and optimizers as ``name(key=value)`` strings, seeds, instances, devices.

    A problem string may name its precision (``rastrigin(dtype=float32)``); it becomes the trial's dtype.
    """

    problems: Sequence[str]
    optimizers: Sequence[str]
    seeds: Sequence[int]
    instances: Sequence[int]
    devices: Sequence[str]
    budget: Budget
    budgets: Mapping[str, Budget] = field(default_factory=dict)  # per-problem overrides, keyed by problem text
    # the precision of every trial (``--dtype``); a problem's own ``dtype=`` overrides it; None: each problem's own
    dtype: str | None = None
    # where the problem or optimizer entries were written ("problems" -> "my_suite.toml"), for errors
    origin: Mapping[str, str] = field(default_factory=dict)


def _precision(name: str, params: dict, instance: int, dtype: str | None) -> str:
    """The trial's dtype in canonical form: empty when it is the problem's own precision.

    Constructs the problem (on the CPU) in its own precision and, when another is asked for, in that
    one too, so a problem that cannot compute in it is refused before any trial runs. So
    ``rastrigin``, ``rastrigin(dtype=float64)`` and ``--dtype float64`` are one trial.
    """
    own = make_problem(name, params, instance=instance, device="cpu")
    if dtype is None or str(own.dtype) == f"torch.{dtype}":
        return ""
    make_problem(name, params, instance=instance, device="cpu", dtype=dtype)
    return dtype


def _validated(calls: Sequence[str], kind: str, instance: int, *, origin: str | None = None,
               dtype: str | None = None) -> list[tuple[str, dict, str]]:
    """``(name, canonical parameters, canonical dtype)`` of each call; the dtype is empty for optimizers."""
    try:
        parsed = [parse_call(text) for text in calls]
        if not parsed:
            raise ConfigError(f"no {kind}s given")
        out = []
        for name, params in parsed:
            # constructing once checks names, parameter names and values before any trial runs
            if kind == "problem":
                params, named = split_dtype(name, params)  # the problem's own dtype= overrides --dtype
                precision = _precision(name, params, instance, named or dtype)
            else:
                make_optimizer(name, params)
                precision = ""
            # identity: types checked, defaults dropped, so rastrigin and rastrigin(rotate=False) are one trial
            out.append((name, canonical_params(kind, name, params), precision))
        return out
    except ConfigError as exc:
        if origin is None:
            raise
        raise ConfigError(f"{origin}: {kind}s: {exc}") from None  # a suite's mistake names the file and key


def build_specs(grid: Grid) -> list[TrialSpec]:
    """Every trial of the grid, problem-major; raises :class:`ConfigError` on any bad entry."""
    if not grid.seeds or not grid.instances:
        raise ConfigError("no seeds or no instances given")
    if any(s < 0 for s in grid.seeds) or any(i < 0 for i in grid.instances):
        raise ConfigError("seeds and instances must be integers >= 0")
    total = (len(grid.problems) * len(grid.optimizers) * len(grid.devices) * len(grid.instances)
             * len(grid.seeds))
    if total > MAX_TRIALS:
        raise ConfigError(f"the grid has {total} trials ({len(grid.problems)} problems × {len(grid.optimizers)} "
                          f"optimizers × {len(grid.devices)} devices × {len(grid.instances)} instances × "
                          f"{len(grid.seeds)} seeds); at most {MAX_TRIALS} run in one campaign: use fewer seeds "
                          "or split it")
    dtype = None if grid.dtype is None else check_dtype(grid.dtype, "--dtype")
    problems = [(*parsed, grid.budgets.get(text, grid.budget))
                for text, parsed in zip(grid.problems, _validated(grid.problems, "problem", grid.instances[0],
                                                                  origin=grid.origin.get("problems"), dtype=dtype),
                                        strict=True)]
    optimizers = _validated(grid.optimizers, "optimizer", 0, origin=grid.origin.get("optimizers"))
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
            dtype=p_dtype,
        )
        for p_name, p_params, p_dtype, budget in problems
        for o_name, o_params, _ in optimizers
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
    """Run every trial of ``specs`` the store still lacks, sharing the work with other campaigns.

    Trials are claimed one at a time, as the executor has room for them, so two campaigns on one
    store split the work between them. Trials another live campaign has claimed are waited for
    (the store is polled); a claim whose owner died, or that its owner gave back, is taken over.
    ``on_result`` sees every trial of the campaign as it finishes, here or in the other campaign.
    With ``rerun``, results stored before this call are run again; ones stored during it are not.

    Returns the results of the trials this process ran. Interrupting (Ctrl-C) loses only the
    trials in flight: everything saved so far stays, unfinished claims are given back, and
    rerunning the campaign resumes.
    """
    from optbench.runners.executors import InlineExecutor
    from optbench.runners.trial import run_trial

    runner = executor or InlineExecutor()
    since = time.time()  # results saved from here on, by anyone, are this campaign's
    waiting = {s.key: s for s in store.pending(list(dict.fromkeys(specs)), rerun=rerun)}
    finished: list[TrialResult] = []
    claimed: set[str] = set()

    def report(result: TrialResult) -> None:
        if on_result is not None:
            on_result(result)

    def observe() -> None:
        """Take in what other campaigns finished since the start."""
        for result in store.finished_since([k for k in waiting if k not in claimed], since=since):
            del waiting[result.key]
            report(result)

    def claims() -> Iterator[TrialSpec]:
        """Claim the next trial nobody holds, each when the executor has room for it (not all at once:
        a campaign started a moment later takes the trials this one has not reached yet)."""
        last_look = time.monotonic()
        for spec in store.claimable(list(waiting.values()), rerun=rerun, since=since):
            if time.monotonic() - last_look > POLL_SECONDS:  # the progress counts the other's trials too
                observe()
                last_look = time.monotonic()
            if spec.key in waiting and store.claim([spec], rerun=rerun, since=since):
                claimed.add(spec.key)
                yield spec

    try:
        while waiting:
            for result in runner.map(run_trial, claims()):  # type: ignore[attr-defined]
                store.save(result)
                claimed.discard(result.key)
                waiting.pop(result.key, None)
                finished.append(result)
                report(result)
            observe()
            if waiting and not store.claimable([waiting[k] for k in waiting], since=since):
                time.sleep(POLL_SECONDS)  # all held by live campaigns: wait for them to finish
    finally:
        runner.close()  # type: ignore[attr-defined]
        store.release(sorted(claimed))
    return finished
