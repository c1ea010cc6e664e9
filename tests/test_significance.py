"""Significance, bootstrap and cross-problem statistics against hand-computed values and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from optbench.analysis.profiles import leaderboard, performance_profiles
from optbench.analysis.significance import (
    compare_cells,
    holm,
    mann_whitney,
    resolution_warning,
    seeds_needed,
    smallest_p_value,
    tied_with_best,
    win_rates,
)
from optbench.analysis.stats import Spread, bootstrap_mean_ci, summarize
from optbench.api import Budget, TrialResult, TrialSpec, TrialState


def test_holm_on_known_p_values():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> made monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_mann_whitney_matches_scipy_and_ranks_nan_worst():
    a, b = [0.1, 0.2, 0.15, 0.3, 0.05, 0.12], [0.5, 0.4, 0.35, 0.6, 0.45, 0.25]
    assert mann_whitney(a, b) == pytest.approx(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    # NaN counts as worse than anything: a NaN-riddled optimizer is significantly worse
    assert mann_whitney(a, [math.nan] * 6) < 0.01
    assert mann_whitney([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert mann_whitney([1.0], [2.0, 3.0]) == 1.0


def test_smallest_p_value_of_the_exact_test():
    assert smallest_p_value([3, 3]) == pytest.approx(0.1)
    assert smallest_p_value([5]) == pytest.approx(2 / 252)


def test_seeds_needed_accounts_for_holm_over_every_pair():
    assert seeds_needed(2) == 4  # 2 / C(8, 4) = 0.029 < 0.05; 3 seeds give 0.1
    assert seeds_needed(6) == 6  # 15 pairs: 5 seeds floor at 0.12, 6 seeds at 15 * 2 / 924 = 0.032
    assert seeds_needed(8) == 7  # 28 pairs: 6 seeds floor at 0.061


def test_resolution_warning_names_the_seeds_that_would_separate_the_optimizers():
    def campaign(seeds: int, optimizers: int) -> list[TrialResult]:
        return [_result("p", f"opt{k}", s, float(k * 10 + s)) for k in range(optimizers) for s in range(seeds)]

    assert resolution_warning(summarize(campaign(5, 2))) is None
    warning = resolution_warning(summarize(campaign(5, 6)))
    assert warning is not None and "5 seeds and 6 optimizers" in warning and "run 6 or more seeds" in warning
    assert "0.12" in warning
    assert resolution_warning(summarize(campaign(6, 6))) is None


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    for i in range(300):
        sample = rng.normal(3.0, 2.0, size=30)
        low, high = bootstrap_mean_ci(sample.tolist(), seed=i)
        covered += low <= 3.0 <= high
    # percentile bootstrap at n=30 under-covers slightly; 300 draws give a binomial sd of ~1.3%
    assert 0.88 <= covered / 300 <= 0.98


def test_spread_order_statistics_and_outliers_by_hand():
    values = [1.0, 2.0, 3.0, 4.0, 100.0, math.nan]
    s = Spread.of(values)
    assert s is not None and s.nonfinite == 1 and s.minimum == 1.0 and s.maximum == math.inf
    assert s.mean == pytest.approx(22.0)  # of the finite values
    assert s.median == pytest.approx(3.5)
    assert s.outliers(values) == [5]  # NaN; 100 lies inside Q3 + 3 IQR here (IQR is inf-free: q3 = 76)
    tight = Spread.of([1.0, 1.1, 0.9, 1.0, 1.05, 50.0])
    assert tight is not None and tight.outliers([1.0, 1.1, 0.9, 1.0, 1.05, 50.0]) == [5]


def _result(problem: str, optimizer: str, seed: int, gap: float, hit: float | None = None) -> TrialResult:
    spec = TrialSpec(problem=problem, optimizer=optimizer, budget=Budget(evaluations=100), seed=seed)
    return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=gap, optimal_value=0.0, target=1e-3,
                       evaluations=100, seconds=1.0, hit_evaluations=hit,
                       hit_seconds=None if hit is None else hit / 100)


def _campaign() -> list[TrialResult]:
    out = []
    for seed in range(6):
        out += [_result("p1", "good", seed, 1e-4 * (seed + 1), hit=10.0 * (seed + 1)),
                _result("p1", "close", seed, 1.5e-4 * (seed + 1), hit=20.0 * (seed + 1)),
                _result("p1", "bad", seed, 1.0 + seed),
                _result("p2", "good", seed, 5.0 + seed),
                _result("p2", "close", seed, 0.5 + 0.1 * seed, hit=None),
                _result("p2", "bad", seed, 4.0 + seed)]
    return out


def test_ties_win_rates_ranks_and_profiles_on_a_small_campaign():
    cells = summarize(_campaign())
    comparisons = compare_cells(cells)
    assert len(comparisons) == 6  # 3 pairs on each of 2 problems
    tied = tied_with_best(cells, comparisons)
    assert ("p1", "cpu", "good") in tied and ("p1", "cpu", "close") in tied  # not separable with 6 seeds
    assert ("p1", "cpu", "bad") not in tied
    assert ("p2", "cpu", "close") in tied and ("p2", "cpu", "good") not in tied
    names, rates = win_rates(cells, comparisons)
    i = {n: k for k, n in enumerate(names)}
    assert rates[i["good"], i["bad"]] == 0.5  # wins p1 significantly, loses... p2 is a tie between them
    assert rates[i["close"], i["bad"]] == 1.0
    assert math.isnan(rates[i["good"], i["good"]])
    board = leaderboard(cells, tied)
    assert [s.optimizer for s in board] == ["close", "good", "bad"]
    assert board[0].average_rank == pytest.approx(1.5) and board[0].best_or_tied == 2
    by_evals, _ = performance_profiles(cells)
    assert by_evals.problems == 1  # only p1 was solved by anyone
    # on p1, good's ERT (35) is the best, close's is 70: ratio 2
    assert by_evals.curves["good"][0] == 1.0

    def at(name: str, tau: float) -> float:  # the profile at the largest grid point <= tau
        return float(by_evals.curves[name][np.searchsorted(by_evals.taus, tau, side="right") - 1])

    assert at("close", 1.95) == 0.0 and at("close", 2.1) == 1.0
    assert by_evals.curves["bad"].max() == 0.0
