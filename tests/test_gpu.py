"""The CUDA path: every optimizer on problems placed on the GPU (skipped without one)."""

from __future__ import annotations

import pytest
import torch

from optbench.api import Budget, TrialSpec, TrialState, freeze_params
from optbench.runners.trial import run_trial

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def spec(problem: str, optimizer: str, device: str, pp=None, op=None, budget: float = 300) -> TrialSpec:
    return TrialSpec(problem=problem, optimizer=optimizer, budget=Budget(evaluations=budget), device=device,
                     problem_params=freeze_params(pp), optimizer_params=freeze_params(op))


@pytest.mark.parametrize(("problem", "optimizer"), [
    ("linreg", "sgd"), ("linreg", "adam"), ("linreg", "lstsq"), ("rosenbrock", "cmaes"),
    ("rastrigin", "ga"), ("onemax", "ga"), ("onemax", "random"), ("sphere", "random"),
])
def test_every_optimizer_runs_on_cuda(problem, optimizer):
    result = run_trial(spec(problem, optimizer, "cuda"))
    assert result.state is TrialState.COMPLETE, result.reason
    assert result.device_name and result.device_name != "cpu"
    assert result.final_value is not None and result.seconds > 0


def test_lstsq_agrees_between_cpu_and_cuda():
    cpu = run_trial(spec("linreg", "lstsq", "cpu", pp={"n": 2000, "d": 50, "cond": 1e3}))
    gpu = run_trial(spec("linreg", "lstsq", "cuda", pp={"n": 2000, "d": 50, "cond": 1e3}))
    assert gpu.final_value == pytest.approx(cpu.final_value, rel=1e-10)
    assert gpu.optimal_value == pytest.approx(cpu.optimal_value, rel=1e-12)


def test_same_instance_is_the_same_problem_on_both_devices():
    from optbench.registry import make_problem

    cpu = make_problem("rastrigin", {"dim": 7}, instance=4, device="cpu")
    gpu = make_problem("rastrigin", {"dim": 7}, instance=4, device="cuda")
    X = torch.rand(64, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu.evaluate(X.cuda()).cpu(), cpu.evaluate(X))
