"""L2-regularized logistic regression: synthetic data and scikit-learn's breast-cancer data.

``f(w) = mean_i softplus(-y_i a_i . w) + (l2 / 2) ||w||^2`` with labels ``y in {-1, +1}``: smooth
and strongly convex, so the optimum is unique. It is computed at construction to high precision
(SciPy's L-BFGS-B, then Newton steps in float64), so gaps are measured against the true minimum.
The test metric is held-out accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from optbench.api import VALIDATION_FRACTION, Capability, ConfigError, Problem, Space
from optbench.seeding import instance_generator, validation_rows


def solve_logistic(A: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """The minimizer of the regularized logistic loss, shape ``(d,)``, float64 on the CPU."""
    from scipy.optimize import minimize

    A_np, y_np = A.numpy(), y.numpy()

    def value_and_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
        margins = y_np * (A_np @ w)
        loss = np.logaddexp(0.0, -margins).mean() + 0.5 * l2 * w @ w
        weights = -y_np / (1.0 + np.exp(margins))
        return float(loss), A_np.T @ weights / len(y_np) + l2 * w

    w = minimize(value_and_grad, np.zeros(A.shape[1]), jac=True, method="L-BFGS-B",
                 options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000}).x
    w = torch.as_tensor(w, dtype=torch.float64)
    eye = torch.eye(A.shape[1], dtype=torch.float64)
    for _ in range(20):  # Newton polish: quadratic convergence from L-BFGS's answer
        p = torch.sigmoid(y * (A @ w))
        grad = A.T @ (-(1 - p) * y) / len(y) + l2 * w
        if float(grad.abs().max()) < 1e-14:
            break
        hessian = (A.T * (p * (1 - p))) @ A / len(y) + l2 * eye
        w = w - torch.linalg.solve(hessian, grad)
    return w


class LogisticRegression(Problem):
    """Synthetic logistic regression: Gaussian features, labels drawn from a planted model."""

    family = "logreg"
    landscape = "smooth"
    test_metric_name = "test_accuracy"
    test_metric_higher_is_better = True

    def __init__(self, *, n: int = 500, d: int = 20, l2: float = 1e-3, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not (isinstance(n, int) and isinstance(d, int) and n >= 2 and d >= 1):
            raise ConfigError(f"logreg: need integers n >= 2 and d >= 1, got n={n!r}, d={d!r}")
        self.n, self.d = n, d
        gen = instance_generator(self.family, instance)
        w_true = torch.randn(d, generator=gen, dtype=torch.float64) * (3.0 / math.sqrt(d))

        def sample(m: int) -> tuple[torch.Tensor, torch.Tensor]:
            A = torch.randn(m, d, generator=gen, dtype=torch.float64)
            y = torch.where(torch.rand(m, generator=gen, dtype=torch.float64) < torch.sigmoid(A @ w_true), 1.0, -1.0)
            return A, y.to(torch.float64)

        self._setup(*sample(n), *sample(n), l2=l2)

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        n, d = params.get("n"), params.get("d")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, d)):
            return None
        return 8.0 * (6 * n * d + 4 * d * d)  # train and test designs, the solver's Hessian and copies

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "d": self.d, "l2": self.l2}

    def _setup(self, A: torch.Tensor, y: torch.Tensor, A_test: torch.Tensor, y_test: torch.Tensor, *,
               l2: float) -> None:
        if not (isinstance(l2, int | float) and l2 > 0):
            raise ConfigError(f"{self.family}: l2 must be a positive number, got {l2!r}")
        self.l2 = float(l2)
        w_star = solve_logistic(A, y, self.l2)
        to = {"device": self.device, "dtype": self.dtype}
        self.A, self.y, self.A_test, self.y_test = A.to(**to), y.to(**to), A_test.to(**to), y_test.to(**to)
        self.w_star = w_star.to(**to)
        self.n_examples = A.shape[0]
        bound = max(10.0, math.ceil(2.0 * float(w_star.abs().max())))
        self.space = Space.box(A.shape[1], -bound, bound)
        self.capabilities = frozenset({Capability.DIFFERENTIABLE, Capability.MINIBATCH, Capability.TEST_METRIC})
        self.optimal_value = float(self._evaluate(self.w_star.unsqueeze(0))[0])
        self.target = 1e-8

    @property
    def optimum(self) -> torch.Tensor:
        return self.w_star

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        margins = (self.A @ X.T) * self.y.unsqueeze(1)  # (n, k)
        return F.softplus(-margins).mean(dim=0) + 0.5 * self.l2 * (X * X).sum(dim=1)

    def loss(self, x: torch.Tensor, *, batch: torch.Tensor | None = None) -> torch.Tensor:
        A, y = (self.A, self.y) if batch is None else (self.A[batch], self.y[batch])
        return F.softplus(-(A @ x) * y).mean() + 0.5 * self.l2 * (x * x).sum()

    def test_metric(self, x: torch.Tensor) -> float:
        predictions = torch.where(self.A_test @ x.to(device=self.device, dtype=self.dtype) >= 0, 1.0, -1.0)
        return float((predictions == self.y_test).to(torch.float64).mean())

    def validation_split(self, fraction: float = VALIDATION_FRACTION) -> None:
        train, held = validation_rows(self.n_examples, fraction, self.family, self.instance)
        A, y = self.A.to(device="cpu", dtype=torch.float64), self.y.to(device="cpu", dtype=torch.float64)
        self._setup(A[train], y[train], A[held], y[held], l2=self.l2)


class BreastCancer(LogisticRegression):
    """Logistic regression on scikit-learn's breast-cancer data (569 tumours, 30 features).

    Standardized features plus an intercept; instances draw the 70/30 train/test split.
    """

    family = "cancer"
    landscape = "smooth"

    def __init__(self, *, l2: float = 1e-3, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        Problem.__init__(self, instance=instance, device=device, dtype=dtype)
        from optbench.problems.datasets import breast_cancer

        features, labels = breast_cancer()
        X = torch.tensor(features, dtype=torch.float64)
        X = torch.cat([(X - X.mean(0)) / X.std(0), torch.ones(X.shape[0], 1, dtype=torch.float64)], dim=1)
        y = torch.tensor(labels, dtype=torch.float64) * 2 - 1
        order = torch.randperm(X.shape[0], generator=instance_generator(self.family, instance))
        cut = int(0.7 * X.shape[0])
        self.n, self.d = cut, X.shape[1]
        self._setup(X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]], l2=l2)

    def params(self) -> dict[str, Any]:
        return {"l2": self.l2}
