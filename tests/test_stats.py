"""Statistics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from optbench.api import Budget, TrialResult, TrialSpec, TrialState
from optbench.stats import expected_running_time, summarize


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
