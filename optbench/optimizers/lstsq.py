"""Closed-form linear least squares for problems that expose ``(A, b)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from optbench.api import Capability, ConfigError, Optimizer, SpaceKind
from optbench.evaluator import Evaluator

METHODS = ("auto", "qr", "cholesky", "svd")
# Cholesky on the normal equations squares the condition number; below this estimate of
# cond(A)^2 it keeps about 1e-8 relative accuracy in float64, above it QR is used instead.
CHOLESKY_MAX_GRAM_COND = 1e7


def solve_cholesky(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """Normal equations ``(A^T A) x = A^T b`` by Cholesky; ``None`` when the Gram matrix is not SPD."""
    gram = A.T @ A
    L, info = torch.linalg.cholesky_ex(gram)
    if int(info) != 0:
        return None
    return torch.cholesky_solve((A.T @ b).unsqueeze(1), L).squeeze(1)


def solve_qr(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """Reduced QR; ``None`` when ``R`` is (numerically) singular."""
    Q, R = torch.linalg.qr(A, mode="reduced")
    diag = R.diagonal().abs()
    if float(diag.min()) <= float(diag.max()) * A.shape[0] * torch.finfo(A.dtype).eps:
        return None
    return torch.linalg.solve_triangular(R, (Q.T @ b).unsqueeze(1), upper=True).squeeze(1)


def solve_svd(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Minimum-norm solution via the SVD (robust to rank deficiency, on every device)."""
    if A.device.type == "cpu":
        return torch.linalg.lstsq(A, b.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    return torch.linalg.pinv(A) @ b


@dataclass(frozen=True)
class LeastSquares(Optimizer):
    """Exact minimizer of ``||A x - b||^2``.

    ``method="auto"`` uses Cholesky on the normal equations when the Gram matrix is well
    conditioned (fastest), QR otherwise, and the SVD when ``A`` is rank deficient.
    """

    name: ClassVar[str] = "lstsq"
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS, SpaceKind.PARAMS})
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.LINEAR_LEAST_SQUARES})

    method: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"lstsq: method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        A, b = evaluator.least_squares()
        if self.method == "svd":
            return solve_svd(A, b)
        if self.method == "cholesky":
            x = solve_cholesky(A, b)
            return x if x is not None else solve_svd(A, b)
        if self.method == "auto" and A.shape[0] >= A.shape[1]:
            gram_cond = float(torch.linalg.cond(A.T @ A)) if A.shape[1] <= 4096 else float("inf")
            if gram_cond < CHOLESKY_MAX_GRAM_COND:
                x = solve_cholesky(A, b)
                if x is not None:
                    return x
        x = solve_qr(A, b) if A.shape[0] >= A.shape[1] else None
        return x if x is not None else solve_svd(A, b)
