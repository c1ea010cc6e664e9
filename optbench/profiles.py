"""Across problems: average ranks, runtime ECDFs (COCO's data profiles) and Dolan–Moré performance profiles.

Runtimes come from the anytime traces: a run hits a target gap when its best-so-far first comes
within it of the problem's reference value — the known optimum, or the best final value any
optimizer reached when the optimum is unknown (IOHprofiler's convention). Traces keep the first
improvement of every log bucket (50 per decade), so hitting times are exact to within 5%.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optbench.api import TrialResult
from optbench.stats import Cell

TARGETS_PER_PROBLEM = 21


@dataclass(frozen=True)
class Runs:
    """The runs of one (problem, optimizer, device) with their trace, and the problem's reference."""

    problem: str
    optimizer: str
    device: str
    reference: float
    results: tuple[TrialResult, ...]


def group_runs(results: Sequence[TrialResult]) -> list[Runs]:
    """Results with a trace, grouped per (problem, optimizer, device), in first-seen order."""
    groups: dict[tuple[str, str, str], list[TrialResult]] = defaultdict(list)
    for r in results:
        if r.state.has_result and r.trace:
            groups[(r.spec.problem_label, r.spec.optimizer_label, r.spec.device)].append(r)
    references: dict[tuple[str, str], float] = {}
    for (problem, _, device), runs in groups.items():
        known = runs[0].optimal_value
        best = min(p.best for r in runs for p in r.trace if math.isfinite(p.best)) if any(
            math.isfinite(p.best) for r in runs for p in r.trace) else math.inf
        key = (problem, device)
        references[key] = known if known is not None else min(references.get(key, math.inf), best)
    return [Runs(p, o, d, references[(p, d)], tuple(rs)) for (p, o, d), rs in groups.items()]


def problem_targets(runs: Sequence[Runs], success_target: float | None) -> np.ndarray:
    """Target gaps of one problem: log-spaced from the median starting gap down to the success target."""
    starts = [r.trace[0].best - g.reference for g in runs for r in g.results if math.isfinite(r.trace[0].best)]
    start = float(np.median(starts)) if starts else 1.0
    floor = success_target if success_target and success_target > 0 else max(start, 1.0) * 1e-8
    if not math.isfinite(start) or start <= floor:
        return np.array([floor])
    levels = np.logspace(math.log10(start), math.log10(floor), TARGETS_PER_PROBLEM)
    return np.append(levels, 0.0) if success_target == 0 else levels


def hitting_times(result: TrialResult, reference: float, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evaluations and seconds at which the run first came within each target (``inf``: never)."""
    evals = np.full(targets.shape, math.inf)
    secs = np.full(targets.shape, math.inf)
    for point in result.trace:  # best-so-far only improves: the first point below a target is its hit
        reached = (point.best - reference <= targets) & np.isinf(evals)
        evals[reached] = point.evaluations
        secs[reached] = point.seconds
    return evals, secs


@dataclass(frozen=True)
class Ecdf:
    """Fraction of (run, target) pairs hit by each budget, averaged over problems, per optimizer."""

    axis: str  # "evaluations" or "seconds"
    grid: np.ndarray
    curves: dict[str, np.ndarray]


def runtime_ecdfs(results: Sequence[TrialResult], *, points: int = 60) -> tuple[Ecdf, Ecdf]:
    """COCO's data profiles against evaluations and against seconds; each problem weighs the same."""
    runs = group_runs(results)
    by_problem: dict[tuple[str, str], list[Runs]] = defaultdict(list)
    for g in runs:
        by_problem[(g.problem, g.device)].append(g)
    hits: dict[str, dict[str, list[np.ndarray]]] = {"evaluations": defaultdict(list), "seconds": defaultdict(list)}
    for groups in by_problem.values():
        first = groups[0].results[0]
        targets = problem_targets(groups, first.target if first.optimal_value is not None else None)
        for g in groups:
            times = [hitting_times(r, g.reference, targets) for r in g.results]
            label = g.optimizer if len({x.device for x in runs}) == 1 else f"{g.optimizer}@{g.device}"
            hits["evaluations"][label].append(np.concatenate([t[0] for t in times]))
            hits["seconds"][label].append(np.concatenate([t[1] for t in times]))
    out = []
    for axis, per_label in hits.items():
        finite = [h[np.isfinite(h) & (h > 0)] for hs in per_label.values() for h in hs]
        values = np.concatenate(finite) if finite else np.array([])
        low = float(values.min()) if values.size else 1.0
        high = max(
            (float(r.evaluations if axis == "evaluations" else r.seconds) for r in results if r.state.has_result),
            default=low * 10,
        )
        grid = np.logspace(math.log10(low), math.log10(max(high, low * 1.01)), points)
        curves = {label: np.mean([np.mean(h[:, None] <= grid[None, :], axis=0) for h in hs], axis=0)
                  for label, hs in per_label.items()}
        out.append(Ecdf(axis, grid, curves))
    return out[0], out[1]


@dataclass(frozen=True)
class PerformanceProfile:
    """Dolan–Moré: for each optimizer, the share of problems solved within ``tau`` times the best ERT."""

    axis: str
    taus: np.ndarray
    curves: dict[str, np.ndarray]
    problems: int  # problems where at least one optimizer reached the target


def performance_profiles(cells: Sequence[Cell], *, points: int = 80) -> tuple[PerformanceProfile, PerformanceProfile]:
    """Profiles over the expected running time to each problem's success target, in evaluations and seconds."""
    out = []
    for axis in ("evaluations", "seconds"):
        costs: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        for c in cells:
            ert = c.ert_evaluations if axis == "evaluations" else c.ert_seconds
            if ert is not None and c.with_result:
                costs[(c.problem, c.device)][c.optimizer] = ert
        solved = {k: v for k, v in costs.items() if any(math.isfinite(x) and x > 0 for x in v.values())}
        names = list(dict.fromkeys(c.optimizer for c in cells if c.with_result))
        ratios: dict[str, list[float]] = {n: [] for n in names}
        for per_opt in solved.values():
            best = min(x for x in per_opt.values() if math.isfinite(x) and x > 0)
            for n in names:
                ratios[n].append(per_opt.get(n, math.inf) / best)
        finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
        top = max([*finite, 2.0])
        taus = np.logspace(0, math.log10(top * 1.5), points)
        curves = {n: (np.mean(np.asarray(rs)[:, None] <= taus[None, :], axis=0) if rs else np.zeros_like(taus))
                  for n, rs in ratios.items()}
        out.append(PerformanceProfile(axis, taus, curves, len(solved)))
    return out[0], out[1]


@dataclass(frozen=True)
class Standing:
    """One optimizer across problems."""

    optimizer: str
    problems: int  # problems it ran (with a result)
    average_rank: float  # 1 = best; ties share the average rank
    best_or_tied: int  # problems where it is best or statistically tied with the best
    successes: int
    trials: int


def leaderboard(cells: Sequence[Cell], tied: set[tuple[str, str, str]]) -> list[Standing]:
    """Average rank of each optimizer over the problems it ran, best first."""
    from scipy.stats import rankdata

    ranks: dict[str, list[float]] = defaultdict(list)
    groups: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for c in cells:
        if c.with_result:
            groups[(c.problem, c.device)].append(c)
    for group in groups.values():
        for c, rank in zip(group, rankdata([c.ranking_key for c in group], method="average"), strict=True):
            ranks[c.optimizer].append(float(rank))
    out = []
    for name, rs in ranks.items():
        mine = [c for c in cells if c.optimizer == name and c.with_result]
        out.append(Standing(
            optimizer=name,
            problems=len(rs),
            average_rank=float(np.mean(rs)),
            best_or_tied=sum((c.problem, c.device, name) in tied for c in mine),
            successes=sum(c.successes for c in mine if c.gap is not None),
            trials=sum(c.with_result for c in mine if c.gap is not None),
        ))
    return sorted(out, key=lambda s: (s.average_rank, -s.best_or_tied, s.optimizer))
