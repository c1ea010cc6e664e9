"""One analysis per comparison: everything a renderer shows, computed once from the trials' results.

:func:`analyze` summarizes the cells, tests every pair of optimizers, finds the ties with the best,
ranks optimizers across problems and computes the runtime ECDFs, the Dolan–Moré and the Moré–Wild
profiles. The terminal tables, the JSON/CSV/Markdown summaries and the HTML report
(:mod:`optbench.report`) all read the :class:`Comparison` it returns and compute no statistic of their own.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from optbench.analysis.profiles import (
    MORE_WILD_TAUS,
    Ecdf,
    MoreWildProfiles,
    PerformanceProfile,
    Runs,
    Standing,
    cell_solved_of,
    group_runs,
    leaderboard,
    more_wild_of,
    performance_profiles,
    runtime_ecdfs,
    solved_of,
)
from optbench.analysis.significance import PairTest, compare_cells, resolution_warning, tied_with_best, win_rates
from optbench.analysis.stats import Cell, best_per_problem, speedups, summarize
from optbench.api import TrialResult
from optbench.tuning.analysis import TuningAnalysis, analyze_tuning

CellKey = tuple[str, str, str]  # (problem, device, optimizer); device is the lane ("cpu float32")


@dataclass(frozen=True, eq=False)
class Comparison:
    """The analysis of one comparison's results (compared by identity: it holds arrays).

    Attributes:
        results: every trial's result, as given (failed and skipped included).
        cells: one :class:`~optbench.analysis.stats.Cell` per (problem, optimizer, lane), first-seen order.
        by_problem: the cells per problem, problems in first-seen order.
        show_device: whether the cells run on more than one lane (then every row names its device).
        pairs: the Mann–Whitney U test of every pair of optimizers per (problem, lane), Holm-corrected.
        best: the best cell per (problem, lane) (lowest median score; cells without results never win).
        tied: ``(problem, lane, optimizer)`` of the best and of every optimizer not significantly worse.
        speedups: ``(problem, optimizer, lane)`` -> median-time speedup over the CPU.
        standings: the optimizers across problems (average rank, best or tied, successes), best first.
        win_names: the optimizers of :attr:`win_rates`' rows and columns.
        win_rates: ``(k, k)`` share of shared problems where the row beats the column significantly (NaN: never met).
        resolution_warning: the sentence when too few seeds make every difference insignificant, else ``None``.
        runs: the traced runs per (problem, optimizer, lane) with the problem's reference value.
        ecdfs: the runtime ECDFs against evaluations and against seconds.
        performance: the Dolan–Moré profiles of the ERT to the target, in evaluations and in seconds.
        taus: the Moré–Wild tolerances, in the order given.
        more_wild: the Moré–Wild data and performance profiles, one per tau.
        cell_solved: ``(problem, optimizer, lane)`` -> tau -> (runs that passed the test, their ERT).
        tuning: what a tuning ruleset found (:class:`~optbench.tuning.analysis.TuningAnalysis`), or ``None``
            when nothing was tuned. Its tuning trials (a task kind) are not cells: they ran on a tuning
            instance and seed and are scored on validation, so they stay out of every other field.
    """

    results: tuple[TrialResult, ...]
    cells: tuple[Cell, ...]
    by_problem: Mapping[str, tuple[Cell, ...]]
    show_device: bool
    pairs: tuple[PairTest, ...]
    best: Mapping[tuple[str, str], Cell]
    tied: frozenset[CellKey]
    speedups: Mapping[tuple[str, str, str], float]
    standings: tuple[Standing, ...]
    win_names: tuple[str, ...]
    win_rates: np.ndarray
    resolution_warning: str | None
    runs: tuple[Runs, ...]
    ecdfs: tuple[Ecdf, Ecdf]
    performance: tuple[PerformanceProfile, PerformanceProfile]
    taus: tuple[float, ...]
    more_wild: tuple[MoreWildProfiles, ...]
    cell_solved: Mapping[tuple[str, str, str], Mapping[float, tuple[int, float]]]
    tuning: TuningAnalysis | None = None

    @property
    def best_keys(self) -> frozenset[CellKey]:
        """``(problem, lane, optimizer)`` of every best cell."""
        return frozenset((c.problem, c.device, c.optimizer) for c in self.best.values())


def analyze(results: Iterable[TrialResult], *, taus: Sequence[float] | None = None) -> Comparison:
    """Everything the renderers show about ``results``, computed once (see :func:`_analyze`).

    NaN and infinite values are data here (a problem may return NaN; the tables show it), so NumPy's
    warnings about them are not passed on to the user.
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _analyze(results, taus=taus)


def _analyze(results: Iterable[TrialResult], *, taus: Sequence[float] | None = None) -> Comparison:
    """Everything the renderers show about ``results``, computed once.

    Args:
        results: the trials of one comparison (any states).
        taus: the Moré–Wild tolerances (``None`` or empty: :data:`~optbench.analysis.profiles.MORE_WILD_TAUS`).
    """
    given = tuple(results)
    results = tuple(r for r in given if not r.spec.task)  # a task kind's trials (tuning) are not cells
    cells = summarize(results)
    by_problem: dict[str, list[Cell]] = {}
    for cell in cells:
        by_problem.setdefault(cell.problem, []).append(cell)
    pairs = compare_cells(cells)
    tied = tied_with_best(cells, pairs)
    show_device = len({c.device for c in cells}) > 1
    names, rates = win_rates(cells, pairs)
    runs = group_runs(results)
    chosen = tuple(taus or MORE_WILD_TAUS)
    solved = {tau: solved_of(runs, tau) for tau in chosen}  # one pass per distinct tau
    return Comparison(
        results=results,
        cells=tuple(cells),
        by_problem=MappingProxyType({p: tuple(group) for p, group in by_problem.items()}),
        show_device=show_device,
        pairs=tuple(pairs),
        best=MappingProxyType(best_per_problem(cells)),
        tied=frozenset(tied),
        speedups=MappingProxyType(speedups(cells) if show_device else {}),
        standings=tuple(leaderboard(cells, tied)),
        win_names=tuple(names),
        win_rates=rates,
        resolution_warning=resolution_warning(cells),
        runs=tuple(runs),
        ecdfs=runtime_ecdfs(results, runs=runs),
        performance=performance_profiles(cells),
        taus=chosen,
        more_wild=tuple(more_wild_of(solved[tau], tau) for tau in chosen),
        cell_solved=MappingProxyType(cell_solved_of(solved)),
        tuning=analyze_tuning(given),
    )
