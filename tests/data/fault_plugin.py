"""Optimizers that never end on their own, for the hard-limit tests (tests/test_faults.py)."""

import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from optbench.api import BudgetExhausted, Optimizer, SpaceKind
from optbench.plugins import register_optimizer

ALL = frozenset(SpaceKind)


@register_optimizer
@dataclass(frozen=True)
class Idle(Optimizer):
    """Never calls the evaluator, so no budget can stop it: only its process being killed ends it."""

    name: ClassVar[str] = "idle"
    spaces: ClassVar[frozenset[SpaceKind]] = ALL

    def minimize(self, evaluator, *, rng):
        time.sleep(3600)


@register_optimizer
@dataclass(frozen=True)
class Swallow(Optimizer):
    """Catches every BudgetExhausted and calls the evaluator again, for ever."""

    name: ClassVar[str] = "swallow"
    spaces: ClassVar[frozenset[SpaceKind]] = ALL

    def minimize(self, evaluator, *, rng):
        lo, hi = evaluator.bounds()
        while True:
            u = torch.as_tensor(rng.random((4, evaluator.dim)), dtype=lo.dtype, device=lo.device)
            try:  # noqa: SIM105 - the swallowing, written the way a plugin would write it
                evaluator.evaluate(lo + (hi - lo) * u)
            except BudgetExhausted:
                pass
