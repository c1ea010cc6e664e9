"""``scipy:<method>``: ``scipy.optimize.minimize`` methods and the global optimizers.

``scipy:L-BFGS-B``, ``scipy:Nelder-Mead``, ``scipy:Powell`` … run ``scipy.optimize.minimize``;
gradient methods get exact gradients from the evaluator when the problem is differentiable
(each costs 1 evaluation, see the cost convention). ``scipy:differential_evolution`` runs
vectorized (one batched evaluation per generation) and ``scipy:dual_annealing`` point by point.
Keywords pass through as ``options`` (minimize) or as arguments (the global ones).
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, Capability, ConfigError, Optimizer, Params, SpaceKind
from optbench.evaluator import Evaluator

MINIMIZE_METHODS = {
    "nelder-mead": "Nelder-Mead", "powell": "Powell", "cg": "CG", "bfgs": "BFGS", "newton-cg": "Newton-CG",
    "l-bfgs-b": "L-BFGS-B", "tnc": "TNC", "cobyla": "COBYLA", "cobyqa": "COBYQA", "slsqp": "SLSQP",
    "trust-constr": "trust-constr",
}
GRADIENT_METHODS = {"CG", "BFGS", "Newton-CG", "L-BFGS-B", "TNC", "SLSQP", "trust-constr"}
BOUNDED_METHODS = {"Nelder-Mead", "Powell", "L-BFGS-B", "TNC", "COBYLA", "COBYQA", "SLSQP", "trust-constr"}
GLOBAL_METHODS = {"differential_evolution", "dual_annealing"}


def canonical_method(method: str) -> str:
    if method in GLOBAL_METHODS:
        return method
    canonical = MINIMIZE_METHODS.get(method.lower())
    if canonical is None:
        known = ", ".join([*MINIMIZE_METHODS.values(), *sorted(GLOBAL_METHODS)])
        raise ConfigError(f"unknown SciPy method {method!r}; known: {known}")
    return canonical


def _check_options(method: str, options: dict[str, Any]) -> None:
    """Refuse keywords the SciPy method does not take, before any trial runs."""
    from scipy import optimize

    if method in GLOBAL_METHODS:
        params = inspect.signature(getattr(optimize, method)).parameters
        known = [p for p in params if p not in ("func", "bounds", "args", "rng", "seed", "vectorized")]
    else:
        doc = optimize.show_options(solver="minimize", method=method, disp=False) or ""
        known = re.findall(r"^(\w+) :", doc, flags=re.MULTILINE)
    unknown = sorted(set(options) - set(known))
    if known and unknown:
        raise ConfigError(f"scipy:{method} has no option {unknown[0]!r}; valid options: {', '.join(known)}")


@dataclass(frozen=True)
class ScipyOptimizer(Optimizer):
    """A SciPy optimizer by method name; keywords go to its options."""

    name: ClassVar[str] = "scipy"
    # as a bridge (entry point group ``optbench.bridges``): the library it runs, an example name, what it takes
    library: ClassVar[str] = "scipy"
    example: ClassVar[str] = "L-BFGS-B"
    summary: ClassVar[str] = (
        "scipy.optimize.minimize methods (L-BFGS-B, Nelder-Mead, Powell, …), "
        "differential_evolution, dual_annealing; keywords are the method's options")
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS, SpaceKind.PARAMS})

    method: str = "L-BFGS-B"
    options: Params = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", canonical_method(self.method))
        if self.method == "Newton-CG":
            raise ConfigError("scipy:Newton-CG needs Hessian products, which problems do not expose")
        _check_options(self.method, dict(self.options))

    @classmethod
    def from_call(cls, target: str, params: dict[str, Any]) -> ScipyOptimizer:
        from optbench.api import freeze_params

        return cls(method=target, options=freeze_params(params))

    def _x0(self, evaluator: Evaluator, rng: np.random.Generator) -> np.ndarray:
        gen = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        return evaluator.initial_point(gen).detach().cpu().numpy().astype(np.float64)

    def _bounds(self, evaluator: Evaluator) -> list[tuple[float, float]]:
        space = evaluator.space
        assert space.lower is not None and space.upper is not None
        return list(zip(space.lower, space.upper, strict=True))

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        from scipy import optimize

        to_torch = {"dtype": evaluator.dtype, "device": evaluator.device}

        def value(x: np.ndarray) -> float:
            y = float(evaluator.evaluate(torch.as_tensor(x, **to_torch).reshape(1, -1))[0])
            return y if math.isfinite(y) else math.inf

        def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
            loss, grad = evaluator.loss_and_grad(torch.as_tensor(x, **to_torch))
            return float(loss), grad.detach().cpu().numpy().astype(np.float64)

        def batch_values(X: np.ndarray) -> np.ndarray:  # DE's vectorized call: X is (d, S)
            values = evaluator.evaluate(torch.as_tensor(np.ascontiguousarray(X.T), **to_torch))
            return np.nan_to_num(values.detach().cpu().numpy().astype(np.float64), nan=np.inf)

        options = dict(self.options)
        seed = int(rng.integers(0, 2**31 - 1))
        try:
            if self.method == "differential_evolution":
                result = optimize.differential_evolution(
                    batch_values, self._bounds(evaluator), vectorized=True, updating="deferred",
                    rng=np.random.default_rng(seed), polish=False, **options,
                )
            elif self.method == "dual_annealing":
                result = optimize.dual_annealing(
                    value, self._bounds(evaluator), rng=np.random.default_rng(seed), **options,
                )
            else:
                use_grad = (
                    self.method in GRADIENT_METHODS and Capability.DIFFERENTIABLE in evaluator.capabilities
                )
                bounds = self._bounds(evaluator) if (
                    self.method in BOUNDED_METHODS and evaluator.space.is_bounded) else None
                result = optimize.minimize(
                    value_and_grad if use_grad else value, self._x0(evaluator, rng), jac=use_grad or None,
                    method=self.method, bounds=bounds, options=options or None,
                )
        except BudgetExhausted:
            return self._best(evaluator)
        return torch.as_tensor(np.asarray(result.x, dtype=np.float64), **to_torch)

    @staticmethod
    def _best(evaluator: Evaluator) -> torch.Tensor:
        x = evaluator.recommendation()
        if x is None:
            raise BudgetExhausted("the budget ran out before SciPy evaluated anything")
        return x
