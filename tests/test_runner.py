"""run_trial end to end through the registry, the real optimizers and the evaluator."""

from __future__ import annotations

import pytest

from optbench.api import Budget, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.runners.trial import run_trial


def make(problem: str, optimizer: str, *, seed: int = 0, budget: float = 200, pp=None, op=None) -> TrialSpec:
    return TrialSpec(problem=problem, optimizer=optimizer, budget=Budget(evaluations=budget), seed=seed,
                     problem_params=freeze_params(pp), optimizer_params=freeze_params(op))


def test_same_spec_and_seed_gives_identical_results_on_cpu():
    def path(result: TrialResult) -> list[tuple[float, float]]:  # trace points without their wall-clock seconds
        return [(p.evaluations, p.best) for p in result.trace]

    first = {}
    for optimizer in ("cmaes", "ga", "random", "adam"):
        a = run_trial(make("rosenbrock", optimizer, pp={"dim": 4}))
        b = run_trial(make("rosenbrock", optimizer, pp={"dim": 4}))
        assert a.state is TrialState.COMPLETE, a.reason
        assert a.final_value == b.final_value
        assert path(a) == path(b)
        first[optimizer] = a
    c = run_trial(make("rosenbrock", "cmaes", pp={"dim": 4}, seed=1))  # another seed, the same optimizer
    assert c.final_value != first["cmaes"].final_value and path(c) != path(first["cmaes"])


def test_lstsq_reaches_the_known_optimum_and_closes_the_trace():
    result = run_trial(make("linreg", "lstsq"))
    assert result.state is TrialState.COMPLETE
    assert result.success and abs(result.gap) < 1e-10
    assert result.evaluations == 1 and result.trace[-1].best == result.final_value
    assert result.test_metric is not None and result.test_metric > 0


@pytest.mark.parametrize(("problem", "optimizer", "reason"), [
    ("onemax", "sgd", "continuous"),
    ("onemax", "cmaes", "continuous"),
    ("sphere", "lstsq", "linear_least_squares"),
])
def test_unsuitable_pairs_are_skipped_with_the_reason(problem, optimizer, reason):
    result = run_trial(make(problem, optimizer))
    assert result.state is TrialState.SKIPPED and reason in result.reason
    assert result.evaluations == 0


def test_a_failing_optimizer_is_recorded_with_its_traceback_and_best_so_far(monkeypatch):
    from optbench.optimizers import random_search

    original = random_search.RandomSearch.minimize

    def explode(self, evaluator, *, rng):
        evaluator.evaluate(evaluator.bounds()[0].unsqueeze(0))
        raise RuntimeError("optimizer blew up")

    monkeypatch.setattr(random_search.RandomSearch, "minimize", explode)
    result = run_trial(make("sphere", "random"))
    monkeypatch.setattr(random_search.RandomSearch, "minimize", original)
    assert result.state is TrialState.FAILED
    assert "optimizer blew up" in result.reason and "Traceback" in result.reason
    assert result.final_value is not None and result.evaluations == 1


def test_gradient_methods_count_minibatches_and_report_the_test_metric():
    result = run_trial(make("linreg", "sgd", budget=20, op={"lr": 0.05, "batch_size": 20}))
    assert result.state is TrialState.COMPLETE, result.reason
    assert result.evaluations == pytest.approx(20) and result.gradient_evaluations == pytest.approx(20)
    assert result.examples == 20 * 200
    assert result.test_metric is not None
    assert len(result.trace) > 1 and result.final_value < result.trace[0].best
