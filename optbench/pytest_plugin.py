"""A pytest plugin (entry point ``pytest11``): run optbench trials inside pytest-benchmark.

    def test_my_optimizer(optbench_trial):
        result = optbench_trial("rastrigin(dim=10)", "cmaes(popsize=20)", budget=2000, seeds=3)
        assert result.success_rate >= 2 / 3

Each call times whole trials with pytest-benchmark (one round per seed), so its storage,
``--benchmark-autosave``, ``--benchmark-compare`` and ``--benchmark-compare-fail=median:10%`` work
on optimizer timings; the quality of every seed (gap, success, evaluations) goes into the
benchmark's ``extra_info`` and so into its JSON.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from optbench.api import TrialResult


@dataclass(frozen=True)
class TrialRuns:
    """The results of one ``optbench_trial`` call, one per seed."""

    results: tuple[TrialResult, ...]

    @property
    def gaps(self) -> list[float | None]:
        return [r.gap for r in self.results]

    @property
    def median_gap(self) -> float | None:
        gaps = [g for g in self.gaps if g is not None]
        return statistics.median(gaps) if gaps else None

    @property
    def success_rate(self) -> float:
        return sum(r.success for r in self.results) / len(self.results)


@pytest.fixture
def optbench_trial(benchmark: Any) -> Callable[..., TrialRuns]:
    """Run ``optimizer`` on ``problem`` for ``seeds`` seeds inside ``benchmark``; returns :class:`TrialRuns`."""

    def run(problem: str, optimizer: str, *, budget: float | None = 1000, seconds: float | None = None,
            seeds: int = 3, instance: int = 0, device: str = "cpu") -> TrialRuns:
        from optbench.api import Budget, TrialSpec, TrialState, freeze_params
        from optbench.params import parse_call
        from optbench.runners.trial import run_trial

        (p_name, p_params), (o_name, o_params) = parse_call(problem), parse_call(optimizer)
        specs = iter([TrialSpec(problem=p_name, problem_params=freeze_params(p_params), optimizer=o_name,
                                optimizer_params=freeze_params(o_params), budget=Budget(budget, seconds),
                                seed=seed, instance=instance, device=device) for seed in range(seeds)])
        results: list[TrialResult] = []

        def one() -> None:
            result = run_trial(next(specs))
            if result.state.is_failure or result.state is TrialState.SKIPPED:
                raise RuntimeError(f"trial {result.spec.optimizer_label} on {result.spec.problem_label} "
                                   f"{result.state}: {(result.reason or '').strip().splitlines()[-1:]}")
            results.append(result)

        benchmark.pedantic(one, rounds=seeds, iterations=1)
        runs = TrialRuns(tuple(results))
        benchmark.extra_info.update({
            "optbench_problem": problem, "optbench_optimizer": optimizer,
            "gaps": runs.gaps, "median_gap": runs.median_gap, "success_rate": runs.success_rate,
            "evaluations": [r.evaluations for r in results],
            "optimizer_seconds": [r.seconds for r in results],
        })
        return runs

    return run
