"""Linear least-squares regression on synthetic data with a chosen condition number."""

from __future__ import annotations

import math
from typing import Any

import torch

from optbench.api import Capability, ConfigError, Problem, Space
from optbench.seeding import instance_generator


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


class LinearRegression(Problem):
    """``f(x) = ||A x - b||^2 / n`` with ``b = A x_true + noise``; held-out MSE as the test metric.

    Exposes ``(A, b)`` and the exact optimum from the closed form, so the gap is measured
    against the true minimum, not the best value any optimizer found.
    """

    family = "linreg"

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
            raise ConfigError(f"linreg: need integers 1 <= d <= n, got n={n!r}, d={d!r}")
        if not (noise >= 0 and math.isfinite(noise)):
            raise ConfigError(f"linreg: noise must be a finite number >= 0, got {noise!r}")
        if not (1.0 <= cond <= 1e12):
            raise ConfigError(f"linreg: cond must be in [1, 1e12], got {cond!r}")
        self.n, self.d, self.noise, self.cond = n, d, float(noise), float(cond)
        gen = instance_generator(self.family, instance)
        A, A_test = _synthetic_design(n, d, self.cond, gen, n_test=n)
        x_true = torch.randn(d, generator=gen, dtype=torch.float64)
        b = A @ x_true + self.noise * torch.randn(n, generator=gen, dtype=torch.float64)
        b_test = A_test @ x_true + self.noise * torch.randn(n, generator=gen, dtype=torch.float64)
        x_star = torch.linalg.lstsq(A, b.unsqueeze(1), driver="gelsd").solution.squeeze(1)
        self.optimal_value = float(((A @ x_star - b) ** 2).mean())
        self.target = 1e-6 * max(1.0, self.optimal_value)
        bound = max(10.0, math.ceil(2.0 * float(x_star.abs().max())))
        self.space = Space.box(d, -bound, bound)
        self.n_examples = n
        self.capabilities = frozenset(
            {
                Capability.DIFFERENTIABLE,
                Capability.MINIBATCH,
                Capability.LINEAR_LEAST_SQUARES,
                Capability.TEST_METRIC,
            }
        )
        to = {"device": self.device, "dtype": self.dtype}
        self.A, self.b = A.to(**to), b.to(**to)
        self.A_test, self.b_test = A_test.to(**to), b_test.to(**to)
        self.x_star = x_star.to(**to)

    test_metric_name = "test_mse"

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "d": self.d, "noise": self.noise, "cond": self.cond}

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        residual = X @ self.A.T - self.b  # (k, n)
        return (residual * residual).mean(dim=1)

    def loss(self, x: torch.Tensor, *, batch: torch.Tensor | None = None) -> torch.Tensor:
        A, b = (self.A, self.b) if batch is None else (self.A[batch], self.b[batch])
        residual = A @ x - b
        return (residual * residual).mean()

    def least_squares(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.A, self.b

    def test_metric(self, x: torch.Tensor) -> float:
        residual = self.A_test @ x.to(device=self.device, dtype=self.dtype) - self.b_test
        return float((residual * residual).mean())
