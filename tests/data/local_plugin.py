"""A plugin file loaded with --plugin: one problem from a plain function, one optimizer class."""

from dataclasses import dataclass
from typing import ClassVar

import torch

from optbench.api import Optimizer, SpaceKind
from optbench.plugins import problem, register_optimizer


@problem("local_abs", dim=3, bounds=(-2.0, 2.0), optimal_value=0.0, target=1e-3)
def local_abs(X: torch.Tensor) -> torch.Tensor:
    return (X - 0.5).abs().sum(dim=1)


@register_optimizer
@dataclass(frozen=True)
class CoordinateGrid(Optimizer):
    name: ClassVar[str] = "local_grid"
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS})
    points: int = 5

    def minimize(self, evaluator, *, rng):
        lo, hi = evaluator.bounds()
        grid = torch.linspace(0, 1, self.points, dtype=lo.dtype, device=lo.device)
        mesh = torch.cartesian_prod(*[lo[i] + (hi[i] - lo[i]) * grid for i in range(evaluator.dim)])
        values = evaluator.evaluate(mesh.reshape(-1, evaluator.dim))
        return mesh.reshape(-1, evaluator.dim)[int(values.argmin())]
