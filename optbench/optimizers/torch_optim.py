"""Gradient methods from ``torch.optim``: SGD and Adam, on minibatches where the problem has data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, Capability, ConfigError, Optimizer, SpaceKind
from optbench.evaluator import Evaluator
from optbench.seeding import torch_generator
from optbench.tuning.space import Range, choice, loguniform, one_minus_log, zero_or_loguniform


def _positive(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{owner}: {name} must be a finite number {bound}, got {value!r}")


@dataclass(frozen=True)
class TorchOptimizer(Optimizer):
    """Runs a ``torch.optim`` optimizer on one parameter vector through the evaluator.

    Minibatches of ``batch_size`` examples (drawn without replacement within an epoch) are used
    on problems with data; ``batch_size=None`` or a problem without examples means full gradients.
    On a box the iterate is projected back onto the bounds after every step.
    """

    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS, SpaceKind.PARAMS})
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.DIFFERENTIABLE})

    # whether ``step`` gets the closure (optimizers that evaluate it several times, e.g. LBFGS,
    # need it); SGD and Adam take one gradient per step, so the closure is called directly
    step_takes_closure: ClassVar[bool] = False

    batch_size: int | None = 64

    def __post_init__(self) -> None:
        if self.batch_size is not None and (
            not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1
        ):
            raise ConfigError(f"{self.name}: batch_size must be a positive integer or None, got {self.batch_size!r}")

    def make(self, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        gen = torch_generator(rng, "cpu")
        param = evaluator.initial_point(gen).detach().clone().requires_grad_(True)
        optimizer = self.make([param])
        n = evaluator.n_examples
        minibatch = n is not None and self.batch_size is not None and self.batch_size < n
        bounds = evaluator.bounds() if evaluator.space.is_bounded else None
        order = torch.empty(0, dtype=torch.long)
        cursor = 0

        def closure() -> torch.Tensor:
            nonlocal order, cursor
            batch = None
            if minibatch:
                assert n is not None and self.batch_size is not None
                if cursor + self.batch_size > order.numel():  # a new epoch
                    order, cursor = torch.randperm(n, generator=gen).to(evaluator.device), 0
                batch = order[cursor : cursor + self.batch_size]
                cursor += self.batch_size
            loss, grad = evaluator.loss_and_grad(param.detach(), batch=batch)
            param.grad = grad
            return loss

        try:
            while True:
                if self.step_takes_closure:
                    optimizer.step(closure)
                else:
                    closure()
                    optimizer.step()
                if bounds is not None:
                    with torch.no_grad():
                        param.clamp_(bounds[0], bounds[1])
        except BudgetExhausted:
            pass
        return param.detach()


@dataclass(frozen=True)
class SGD(TorchOptimizer):
    """``torch.optim.SGD`` (with momentum and Nesterov as options)."""

    name: ClassVar[str] = "sgd"
    search_space: ClassVar[dict[str, Range]] = {
        "lr": loguniform(1e-4, 1.0), "momentum": choice(0.0, 0.5, 0.9, 0.99),
        "weight_decay": zero_or_loguniform(1e-6, 1e-2), "batch_size": choice(32, 64, 128)}

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("sgd", "lr", self.lr)
        _positive("sgd", "momentum", self.momentum, allow_zero=True)
        _positive("sgd", "weight_decay", self.weight_decay, allow_zero=True)
        if self.nesterov and self.momentum <= 0:
            raise ConfigError("sgd: nesterov=True needs momentum > 0")

    def make(self, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                               weight_decay=self.weight_decay)


@dataclass(frozen=True)
class Adam(TorchOptimizer):
    """``torch.optim.Adam``."""

    name: ClassVar[str] = "adam"
    search_space: ClassVar[dict[str, Range]] = {
        "lr": loguniform(1e-5, 1.0), "betas": (one_minus_log(-3.0, -0.5), one_minus_log(-4.0, -1.0)),
        "weight_decay": zero_or_loguniform(1e-6, 1e-2), "batch_size": choice(32, 64, 128)}

    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("adam", "lr", self.lr)
        _positive("adam", "eps", self.eps)
        _positive("adam", "weight_decay", self.weight_decay, allow_zero=True)
        betas = tuple(self.betas) if isinstance(self.betas, list | tuple) else ()
        if len(betas) != 2 or not all(isinstance(b, int | float) and 0 <= b < 1 for b in betas):
            raise ConfigError(f"adam: betas must be two numbers in [0, 1), got {self.betas!r}")
        object.__setattr__(self, "betas", betas)

    def make(self, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps,
                                weight_decay=self.weight_decay, amsgrad=self.amsgrad)
