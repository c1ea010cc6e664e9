"""Pseudo-Boolean problems over bit strings."""

from __future__ import annotations

from typing import Any

import torch

from optbench.api import ConfigError, Problem, Space


class OneMax(Problem):
    """``f(x) = n - sum x_i``: count the zero bits; optimum 0 at the all-ones string."""

    family = "onemax"
    target = 0.0

    def __init__(self, *, n: int = 64, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"onemax: n must be a positive integer, got {n!r}")
        self.n = n
        self.space = Space.bits(n)
        self.optimal_value = 0.0

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        return (self.n - X.sum(dim=1, dtype=torch.int64)).to(self.dtype)
