"""Gradient descent that a test can make worse (``OPTBENCH_DEGRADE=lr``: the step cut by 100x) or slower
(``OPTBENCH_DEGRADE=sleep``: 2 ms of sleep per step) without changing its name or parameters."""

import os
import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from optbench.api import Capability, Optimizer, SpaceKind
from optbench.plugins import register_optimizer
from optbench.seeding import torch_generator


@register_optimizer
@dataclass(frozen=True)
class Degradable(Optimizer):
    name: ClassVar[str] = "degradable"
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS})
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.DIFFERENTIABLE})
    lr: float = 0.05

    def minimize(self, evaluator, *, rng):
        mode = os.environ.get("OPTBENCH_DEGRADE", "")
        lr = self.lr / 100 if mode == "lr" else self.lr
        x = evaluator.initial_point(torch_generator(rng, evaluator.device))
        while True:
            _, grad = evaluator.loss_and_grad(x)
            x = x - lr * grad
            if mode == "sleep":
                time.sleep(0.002)
        return torch.zeros(0)
