"""What a ruleset runs: tuning trials per cell, the selection, and the evaluation trials it implies.

A *cell* is one problem, optimizer and lane of the evaluation grid. Tuning trials run on the tuning
instance and seed (:data:`TUNING_OFFSET`, disjoint from every evaluation instance and seed), as the
``validation`` task kind; the best configuration by validation score then runs on the cell's own
evaluation seeds and instances, marked with the ruleset (``adam [random:8]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from optbench.api import Budget, ConfigError, TrialResult, TrialSpec, freeze_params
from optbench.tuning.rulesets import Ruleset, unit_points
from optbench.tuning.space import Space, checked_space, config, flat
from optbench.tuning.task import TASK, score

TUNING_OFFSET = 1_000_000  # the tuning instance and first tuning seed; evaluation seeds and instances stay below


@dataclass(frozen=True)
class Cell:
    """One tuned cell: its evaluation trials and the search space (parameters the user fixed left out)."""

    evaluation: tuple[TrialSpec, ...]  # the defaults' trials of the cell (every seed and instance)
    space: Space
    fixed: dict[str, Any]  # the optimizer parameters given on the command line: never tuned

    @property
    def template(self) -> TrialSpec:
        return self.evaluation[0]


def space_of(name: str, overrides: Mapping[str, Space]) -> Space | None:
    """The search space of optimizer ``name``: the ``--space`` override, else what it declares; ``None``
    when it declares none (a bridge's other members, a plugin without one)."""
    from optbench.registry import BRIDGES, entries, optimizer_class

    prefix, colon, target = name.partition(":")
    if colon:
        if name in overrides:
            return dict(overrides[name])
        bridge = entries(BRIDGES).get(prefix)
        spaces = getattr(bridge.load(), "search_spaces", {}) if bridge is not None else {}
        return dict(spaces[target]) if target in spaces else None
    cls = optimizer_class(name)
    if name in overrides:
        return checked_space(overrides[name], cls, name)
    declared = getattr(cls, "search_space", None)
    return None if declared is None else dict(declared)


def cells(specs: Sequence[TrialSpec], overrides: Mapping[str, Space]) -> tuple[list[Cell], list[str]]:
    """The tunable cells of an evaluation grid, and one note per optimizer that has nothing to tune."""
    unknown = sorted(set(overrides) - {s.optimizer for s in specs})
    if unknown:
        raise ConfigError(f"--space names {unknown[0]!r}, which is not among the optimizers of this comparison")
    groups: dict[TrialSpec, list[TrialSpec]] = {}
    for spec in specs:
        groups.setdefault(replace(spec, seed=0, instance=0), []).append(spec)
    out, notes, spaces = [], [], {}
    for key, members in groups.items():
        if key.optimizer not in spaces:
            spaces[key.optimizer] = space_of(key.optimizer, overrides)
        fixed = dict(key.optimizer_params)
        space = {name: rng for name, rng in (spaces[key.optimizer] or {}).items() if name not in fixed}
        if not space:
            why = "declares no search space" if not spaces[key.optimizer] else "has every tunable parameter fixed"
            note = f"{key.optimizer} {why}: it runs at the given hyperparameters under every ruleset"
            if note not in notes:
                notes.append(note)
            continue
        out.append(Cell(tuple(members), space, fixed))
    return out, notes


def _check_disjoint(specs: Sequence[TrialSpec]) -> None:
    high = [s for s in specs if s.seed >= TUNING_OFFSET or s.instance >= TUNING_OFFSET]
    if high:
        raise ConfigError(f"tuning runs on seed and instance {TUNING_OFFSET} and up; evaluation seeds and instances "
                          f"must stay below it (got seed {high[0].seed}, instance {high[0].instance})")


def tuning_spec(cell: Cell, ruleset: Ruleset, draw: int, unit: Sequence[float]) -> TrialSpec:
    """The tuning trial of ``cell`` at the unit-cube point ``unit`` (its ``draw``-th configuration)."""
    from optbench.registry import canonical_params

    template = cell.template
    params = canonical_params("optimizer", template.optimizer, {**config(cell.space, list(unit)), **cell.fixed})
    return replace(template, optimizer_params=freeze_params(params), seed=TUNING_OFFSET, instance=TUNING_OFFSET,
                   task=TASK, task_params=freeze_params({"draw": draw}), ruleset=ruleset.draws_label)


def random_specs(cell: Cell, ruleset: Ruleset) -> list[TrialSpec]:
    """``random:K``: the first ``K`` quasi-random points of the cell's space (the same for every problem)."""
    points = unit_points(len(flat(cell.space)), ruleset.k, seed=ruleset.seed)
    return [tuning_spec(cell, ruleset, i, point) for i, point in enumerate(points)]


def draw_of(spec: TrialSpec) -> int:
    return int(dict(spec.task_params).get("draw", 0))


def best(results: Sequence[TrialResult]) -> TrialResult | None:
    """The tuning trial with the best validation score (the earliest draw among equals); ``None`` if all failed."""
    scored = []
    for result in results:
        value, higher = score(result)
        loss = -value if higher else value
        if math.isfinite(loss):
            scored.append((loss, draw_of(result.spec), result))
    return min(scored, key=lambda item: item[:2])[2] if scored else None


def evaluation_specs(cell: Cell, ruleset: Ruleset, selected: TrialResult | None) -> list[TrialSpec]:
    """The cell's evaluation trials under ``ruleset``: the selected configuration on every evaluation seed,
    or for ``self:K`` the defaults with ``K`` times the budget."""
    if ruleset.kind == "self":
        return [replace(spec, budget=scaled(spec.budget, ruleset.k), ruleset=ruleset.label) for spec in cell.evaluation]
    if selected is None:
        return []
    return [replace(spec, optimizer_params=selected.spec.optimizer_params, ruleset=ruleset.label)
            for spec in cell.evaluation]


def scaled(budget: Budget, k: int) -> Budget:
    return Budget(evaluations=None if budget.evaluations is None else budget.evaluations * k,
                  seconds=None if budget.seconds is None else budget.seconds * k)


def self_cells(specs: Sequence[TrialSpec]) -> list[Cell]:
    """``self:K`` tunes nothing: every cell of the grid, with no space."""
    groups: dict[TrialSpec, list[TrialSpec]] = {}
    for spec in specs:
        groups.setdefault(replace(spec, seed=0, instance=0), []).append(spec)
    return [Cell(tuple(members), {}, dict(key.optimizer_params)) for key, members in groups.items()]


def check_grid(specs: Sequence[TrialSpec]) -> None:
    _check_disjoint(specs)
