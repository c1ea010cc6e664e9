"""Optimizers and a problem that misbehave on purpose, for the campaign-survival tests."""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from optbench.api import Optimizer, SpaceKind
from optbench.plugins import problem, register_optimizer

ALL = frozenset(SpaceKind)


def _guess(evaluator, rng, n=8):
    lo, hi = evaluator.bounds()
    u = torch.as_tensor(rng.random((n, evaluator.dim)), dtype=lo.dtype, device=lo.device)
    return evaluator.evaluate(lo + (hi - lo) * u)


@register_optimizer
@dataclass(frozen=True)
class CrashOnce(Optimizer):
    """Kills its process the first time it runs (it leaves the ``marker`` file), then works."""

    name: ClassVar[str] = "crash_once"
    spaces: ClassVar[frozenset[SpaceKind]] = ALL
    marker: str = ""

    def minimize(self, evaluator, *, rng):
        marker = Path(self.marker)
        if not marker.exists():
            marker.write_text("crashed here once")
            os._exit(3)
        _guess(evaluator, rng)


@register_optimizer
@dataclass(frozen=True)
class CrashAlways(Optimizer):
    name: ClassVar[str] = "crash_always"
    spaces: ClassVar[frozenset[SpaceKind]] = ALL

    def minimize(self, evaluator, *, rng):
        os._exit(4)


@register_optimizer
@dataclass(frozen=True)
class Sleeper(Optimizer):
    name: ClassVar[str] = "sleeper"
    spaces: ClassVar[frozenset[SpaceKind]] = ALL

    def minimize(self, evaluator, *, rng):
        _guess(evaluator, rng)
        time.sleep(3600)


@register_optimizer
@dataclass(frozen=True)
class RaiseMidway(Optimizer):
    name: ClassVar[str] = "raise_midway"
    spaces: ClassVar[frozenset[SpaceKind]] = ALL

    def minimize(self, evaluator, *, rng):
        _guess(evaluator, rng)
        raise RuntimeError("optimizer raised in the middle")


@register_optimizer
@dataclass(frozen=True)
class SlowGuess(Optimizer):
    """Guesses in small batches with a pause between them: a trial that takes a while."""

    name: ClassVar[str] = "slow_guess"
    spaces: ClassVar[frozenset[SpaceKind]] = ALL
    pause: float = 0.05

    def minimize(self, evaluator, *, rng):
        while True:
            _guess(evaluator, rng)
            time.sleep(self.pause)


@problem("nan_bowl", dim=2, bounds=(-1.0, 1.0), optimal_value=0.0, target=1e-3)
def nan_bowl(X: torch.Tensor) -> torch.Tensor:
    """A bowl that answers NaN on the left half of the box."""
    values = (X * X).sum(dim=1)
    return torch.where(X[:, 0] < 0, torch.full_like(values, float("nan")), values)
