"""The grid of a campaign: :func:`suite_grid` builds it the way ``optbench compare`` does (a suite's
defaults, any field overridden); :func:`build_specs` validates it into trial specs before anything runs."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from optbench.api import Budget, ConfigError, Optimizer, TrialSpec, check_dtype, freeze_params
from optbench.params import parse_call, split_dtype
from optbench.registry import canonical_params, make_optimizer, make_problem

DEFAULT_SUITE = "quick"  # what `optbench compare` and `optbench.compare()` run when given nothing

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


def suite_grid(*, suite: str | None = None, problems: Sequence[str] | None = None,
               optimizers: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
               instances: Sequence[int] | None = None, device: str = "auto", budget: float | None = None,
               time_budget: float | None = None, dtype: str | None = None) -> Grid:
    """The grid of a suite (default: the quick suite) with any of its fields replaced.

    A budget given here is every problem's (the suite's per-problem budgets are dropped); a mistake
    in the suite's own problem or optimizer entries names the suite file and the key.
    """
    from optbench.problems.suites import load_suite
    from optbench.runners.devices import resolve_devices

    chosen = load_suite(suite or DEFAULT_SUITE)
    budgets = chosen.budgets
    if budget is not None or time_budget is not None:  # as floats: budget=200 and --budget 200 are one trial
        fixed = Budget(evaluations=None if budget is None else float(budget),
                       seconds=None if time_budget is None else float(time_budget))
        budgets = {}
    else:
        fixed = Budget(evaluations=chosen.budget, seconds=chosen.time_budget)
    origin = {key: chosen.source for key, given in (("problems", problems), ("optimizers", optimizers))
              if given is None}
    return Grid(problems=list(problems or chosen.problems), optimizers=list(optimizers or chosen.optimizers),
                seeds=list(seeds or chosen.seeds), instances=list(instances or chosen.instances),
                devices=resolve_devices(device), budget=fixed, budgets=budgets, origin=origin, dtype=dtype)


def check_memory(name: str, params: dict, devices: Sequence[str]) -> None:
    """Refuse a problem whose stated memory need exceeds what the CPU (where it is validated) or a trial
    device has free, before anything is allocated."""
    from optbench.api import declared_parameters
    from optbench.registry import problem_class
    from optbench.runners.devices import available_memory, size

    cls = problem_class(name)
    filled = {key: p.default for key, p in declared_parameters(cls).items() if p.default is not inspect.Parameter.empty}
    need = cls.memory_need({**filled, **params})
    if need is None:
        return
    for device in dict.fromkeys(["cpu", *devices]):
        free = available_memory(device)
        if free is not None and need > free:
            raise ConfigError(f"{name}: these parameters need about {size(need)} of memory and {device} has "
                              f"{size(free)} free; use smaller sizes")


def check_optimizer_memory(optimizer: str, made: Optimizer, problem: str, dim: int, devices: Sequence[str]) -> None:
    """Refuse an optimizer (``made``, named ``optimizer``) whose own state on a ``dim``-dimensional problem
    (a full CMA-ES covariance is ``d x d``) exceeds what the CPU or a trial device has free, before any trial
    runs."""
    from optbench.runners.devices import available_memory, size

    need = made.memory_need(dim)
    if need is None:
        return
    for device in dict.fromkeys(["cpu", *devices]):
        free = available_memory(device)
        if free is not None and need > free:
            raise ConfigError(f"{optimizer} on {problem} ({dim} dimensions) needs about {size(need)} of memory and "
                              f"{device} has {size(free)} free; {made.memory_advice()}")


def _precision(name: str, params: dict, instance: int, dtype: str | None,
               devices: Sequence[str] = ()) -> tuple[str, int]:
    """The trial's dtype in canonical form (empty when it is the problem's own precision) and the
    problem's dimension.

    Constructs the problem (on the CPU) in its own precision and, when another is asked for, in that
    one too, so a problem that cannot compute in it is refused before any trial runs. So
    ``rastrigin``, ``rastrigin(dtype=float64)`` and ``--dtype float64`` are one trial.
    """
    check_memory(name, params, devices)
    own = make_problem(name, params, instance=instance, device="cpu")
    if dtype is None or str(own.dtype) == f"torch.{dtype}":
        return "", own.space.dim
    make_problem(name, params, instance=instance, device="cpu", dtype=dtype)
    return dtype, own.space.dim


def _validated(calls: Sequence[str], kind: str, instance: int, *, origin: str | None = None,
               dtype: str | None = None, devices: Sequence[str] = ()) -> list[tuple[str, dict, str, int]]:
    """``(name, canonical parameters, canonical dtype, dimension)`` of each call; the dtype is empty and the
    dimension 0 for optimizers."""
    try:
        parsed = [parse_call(text) for text in calls]
        if not parsed:
            raise ConfigError(f"no {kind}s given")
        out = []
        for name, params in parsed:
            # constructing once checks names, parameter names and values before any trial runs
            if kind == "problem":
                params, named = split_dtype(name, params)  # the problem's own dtype= overrides --dtype
                precision, dim = _precision(name, params, instance, named or dtype, devices)
            else:
                make_optimizer(name, params)
                precision, dim = "", 0
            # identity: types checked, defaults dropped, so rastrigin and rastrigin(rotate=False) are one trial
            out.append((name, canonical_params(kind, name, params), precision, dim))
        return out
    except ConfigError as exc:
        if origin is None:
            raise
        raise ConfigError(f"{origin}: {kind}s: {exc}") from None  # a suite's mistake names the file and key


def _check_budget(budget: Budget) -> None:
    """An evaluation budget is a whole number of cost units, at least 1; a time budget any positive time."""
    value = budget.evaluations
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1
                              or value == float("inf") or value != int(value)):
        raise ConfigError(f"an evaluation budget is a whole number of evaluations >= 1 (cost units), got {value!r}; "
                          "for less than one pass over the data use a time budget")
    seconds = budget.seconds
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                or not 0 < seconds < float("inf")):
        raise ConfigError(f"a time budget is a positive number of seconds, got {seconds!r}")


def build_specs(grid: Grid) -> list[TrialSpec]:
    """Every trial of the grid, problem-major; raises :class:`ConfigError` on any bad entry."""
    if not grid.seeds or not grid.instances:
        raise ConfigError("no seeds or no instances given")
    if any(s < 0 for s in grid.seeds) or any(i < 0 for i in grid.instances):
        raise ConfigError("seeds and instances must be integers >= 0")
    for budget in (grid.budget, *grid.budgets.values()):
        _check_budget(budget)
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
                                                                  origin=grid.origin.get("problems"), dtype=dtype,
                                                                  devices=grid.devices),
                                        strict=True)]
    optimizers = _validated(grid.optimizers, "optimizer", 0, origin=grid.origin.get("optimizers"))
    for o_name, o_params, _, _ in optimizers:
        made = make_optimizer(o_name, o_params)
        for p_name, _, _, p_dim, _ in problems:
            check_optimizer_memory(o_name, made, p_name, p_dim, grid.devices)
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
        for p_name, p_params, p_dtype, _, budget in problems
        for o_name, o_params, _, _ in optimizers
        for device in grid.devices
        for instance in grid.instances
        for seed in grid.seeds
    ]
    unique = list(dict.fromkeys(specs))  # a problem listed twice runs once
    return unique
