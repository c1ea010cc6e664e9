"""Batched random search: uniform in the box, uniform bits, or uniform in a module's sampling range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, ConfigError, Optimizer, Space, SpaceKind
from optbench.evaluator import Evaluator
from optbench.seeding import torch_generator


def sample(space: Space, n: int, *, generator: torch.Generator, device: torch.device,
           dtype: torch.dtype) -> torch.Tensor:
    """``n`` uniform points of ``space``, shape ``(n, d)``, drawn on ``device`` in one call."""
    if space.kind is SpaceKind.BITS:
        return torch.randint(0, 2, (n, space.dim), generator=generator, device=device, dtype=torch.uint8)
    lower, upper = space.bounds(device=device, dtype=dtype)
    return torch.rand(n, space.dim, generator=generator, device=device, dtype=dtype) * (upper - lower) + lower


@dataclass(frozen=True)
class RandomSearch(Optimizer):
    """Blind search: ``batch_size`` uniform points per evaluation call until the budget is spent."""

    name: ClassVar[str] = "random"

    batch_size: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ConfigError(f"random: batch_size must be a positive integer, got {self.batch_size!r}")

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        gen = torch_generator(rng, evaluator.device)
        try:
            while True:
                n = int(min(self.batch_size, max(evaluator.remaining, 1)))
                evaluator.evaluate(sample(evaluator.space, n, generator=gen, device=evaluator.device,
                                          dtype=evaluator.dtype))
        except BudgetExhausted:
            pass
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before random search evaluated a point")
        return evaluator.best_x
