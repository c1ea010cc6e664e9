"""Linear least-squares regression on synthetic data with a chosen condition number."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from optbench.api import VALIDATION_FRACTION, Capability, ConfigError, Problem, Space
from optbench.seeding import instance_generator, validation_rows


def _synthetic_design(
    n: int, d: int, cond: float, gen: torch.Generator, *, n_test: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and test design matrices whose rows share one covariance.

    The train matrix is ``sqrt(n) U S V^T`` with orthonormal ``U``, so its condition number is
    exactly ``cond``; test rows are ``G S V^T`` with Gaussian ``G``, the same row distribution.
    Returns ``(A_train, A_test)`` of shapes ``(n, d)`` and ``(n_test, d)`` in float64 on the CPU.
    """
    f64 = torch.float64
    U, _ = torch.linalg.qr(torch.randn(n, d, generator=gen, dtype=f64))
    V, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=f64))
    s = torch.logspace(0, -math.log10(cond), d, dtype=f64) if d > 1 else torch.ones(1, dtype=f64)
    SVt = s[:, None] * V.T
    A = math.sqrt(n) * U @ SVt
    A_test = torch.randn(n_test, d, generator=gen, dtype=f64) @ SVt
    return A, A_test


class LeastSquaresProblem(Problem):
    """``f(x) = ||A x - b||^2 / n + l2 ||x||^2`` over ``n`` training examples; held-out MSE as the test metric.

    Subclasses call :meth:`_setup` with float64 CPU data. The exact optimum comes from the closed
    form (an SVD solve), so the gap is measured against the true minimum, not the best value any
    optimizer found. ``least_squares()`` returns ``(A, b)`` (augmented for ``l2 > 0``) such that
    ``f(x)`` is the mean of ``(A x - b)^2``.
    """

    test_metric_name = "test_mse"

    def _setup(self, A: torch.Tensor, b: torch.Tensor, A_test: torch.Tensor, b_test: torch.Tensor, *,
               l2: float = 0.0) -> None:
        n, d = A.shape
        self.l2 = float(l2)
        A_solve, b_solve = self._augment(A, b)
        x_star = torch.linalg.lstsq(A_solve, b_solve.unsqueeze(1), driver="gelsd").solution.squeeze(1)
        self.optimal_value = float(((A_solve @ x_star - b_solve) ** 2).mean())
        self.target = 1e-6 * max(1.0, self.optimal_value)
        bound = max(10.0, math.ceil(2.0 * float(x_star.abs().max())))
        self.space = Space.box(d, -bound, bound)
        self.n_examples = n
        self.capabilities = frozenset({Capability.DIFFERENTIABLE, Capability.MINIBATCH,
                                       Capability.LINEAR_LEAST_SQUARES, Capability.TEST_METRIC})
        to = {"device": self.device, "dtype": self.dtype}
        self.A, self.b = A.to(**to), b.to(**to)
        self.A_test, self.b_test = A_test.to(**to), b_test.to(**to)
        self.x_star = x_star.to(**to)
        self._lsq = (A_solve.to(**to), b_solve.to(**to))

    def _augment(self, A: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.l2 == 0:
            return A, b
        n, d = A.shape
        scale = math.sqrt((n + d) / n)
        A_aug = torch.cat([A, math.sqrt(n * self.l2) * torch.eye(d, dtype=A.dtype, device=A.device)])
        return scale * A_aug, scale * torch.cat([b, torch.zeros(d, dtype=b.dtype, device=b.device)])

    @property
    def optimum(self) -> torch.Tensor:
        return self.x_star

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        residual = X @ self.A.T - self.b  # (k, n)
        value = (residual * residual).mean(dim=1)
        return value + self.l2 * (X * X).sum(dim=1) if self.l2 else value

    def loss(self, x: torch.Tensor, *, batch: torch.Tensor | None = None) -> torch.Tensor:
        A, b = (self.A, self.b) if batch is None else (self.A[batch], self.b[batch])
        residual = A @ x - b
        value = (residual * residual).mean()
        return value + self.l2 * (x * x).sum() if self.l2 else value

    def least_squares(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._lsq

    def test_metric(self, x: torch.Tensor) -> float:
        residual = self.A_test @ x.to(device=self.device, dtype=self.dtype) - self.b_test
        return float((residual * residual).mean())

    def validation_split(self, fraction: float = VALIDATION_FRACTION) -> None:
        train, held = validation_rows(self.n_examples, fraction, self.family, self.instance)
        A, b = self.A.to(device="cpu", dtype=torch.float64), self.b.to(device="cpu", dtype=torch.float64)
        self._setup(A[train], b[train], A[held], b[held], l2=self.l2)


class LinearRegression(LeastSquaresProblem):
    """Synthetic linear regression: ``b = A x_true + noise`` with ``cond(A)`` chosen exactly."""

    family = "linreg"
    landscape = "smooth"

    def __init__(
        self,
        *,
        n: int = 200,
        d: int = 20,
        noise: float = 0.1,
        cond: float = 100.0,
        instance: int = 0,
        device: Any = "cpu",
        dtype: Any = None,
    ) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not (isinstance(n, int) and isinstance(d, int) and 1 <= d <= n):
            raise ConfigError(f"{self.family}: need integers 1 <= d <= n, got n={n!r}, d={d!r}")
        if not (noise >= 0 and math.isfinite(noise)):
            raise ConfigError(f"{self.family}: noise must be a finite number >= 0, got {noise!r}")
        if not (1.0 <= cond <= 1e12):
            raise ConfigError(f"{self.family}: cond must be in [1, 1e12], got {cond!r}")
        self.n, self.d, self.noise, self.cond = n, d, float(noise), float(cond)
        gen = instance_generator(self.family, instance)
        A, A_test = _synthetic_design(n, d, self.cond, gen, n_test=n)
        x_true = torch.randn(d, generator=gen, dtype=torch.float64)
        b = A @ x_true + self.noise * torch.randn(n, generator=gen, dtype=torch.float64)
        b_test = A_test @ x_true + self.noise * torch.randn(n, generator=gen, dtype=torch.float64)
        self._setup(A, b, A_test, b_test, l2=self._l2())

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        n, d = params.get("n"), params.get("d")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, d)):
            return None
        # train and test designs in float64, the solve's copy and workspace, the SVD factors
        return 8.0 * (5 * n * d + 2 * d * d + 4 * n)

    def _l2(self) -> float:
        return 0.0

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "d": self.d, "noise": self.noise, "cond": self.cond}


class Ridge(LinearRegression):
    """Ridge regression: synthetic least squares plus ``l2 ||x||^2`` (closed form on augmented data)."""

    family = "ridge"
    landscape = "smooth"

    def __init__(self, *, n: int = 200, d: int = 20, noise: float = 0.1, cond: float = 100.0, l2: float = 0.01,
                 instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        if not (isinstance(l2, int | float) and l2 > 0 and math.isfinite(l2)):
            raise ConfigError(f"ridge: l2 must be a positive number, got {l2!r}")
        self._ridge = float(l2)
        super().__init__(n=n, d=d, noise=noise, cond=cond, instance=instance, device=device, dtype=dtype)

    def _l2(self) -> float:
        return self._ridge

    def params(self) -> dict[str, Any]:
        return {**super().params(), "l2": self._ridge}


class Diabetes(LeastSquaresProblem):
    """Least squares on scikit-learn's diabetes data (442 patients, 10 features, shipped with sklearn).

    Features plus an intercept column; the target is standardized. Instances draw the 80/20
    train/test split.
    """

    family = "diabetes"
    landscape = "smooth"

    def __init__(self, *, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        from sklearn.datasets import load_diabetes

        features, target = load_diabetes(return_X_y=True)
        X = torch.as_tensor(features, dtype=torch.float64)
        X = torch.cat([(X - X.mean(0)) / X.std(0), torch.ones(X.shape[0], 1, dtype=torch.float64)], dim=1)
        y = torch.as_tensor(target, dtype=torch.float64)
        y = (y - y.mean()) / y.std()
        order = torch.randperm(X.shape[0], generator=instance_generator(self.family, instance))
        cut = int(0.8 * X.shape[0])
        train, test = order[:cut], order[cut:]
        self._setup(X[train], y[train], X[test], y[test])
