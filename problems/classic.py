"""Classic continuous test functions with a seeded shift per instance."""

from __future__ import annotations

import math
from typing import Any

import torch

from optbench.api import Capability, ConfigError, Problem, Space
from optbench.seeding import instance_generator


class ShiftedFunction(Problem):
    """A function of ``z = x - shift`` on a box, optimum at ``x = shift`` with value 0.

    Subclasses set ``family``, ``lower``/``upper`` bounds, ``shift_range`` and ``_f(Z)``.
    """

    lower: float = -5.0
    upper: float = 5.0
    shift_range: float = 2.0
    differentiable: bool = True

    def __init__(self, *, dim: int = 10, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"{self.family}: dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self.space = Space.box(dim, self.lower, self.upper)
        gen = instance_generator(self.family, instance)
        shift = (torch.rand(dim, generator=gen, dtype=torch.float64) * 2 - 1) * self.shift_range
        self.shift = shift.to(device=self.device, dtype=self.dtype)
        self.optimal_value = 0.0
        self.capabilities = frozenset({Capability.DIFFERENTIABLE} if self.differentiable else ())

    def params(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @property
    def optimum(self) -> torch.Tensor:
        """The minimizer, shape ``(d,)``."""
        return self.shift

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        return self._f(X - self.shift)

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Sphere(ShiftedFunction):
    """``f(z) = sum z_i^2``: the smooth, separable baseline."""

    family = "sphere"
    target = 1e-8

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        return (Z * Z).sum(dim=1)


class Rosenbrock(ShiftedFunction):
    """``f(z) = sum 100 (z_{i+1} - z_i^2)^2 + (1 - z_i)^2`` of ``z = x - shift + 1``: a curved valley."""

    family = "rosenbrock"
    target = 1e-6

    def __init__(self, *, dim: int = 10, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        if isinstance(dim, int) and dim < 2:
            raise ConfigError(f"rosenbrock: dim must be at least 2, got {dim}")
        super().__init__(dim=dim, instance=instance, device=device, dtype=dtype)

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        Z = Z + 1.0
        head, tail = Z[:, :-1], Z[:, 1:]
        return (100.0 * (tail - head * head) ** 2 + (1.0 - head) ** 2).sum(dim=1)


class Rastrigin(ShiftedFunction):
    """``f(z) = 10 d + sum z_i^2 - 10 cos(2 pi z_i)``: a bowl under a regular grid of local minima."""

    family = "rastrigin"
    lower, upper = -5.12, 5.12
    target = 1e-6

    def _f(self, Z: torch.Tensor) -> torch.Tensor:
        return 10.0 * Z.shape[1] + (Z * Z - 10.0 * torch.cos(2 * math.pi * Z)).sum(dim=1)
