"""Contract checks for problem and optimizer authors, usable from any pytest suite.

The built-ins pass exactly these checks (``tests/test_contract.py``); a plugin's own tests can
call them the same way::

    from optbench.testing import check_optimizer, check_problem

    def test_my_problem():
        check_problem("my_problem", params={"dim": 5})

Each check raises ``AssertionError`` naming what broke.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import torch

from optbench.api import Budget, BudgetExhausted, Capability, Optimizer, Problem, SpaceKind
from optbench.evaluator import Evaluator
from optbench.registry import make_optimizer, make_problem


def random_points(problem: Problem, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` random points of the problem's space, shape ``(n, d)``, on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    if problem.space.kind is SpaceKind.BITS:
        return torch.randint(0, 2, (n, problem.space.dim), generator=gen, dtype=torch.uint8)
    return torch.stack([problem.initial_point(gen).cpu() for _ in range(n)])


def _build(problem: str | Problem, params: dict[str, Any] | None, instance: int, device: str) -> Problem:
    if isinstance(problem, Problem):
        return problem
    return make_problem(problem, dict(params or {}), instance=instance, device=device)


def check_problem(
    problem: str,
    *,
    params: dict[str, Any] | None = None,
    device: str = "cpu",
    n: int = 16,
    instances_differ: bool | None = None,
) -> None:
    """Check a registered problem against the contract.

    Checks: output shape ``(n,)``, floating dtype and device; determinism for one instance;
    different instances differ (unless ``instances_differ=False``; by default the problem class's
    own ``instances_differ``, which ``@problem`` functions set to False); the value at the known
    minimizer (an ``optimum`` attribute) equals ``optimal_value``; no value below a known
    optimum; ``loss(x)`` equals ``evaluate(x[None])`` and has finite gradients where the problem
    is DIFFERENTIABLE; minibatch losses, the test metric and ``(A, b)`` where declared.
    """
    name = problem
    first = _build(problem, params, 0, device)
    label = first.id
    X = random_points(first, n)
    values = first.evaluate(X.to(first.device))
    assert values.shape == (n,), f"{label}: evaluate returned shape {tuple(values.shape)}, want ({n},)"
    assert values.is_floating_point(), f"{label}: evaluate returned {values.dtype}, want a float dtype"
    assert values.device.type == torch.device(device).type, f"{label}: values on {values.device}, want {device}"
    assert first.space.dim == X.shape[1]

    again = _build(name, params, 0, device).evaluate(X.to(first.device))
    assert torch.equal(torch.nan_to_num(values), torch.nan_to_num(again)), f"{label}: not deterministic by instance"
    if instances_differ is None:
        instances_differ = type(first).instances_differ
    if instances_differ:
        second = _build(name, params, 1, device)
        other = second.evaluate(X.to(first.device))
        optima = (getattr(first, "optimum", None), getattr(second, "optimum", None))
        moved = optima[0] is not None and optima[1] is not None and not torch.equal(optima[0], optima[1])
        assert moved or not torch.equal(values, other), f"{label}: instances 0 and 1 give identical values"

    if first.optimal_value is not None:
        finite = values[torch.isfinite(values)]
        slack = 1e-9 * max(1.0, abs(first.optimal_value))
        assert bool((finite >= first.optimal_value - slack).all()), f"{label}: a value is below the known optimum"
        optimum = getattr(first, "optimum", None)
        if optimum is not None:
            at = float(first.evaluate(optimum.reshape(1, -1))[0])
            assert math.isclose(at, first.optimal_value, rel_tol=1e-6, abs_tol=1e-6), (
                f"{label}: f(optimum) = {at!r} but optimal_value = {first.optimal_value!r}"
            )

    if Capability.DIFFERENTIABLE in first.capabilities:
        x = X[0].to(device=first.device, dtype=first.dtype).clone().requires_grad_(True)
        loss = first.loss(x)
        (grad,) = torch.autograd.grad(loss, x)
        assert grad.shape == x.shape and bool(torch.isfinite(grad).all()), f"{label}: gradient missing or not finite"
        full = float(first.evaluate(x.detach().unsqueeze(0))[0])
        assert math.isclose(float(loss.detach()), full, rel_tol=1e-5, abs_tol=1e-8), (
            f"{label}: loss(x) = {float(loss.detach())!r} but evaluate(x) = {full!r}"
        )
    if Capability.MINIBATCH in first.capabilities:
        assert first.n_examples and first.n_examples > 0, f"{label}: MINIBATCH needs n_examples"
        x = X[0].to(device=first.device, dtype=first.dtype)
        batch = torch.arange(min(8, first.n_examples), device=first.device)
        assert first.loss(x, batch=batch).ndim == 0, f"{label}: a minibatch loss must be a scalar"
    if Capability.TEST_METRIC in first.capabilities:
        metric = first.test_metric(X[0].to(first.device))
        assert metric is not None and math.isfinite(metric), f"{label}: TEST_METRIC declared but got {metric!r}"
    if Capability.LINEAR_LEAST_SQUARES in first.capabilities:
        A, b = first.least_squares()
        x = X[0].to(device=first.device, dtype=first.dtype)
        direct = float(((A @ x - b) ** 2).mean())
        assert math.isclose(direct, float(values[0]), rel_tol=1e-8), f"{label}: (A, b) do not define the objective"


def check_optimizer(
    optimizer: str | Optimizer,
    *,
    params: dict[str, Any] | None = None,
    problem: str = "sphere",
    problem_params: dict[str, Any] | None = None,
    budgets: tuple[int, ...] = (1, 7, 97),
) -> None:
    """Check an optimizer's budget discipline and determinism on a problem it suits.

    For every budget: it never spends more than the budget, the evaluator's count equals the
    points the problem really computed, and the same seed gives the same trace and answer.
    """
    for budget in budgets:
        traces = []
        for _ in range(2):
            prob = make_problem(problem, dict(problem_params or {}))
            computed = [0]
            evaluate = prob._evaluate

            def counted(X: torch.Tensor, _evaluate: Any = evaluate, _computed: list[int] = computed) -> torch.Tensor:
                _computed[0] += X.shape[0]
                return _evaluate(X)

            prob._evaluate = counted  # type: ignore[method-assign]
            opt = optimizer if isinstance(optimizer, Optimizer) else make_optimizer(optimizer, dict(params or {}))
            reason = opt.check(prob.space, prob.capabilities)
            assert reason is None, f"{problem} does not suit this optimizer: {reason}"
            evaluator = Evaluator(prob, Budget(evaluations=budget))
            with contextlib.suppress(BudgetExhausted):
                opt.minimize(evaluator, rng=np.random.default_rng(0))
            label = f"{getattr(opt, 'name', opt)} on {prob.id} with budget {budget}"
            assert evaluator.evaluations <= budget, f"{label}: spent {evaluator.evaluations}"
            if Capability.DIFFERENTIABLE not in prob.capabilities:
                assert computed[0] == evaluator.points, (
                    f"{label}: the problem computed {computed[0]} points but {evaluator.points} were counted"
                )
            traces.append(evaluator.trace)
        assert traces[0] == traces[1], f"{label}: the same seed gave different traces"
