"""What tuning found, computed once from a run's stored results: per cell and across problems.

Per tuned cell (problem, optimizer, lane): every draw with its validation score and cost, the selected
configuration, the tuned and default medians on the evaluation seeds (the tuning gain), the cost of
tuning, the expected best validation score after ``k`` of the ``K`` draws with an interval, and the share
of the space within 10 % of the best. Per problem: whether the best optimizer changes with tuning, and
where two optimizers' expected-best curves cross.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from optbench.api import TrialResult
from optbench.tuning.expected import crossing, expected_best, interval, share_near_best
from optbench.tuning.task import TASK, score

SCHEMA = "optbench.tuning/1"


@dataclass(frozen=True)
class Draw:
    draw: int
    params: dict[str, Any]
    score: float | None  # the validation score; None: the trial failed
    state: str
    evaluations: float
    gradient_evaluations: float
    seconds: float


@dataclass(frozen=True)
class TunedCell:
    problem: str
    optimizer: str
    lane: str
    ruleset: str  # random:8, optuna:TPESampler:8, self:4
    metric: str  # what the draws were scored by (validation test_accuracy, gap, ...)
    higher_is_better: bool
    draws: list[Draw]
    selected: dict[str, Any] | None  # the configuration that ran on the evaluation seeds
    selected_draw: int | None
    default_median: float | None  # median gap (or final value) at the defaults, evaluation seeds
    tuned_median: float | None  # the same for the tuned configuration
    tuning_evaluations: float
    tuning_gradient_evaluations: float
    tuning_seconds: float
    expected_best: list[float]  # after k = 1..K draws
    expected_interval: list[tuple[float, float]]
    share_within_10pct: float | None

    @property
    def gain(self) -> float | None:
        """``default / tuned`` median gap: above 1, tuning helped (``inf`` when tuning reached zero)."""
        if self.default_median is None or self.tuned_median is None:
            return None
        if self.tuned_median == 0:
            return math.inf if self.default_median > 0 else 1.0
        return self.default_median / self.tuned_median


@dataclass(frozen=True)
class Verdict:
    problem: str
    lane: str
    best_at_defaults: str | None
    best_tuned: str | None

    @property
    def changed(self) -> bool:
        return self.best_at_defaults != self.best_tuned


@dataclass(frozen=True)
class TuningAnalysis:
    ruleset: str
    cells: list[TunedCell]
    verdicts: list[Verdict]
    crossings: list[dict[str, Any]] = field(default_factory=list)  # {problem, lane, first, second, k}
    ranks: dict[str, dict[str, float]] = field(default_factory=dict)  # {"defaults"|ruleset: {optimizer: mean rank}}

    def to_json(self) -> dict[str, Any]:
        cells = []
        for cell in self.cells:
            data = asdict(cell)
            data["gain"] = cell.gain
            data["expected_interval"] = [list(pair) for pair in cell.expected_interval]
            cells.append(data)
        return {"format": SCHEMA, "ruleset": self.ruleset, "cells": cells,
                "verdicts": [{**asdict(v), "changed": v.changed} for v in self.verdicts],
                "crossings": self.crossings, "ranks": self.ranks}


def _outcome(result: TrialResult) -> float:
    value = result.gap if result.gap is not None else result.final_value
    return math.inf if value is None or not result.state.has_result or math.isnan(value) else float(value)


def _median(results: Sequence[TrialResult]) -> float | None:
    values = [_outcome(r) for r in results]
    return float(statistics.median(values)) if values else None


def _draw(result: TrialResult) -> Draw:
    value, _ = score(result)
    return Draw(draw=int(dict(result.spec.task_params).get("draw", 0)), params=dict(result.spec.optimizer_params),
                score=value if math.isfinite(value) else None, state=str(result.state),
                evaluations=result.evaluations, gradient_evaluations=result.gradient_evaluations,
                seconds=result.seconds)


def _cell_key(result: TrialResult) -> tuple[str, str, str]:
    return result.spec.problem_label, result.spec.optimizer, result.spec.lane


def analyze_tuning(results: Sequence[TrialResult]) -> TuningAnalysis | None:
    """The tuning of a run, or ``None`` when no trial of it was tuned."""
    tuned = [r for r in results if r.spec.ruleset and not r.spec.task]
    if not tuned:
        return None
    label = tuned[0].spec.ruleset
    k = int(label.rsplit(":", 1)[-1])
    draws_label = label.rsplit(":", 1)[0]
    defaults: dict[tuple[str, str, str], list[TrialResult]] = defaultdict(list)
    evaluated: dict[tuple[str, str, str], list[TrialResult]] = defaultdict(list)
    trials: dict[tuple[str, str, str], list[TrialResult]] = defaultdict(list)
    for r in results:
        if r.spec.task == TASK and r.spec.ruleset == draws_label:
            if int(dict(r.spec.task_params).get("draw", 0)) < k:
                trials[_cell_key(r)].append(r)
        elif not r.spec.task and r.spec.ruleset == label:
            evaluated[_cell_key(r)].append(r)
        elif not r.spec.task and not r.spec.ruleset:
            defaults[_cell_key(r)].append(r)
    cells = [_cell(key, label, sorted(trials.get(key, []), key=lambda r: _draw(r).draw), runs, defaults.get(key, []))
             for key, runs in evaluated.items()]
    return TuningAnalysis(ruleset=label, cells=cells, verdicts=_verdicts(defaults, evaluated),
                          crossings=_crossings(cells), ranks=_ranks(defaults, evaluated, label))


def _cell(key: tuple[str, str, str], label: str, trials: list[TrialResult], runs: list[TrialResult],
          defaults: list[TrialResult]) -> TunedCell:
    draws = [_draw(r) for r in trials]
    higher = bool(dict(trials[0].extra).get("higher_is_better", False)) if trials else False
    metric = str(dict(trials[0].extra).get("validation_metric", "")) if trials else ""
    scores = [score(r)[0] for r in trials]
    selected = dict(runs[0].spec.optimizer_params) if trials else None
    chosen = next((d.draw for d in draws if d.params == selected), None) if trials else None
    if label.startswith("self:"):  # the extra budget is the cost of this ruleset
        cost = (sum(r.evaluations for r in runs) - sum(r.evaluations for r in defaults),
                sum(r.gradient_evaluations for r in runs) - sum(r.gradient_evaluations for r in defaults),
                sum(r.seconds for r in runs) - sum(r.seconds for r in defaults))
    else:
        cost = (sum(d.evaluations for d in draws), sum(d.gradient_evaluations for d in draws),
                sum(d.seconds for d in draws))
    return TunedCell(problem=key[0], optimizer=key[1], lane=key[2], ruleset=label, metric=metric,
                     higher_is_better=higher, draws=draws, selected=selected, selected_draw=chosen,
                     default_median=_median(defaults), tuned_median=_median(runs), tuning_evaluations=cost[0],
                     tuning_gradient_evaluations=cost[1], tuning_seconds=cost[2],
                     expected_best=expected_best(scores, lower_is_better=not higher),
                     expected_interval=interval(scores, lower_is_better=not higher),
                     share_within_10pct=share_near_best(scores, lower_is_better=not higher) if scores else None)


def _best(groups: dict[str, list[TrialResult]]) -> str | None:
    medians = {name: _median(runs) for name, runs in groups.items()}
    finite = {name: m for name, m in medians.items() if m is not None and math.isfinite(m)}
    return min(sorted(finite), key=lambda name: finite[name]) if finite else None


def _by_problem(defaults: dict, evaluated: dict) -> dict[tuple[str, str], tuple[dict, dict]]:
    """Per (problem, lane): the optimizers' runs at the defaults, and under the ruleset (an optimizer with
    nothing to tune counts at its defaults there too)."""
    out: dict[tuple[str, str], tuple[dict, dict]] = defaultdict(lambda: ({}, {}))
    for (problem, optimizer, lane), runs in defaults.items():
        out[(problem, lane)][0][optimizer] = runs
        if (problem, optimizer, lane) not in evaluated:
            out[(problem, lane)][1][optimizer] = runs
    for (problem, optimizer, lane), runs in evaluated.items():
        out[(problem, lane)][1][optimizer] = runs
    return out


def _verdicts(defaults: dict, evaluated: dict) -> list[Verdict]:
    return [Verdict(problem, lane, _best(at_defaults), _best(tuned))
            for (problem, lane), (at_defaults, tuned) in _by_problem(defaults, evaluated).items()]


def _ranks(defaults: dict, evaluated: dict, label: str) -> dict[str, dict[str, float]]:
    """Mean rank of each optimizer over problems (1 = best median), at the defaults and under the ruleset."""
    totals: dict[str, dict[str, list[int]]] = {"defaults": defaultdict(list), label: defaultdict(list)}
    for at_defaults, tuned in _by_problem(defaults, evaluated).values():
        for which, groups in (("defaults", at_defaults), (label, tuned)):
            medians = sorted((m if m is not None else math.inf, name) for name, runs in groups.items()
                             for m in [_median(runs)])
            for rank, (_, name) in enumerate(medians, start=1):
                totals[which][name].append(rank)
    return {which: {name: sum(r) / len(r) for name, r in sorted(table.items())} for which, table in totals.items()}


def _crossings(cells: list[TunedCell]) -> list[dict[str, Any]]:
    out = []
    by_problem: dict[tuple[str, str], list[TunedCell]] = defaultdict(list)
    for cell in cells:
        if cell.expected_best:
            by_problem[(cell.problem, cell.lane)].append(cell)
    for (problem, lane), group in by_problem.items():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.metric != b.metric:
                    continue
                k = crossing(a.expected_best, b.expected_best, lower_is_better=not a.higher_is_better)
                if k is not None:
                    out.append({"problem": problem, "lane": lane, "first": a.optimizer, "second": b.optimizer, "k": k})
    return out
