"""Statistics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from optbench.analysis.stats import expected_running_time, summarize
from optbench.api import Budget, TrialResult, TrialSpec, TrialState


def test_ert_with_partial_success_is_all_cost_over_successes():
    # three runs: hits at 100 and 300, one spends its whole 1000 without a hit -> (100 + 300 + 1000) / 2
    assert expected_running_time([1000, 1000, 1000], [100, 300, None]) == 700
    assert expected_running_time([500, 800], [None, None]) == math.inf
    assert expected_running_time([50, 60], [50, 60]) == 55  # all hit: the mean hitting time
    assert expected_running_time([], []) is None


def _result(seed: int, hit: float | None, *, optimum: float | None = 0.0) -> TrialResult:
    spec = TrialSpec(problem="pow", problem_params=(), optimizer="random", optimizer_params=(), seed=seed,
                     instance=0, budget=Budget(evaluations=1000), device="cpu")
    return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=0.0 if hit else 1.0, optimal_value=optimum,
                       target=0.0, evaluations=1000, seconds=2.0, hit_evaluations=hit,
                       hit_seconds=None if hit is None else hit / 1000, blind_search_evaluations=256.0)


def test_cells_carry_ert_in_evaluations_and_seconds_and_the_blind_reference():
    (cell,) = summarize([_result(0, 100.0), _result(1, None), _result(2, 300.0)])
    assert cell.successes == 2
    assert cell.ert_evaluations == pytest.approx(700)
    assert cell.ert_seconds == pytest.approx((0.1 + 2.0 + 0.3) / 2)
    assert cell.blind_search_evaluations == 256.0
    (unknown,) = summarize([_result(0, None, optimum=None)])
    assert unknown.ert_evaluations is None  # no optimum, no target to reach


def _final(seed: int, final: float, *, optimum: float = -156.66, target: float = 1e-4) -> TrialResult:
    spec = TrialSpec(problem="styblinski", optimizer="cmaes", seed=seed, budget=Budget(evaluations=100))
    hit = 14.0 if final - optimum <= target else None  # what the evaluator records: gap <= target
    return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=final, optimal_value=optimum,
                       target=target, evaluations=100, seconds=1.0, hit_evaluations=hit,
                       hit_seconds=None if hit is None else 0.1)


def test_a_final_value_below_the_declared_optimum_is_flagged_and_never_a_success():
    below, at, rounding = _final(0, -391.66), _final(1, -156.66), _final(2, -156.66 - 1e-4)
    assert below.below_optimum and not below.success
    assert not at.below_optimum and at.success
    assert not rounding.below_optimum and rounding.success  # within the target: rounding of the optimum
    (cell,) = summarize([below, at, rounding])
    assert cell.below_optimum == 1 and cell.successes == 2
    assert cell.ert_evaluations == (100 + 14 + 14) / 2  # the run below the optimum is no hit
    from optbench.analysis.stats import notes

    (line,) = notes([cell])
    assert "below the declared optimum -156.66" in line and "optimal_value is wrong" in line
    assert "cmaes in 1 of 3" in line
