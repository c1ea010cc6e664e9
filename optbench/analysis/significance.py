"""Is a difference real? Pairwise Mann–Whitney U tests per problem, Holm-corrected.

Within one problem (and device) every pair of optimizers is compared on their final scores
(gap, or value where the optimum is unknown) with SciPy's two-sided Mann–Whitney U test (computed by
:mod:`optbench.analysis.ranks`, which equals it without importing ``scipy.stats``); the
p-values of the problem are corrected together with Holm's step-down method. An optimizer is
*tied with the best* when its corrected test against the best is not significant.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optbench.analysis.stats import Cell

ALPHA = 0.05


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _comparable(values: Sequence[float]) -> np.ndarray:
    """Scores as an array where NaN ranks worst (+inf) so the rank test can use every seed."""
    arr = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(arr), np.inf, arr)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value; 1.0 when either side has fewer than two values or all are equal."""
    from optbench.analysis.ranks import mann_whitney_p

    x, y = _comparable(a), _comparable(b)
    if x.size < 2 or y.size < 2:
        return 1.0
    joined = np.concatenate([x, y])
    if np.all(joined == joined[0]):
        return 1.0
    # infinities tie with each other and rank above every finite value, as ranks should
    finite_max = joined[np.isfinite(joined)].max(initial=0.0)
    x, y = (np.where(np.isinf(v), finite_max + 1.0, v) for v in (x, y))
    return mann_whitney_p(x, y)


def smallest_p_value(sizes: Sequence[int]) -> float | None:
    """The smallest two-sided exact Mann–Whitney p-value two samples of the typical size can give.

    With ``n`` seeds per side it is ``2 / C(2n, n)``: 0.1 for 3 seeds, 0.029 for 4, 0.0079 for 5.
    """
    if not sizes:
        return None
    n = int(np.median(sizes))
    return min(1.0, 2 / math.comb(2 * n, n))


def seeds_needed(optimizers: int, alpha: float = ALPHA) -> int:
    """Seeds per optimizer for which the strongest possible difference survives Holm over all pairs."""
    pairs = max(1, optimizers * (optimizers - 1) // 2)
    n = 2
    while pairs * 2 / math.comb(2 * n, n) >= alpha:
        n += 1
    return n


def resolution_warning(cells: Sequence[Cell], alpha: float = ALPHA) -> str | None:
    """A sentence when no difference can be significant: too few seeds for the optimizers compared.

    Holm over the ``k(k-1)/2`` pairs of a problem multiplies the smallest p-value by that many,
    so 5 seeds separate 2 optimizers but not 6 (the floor is then 15 x 0.0079 = 0.12).
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for cell in cells:
        if cell.with_result:
            groups.setdefault((cell.problem, cell.device), []).append(cell.with_result)
    worst: tuple[float, int, int] | None = None
    for sizes in groups.values():
        k, n = len(sizes), int(np.median(sizes))
        if k < 2:
            continue
        floor = min(1.0, k * (k - 1) // 2 * (smallest_p_value(sizes) or 1.0))
        if worst is None or floor > worst[0]:
            worst = (floor, n, k)
    if worst is None or worst[0] < alpha:
        return None
    floor, n, k = worst
    return (f"with {n} seeds and {k} optimizers on a problem the smallest p-value possible after Holm is "
            f"{floor:.2g}: no difference can be significant; run {seeds_needed(k, alpha)} or more seeds")


@dataclass(frozen=True)
class PairTest:
    """The test of one pair of optimizers on one problem and device."""

    problem: str
    device: str
    a: str
    b: str
    p_value: float
    p_holm: float
    a_better: bool  # by median score

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


def _median(cell: Cell) -> float:
    return cell.ranking_key


def compare_cells(cells: Sequence[Cell]) -> list[PairTest]:
    """Every pair of optimizers per (problem, device), Holm-corrected within that problem."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        if cell.samples:
            groups.setdefault((cell.problem, cell.device), []).append(cell)
    out: list[PairTest] = []
    for (problem, device), group in groups.items():
        pairs = list(itertools.combinations(group, 2))
        raw = [mann_whitney(a.samples, b.samples) for a, b in pairs]
        for (a, b), p, p_adj in zip(pairs, raw, holm(raw), strict=True):
            out.append(PairTest(problem, device, a.optimizer, b.optimizer, p, p_adj, _median(a) < _median(b)))
    return out


def tied_with_best(cells: Sequence[Cell], comparisons: Sequence[PairTest]) -> set[tuple[str, str, str]]:
    """``(problem, device, optimizer)`` of every optimizer not significantly worse than the best one."""
    from optbench.analysis.stats import best_per_problem

    index = {(c.problem, c.device, frozenset((c.a, c.b))): c for c in comparisons}
    tied: set[tuple[str, str, str]] = set()
    for (problem, device), best in best_per_problem(cells).items():
        tied.add((problem, device, best.optimizer))
        for cell in cells:
            if cell.problem != problem or cell.device != device or cell is best or not cell.samples:
                continue
            comparison = index.get((problem, device, frozenset((best.optimizer, cell.optimizer))))
            if comparison is not None and not comparison.significant:
                tied.add((problem, device, cell.optimizer))
    return tied


def win_rates(cells: Sequence[Cell], comparisons: Sequence[PairTest]) -> tuple[list[str], np.ndarray]:
    """Share of the problems both ran where the row optimizer beats the column one significantly.

    Returns:
        The optimizers (rows and columns, in first-seen order) and the matrix; NaN where a pair
        never met on a problem.
    """
    names = list(dict.fromkeys(c.optimizer for c in cells if c.samples))
    at = {n: i for i, n in enumerate(names)}
    wins = np.zeros((len(names), len(names)))
    met = np.zeros_like(wins)
    for c in comparisons:
        i, j = at[c.a], at[c.b]
        met[i, j] += 1
        met[j, i] += 1
        if c.significant:
            winner, loser = (i, j) if c.a_better else (j, i)
            wins[winner, loser] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(met > 0, wins / np.maximum(met, 1), math.nan)
    return names, rates
