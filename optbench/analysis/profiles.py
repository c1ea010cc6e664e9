"""Across problems: average ranks, runtime ECDFs (COCO's data profiles) and Dolan–Moré performance profiles.

Runtimes come from the anytime traces: a run hits a target gap when its best-so-far first comes
within it of the problem's reference value — the known optimum, or the best final value any
optimizer reached when the optimum is unknown (IOHprofiler's convention). Traces keep the first
improvement of every log bucket (50 per decade), so hitting times are exact to within 5%.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from optbench.analysis.stats import Cell
from optbench.api import TrialResult

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
            groups[(r.spec.problem_label, r.spec.optimizer_label, r.spec.lane)].append(r)
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


def runtime_ecdfs(results: Sequence[TrialResult], *, points: int = 60,
                  runs: Sequence[Runs] | None = None) -> tuple[Ecdf, Ecdf]:
    """COCO's data profiles against evaluations and against seconds; each problem weighs the same.

    ``runs`` is :func:`group_runs` of ``results`` when the caller has it already.
    """
    runs = group_runs(results) if runs is None else runs
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


def leaderboard(cells: Sequence[Cell], tied: AbstractSet[tuple[str, str, str]]) -> list[Standing]:
    """Average rank of each optimizer over the problems it ran, best first."""
    from optbench.analysis.ranks import average_ranks

    ranks: dict[str, list[float]] = defaultdict(list)
    groups: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for c in cells:
        if c.with_result:
            groups[(c.problem, c.device)].append(c)
    for group in groups.values():
        for c, rank in zip(group, average_ranks([c.ranking_key for c in group]), strict=True):
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


# ---------------------------------------------------------------------------- Moré & Wild (2009)

MORE_WILD_TAUS = (1e-1, 1e-3, 1e-5, 1e-7)


@dataclass(frozen=True)
class Solved:
    """When each run of one (problem, device) first passed the convergence test at one tolerance.

    ``evaluations`` and ``seconds`` are ``inf`` for runs that never passed; ``budget`` is what each
    run spent in total (for the expected running time).
    """

    problem: str
    device: str
    optimizer: str
    dim: int
    evaluations: np.ndarray  # (runs,)
    seconds: np.ndarray  # (runs,)
    budget: np.ndarray  # (runs,) evaluations spent

    @property
    def ert(self) -> float:
        """COCO's expected running time in evaluations: all spent to the first pass (or in all) / passes."""
        hits = np.isfinite(self.evaluations)
        if not hits.any():
            return math.inf
        return float(np.where(hits, self.evaluations, self.budget).sum() / hits.sum())


@dataclass(frozen=True)
class MoreWildProfiles:
    """Data and performance profiles of Moré & Wild at one tolerance ``tau``.

    A run solves its problem once ``f ≤ f_L + tau·(f0 − f_L)``: ``f_L`` is the known optimum (or the
    best value any optimizer reached), ``f0`` the problem's common starting level (the median first
    value of every run on it). Each curve is a right-continuous step function sampled at ``alphas``:

    * data profile: ``d_s(α)`` = mean over problems of the share of ``s``'s runs that solved it within
      ``α·(n_p + 1)`` evaluations (``n_p`` the dimension: simplex gradients);
    * performance profile: ``ρ_s(α)`` = share of problems where ``s``'s expected running time is within
      ``α`` times the best optimizer's.

    Problems where an optimizer has no run count as unsolved by it, so every curve of a tolerance
    is over the same problem set.
    """

    tau: float
    problems: int
    data_alphas: np.ndarray  # (k,) budgets in simplex gradients, increasing
    data: dict[str, np.ndarray]  # optimizer -> (k,) share in [0, 1]
    performance_alphas: np.ndarray  # (m,) ratios >= 1, increasing
    performance: dict[str, np.ndarray]  # optimizer -> (m,)
    solved_runs: dict[str, float]  # the data profile's limit: problem-weighted share of runs that solved
    solved_problems: dict[str, float]  # the performance profile's limit: share of problems solved at all


_DIM = re.compile(r"_d(\d+)(?:_|$)")


def problem_dimension(problem_id: str) -> int:
    """The dimension in a COCO-style id (``rastrigin_d10_i3`` -> 10); 0 when it has none (then α counts evaluations)."""
    match = _DIM.search(problem_id)
    return int(match.group(1)) if match else 0


def convergence_levels(groups: Sequence[Runs]) -> tuple[float, float]:
    """``(f_L, f0)`` of one problem: the known optimum or best value reached, and the median first value."""
    first = groups[0].results[0]
    firsts = [r.trace[0].best for g in groups for r in g.results if math.isfinite(r.trace[0].best)]
    f0 = float(np.median(firsts)) if firsts else math.inf
    if first.optimal_value is not None:
        return float(first.optimal_value), f0
    bests = [p.best for g in groups for r in g.results for p in r.trace if math.isfinite(p.best)]
    return (min(bests) if bests else math.inf), f0


def solved_runs(results: Sequence[TrialResult], tau: float) -> list[Solved]:
    """First passage of the convergence test at ``tau`` for every run, per (problem, device, optimizer)."""
    return solved_of(group_runs(results), tau)


def solved_of(runs: Sequence[Runs], tau: float) -> list[Solved]:
    """:func:`solved_runs` from the :func:`group_runs` of the results."""
    by_problem: dict[tuple[str, str], list[Runs]] = defaultdict(list)
    for g in runs:
        by_problem[(g.problem, g.device)].append(g)
    out = []
    for (problem, device), groups in by_problem.items():
        f_low, f0 = convergence_levels(groups)
        level = f_low + tau * max(f0 - f_low, 0.0) if math.isfinite(f0) else f_low
        dim = problem_dimension(groups[0].results[0].problem_id)
        for g in groups:
            evals = np.full(len(g.results), math.inf)
            secs = np.full(len(g.results), math.inf)
            for i, r in enumerate(g.results):
                hit = next((p for p in r.trace if p.best <= level), None)  # best-so-far: the first is the pass
                if hit is not None:
                    evals[i], secs[i] = hit.evaluations, hit.seconds
            out.append(Solved(problem, device, g.optimizer, dim, evals, secs,
                              np.array([r.evaluations for r in g.results], dtype=np.float64)))
    return out


def _steps(values: Sequence[np.ndarray], extra: Sequence[float] = ()) -> np.ndarray:
    finite = [v[np.isfinite(v)] for v in values]
    joined = np.concatenate([*finite, np.asarray(extra, dtype=np.float64)]) if finite or extra else np.array([])
    return np.unique(joined)


def more_wild(results: Sequence[TrialResult], tau: float) -> MoreWildProfiles:
    """Data and performance profiles at ``tau`` over every (problem, device) with traced runs."""
    return more_wild_of(solved_runs(results, tau), tau)


def more_wild_of(solved: Sequence[Solved], tau: float) -> MoreWildProfiles:
    """:func:`more_wild` from the :func:`solved_runs` at ``tau``."""
    problems = list(dict.fromkeys((s.problem, s.device) for s in solved))
    names = list(dict.fromkeys(s.optimizer for s in solved))
    table = {(s.problem, s.device, s.optimizer): s for s in solved}
    scaled = {k: s.evaluations / (s.dim + 1) for k, s in table.items()}
    alphas = _steps(list(scaled.values()))
    data: dict[str, np.ndarray] = {}
    for n in names:
        per_problem = [np.mean(scaled[(p, d, n)][:, None] <= alphas[None, :], axis=0) if (p, d, n) in scaled
                       else np.zeros(alphas.shape) for p, d in problems]
        data[n] = np.mean(per_problem, axis=0) if per_problem else np.zeros(alphas.shape)
    ratios: dict[str, list[float]] = {n: [] for n in names}
    for p, d in problems:
        erts = {n: table[(p, d, n)].ert if (p, d, n) in table else math.inf for n in names}
        best = min(erts.values())
        for n in names:
            ratios[n].append(erts[n] / best if math.isfinite(best) and best > 0 else
                             (1.0 if best == 0 and erts[n] == 0 else math.inf))
    r_arrays = {n: np.asarray(v, dtype=np.float64) for n, v in ratios.items()}
    taus = _steps(list(r_arrays.values()), extra=(1.0,))
    performance = {n: np.mean(r[:, None] <= taus[None, :], axis=0) if r.size else np.zeros(taus.shape)
                   for n, r in r_arrays.items()}
    solved_share = {n: float(np.mean([np.mean(np.isfinite(table[(p, d, n)].evaluations)) if (p, d, n) in table
                                      else 0.0 for p, d in problems])) if problems else 0.0 for n in names}
    solved_any = {n: float(np.mean(np.isfinite(r_arrays[n]))) if problems else 0.0 for n in names}
    return MoreWildProfiles(tau, len(problems), alphas, data, taus, performance, solved_share, solved_any)


def more_wild_profiles(results: Sequence[TrialResult],
                       taus: Sequence[float] = MORE_WILD_TAUS) -> list[MoreWildProfiles]:
    """:func:`more_wild` at every tolerance, in the order given."""
    return [more_wild(results, tau) for tau in taus]


def cell_solved(results: Sequence[TrialResult], taus: Sequence[float] = MORE_WILD_TAUS
                ) -> dict[tuple[str, str, str], dict[float, tuple[int, float]]]:
    """Per (problem, optimizer, device): at each tau, how many runs solved and their ERT in evaluations."""
    return cell_solved_of({tau: solved_runs(results, tau) for tau in taus})


def cell_solved_of(solved: Mapping[float, Sequence[Solved]]
                   ) -> dict[tuple[str, str, str], dict[float, tuple[int, float]]]:
    """:func:`cell_solved` from the :func:`solved_runs` at each tau (``tau -> runs``, in the taus' order)."""
    out: dict[tuple[str, str, str], dict[float, tuple[int, float]]] = defaultdict(dict)
    for tau, runs in solved.items():
        for s in runs:
            out[(s.problem, s.optimizer, s.device)][tau] = (int(np.isfinite(s.evaluations).sum()), s.ert)
    return dict(out)
