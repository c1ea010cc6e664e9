"""``torch:<Name>``: any ``torch.optim`` optimizer (AdamW, RMSprop, Adagrad, LBFGS, …) by name.

Keywords pass through to the optimizer's constructor; ``batch_size`` is optbench's own
(minibatch size on data problems, ``None`` for full gradients; LBFGS defaults to full batch
because it evaluates its closure several times per step).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from optbench.api import ConfigError, Params, freeze_params
from optbench.optimizers.torch_optim import TorchOptimizer
from optbench.tuning.space import Range, choice, loguniform, one_minus_log, zero_or_loguniform

_MISSING = object()


def _optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    cls = getattr(torch.optim, name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer):
        known = sorted(
            n for n, c in vars(torch.optim).items()
            if isinstance(c, type) and issubclass(c, torch.optim.Optimizer) and c is not torch.optim.Optimizer
        )
        raise ConfigError(f"unknown torch.optim optimizer {name!r}; known: {', '.join(known)}")
    return cls


@dataclass(frozen=True)
class TorchOptimOptimizer(TorchOptimizer):
    """A ``torch.optim`` class by name, with its keyword arguments."""

    name: ClassVar[str] = "torch"
    # as a bridge (entry point group ``optbench.bridges``): the library it runs, an example name, what it takes
    library: ClassVar[str] = "torch"
    example: ClassVar[str] = "AdamW"
    summary: ClassVar[str] = (
        "any torch.optim class (AdamW, RMSprop, LBFGS, …) with its keywords; batch_size=64 (None: "
        "full gradients)")
    step_takes_closure: ClassVar[bool] = True  # any torch.optim class: LBFGS needs it, the others accept it
    # workload-agnostic spaces of the common members (`optbench list optimizers` says the others have none)
    search_spaces: ClassVar[dict[str, dict[str, Range]]] = {
        "AdamW": {"lr": loguniform(1e-5, 1.0), "betas": (one_minus_log(-3.0, -0.5), one_minus_log(-4.0, -1.0)),
                  "weight_decay": zero_or_loguniform(1e-5, 1e-1), "batch_size": choice(32, 64, 128)},
        "RMSprop": {"lr": loguniform(1e-5, 1.0), "alpha": one_minus_log(-3.0, -1.0),
                    "momentum": choice(0.0, 0.5, 0.9), "weight_decay": zero_or_loguniform(1e-6, 1e-2),
                    "batch_size": choice(32, 64, 128)},
        "SGD": {"lr": loguniform(1e-4, 1.0), "momentum": choice(0.0, 0.5, 0.9, 0.99),
                "weight_decay": zero_or_loguniform(1e-6, 1e-2), "batch_size": choice(32, 64, 128)},
    }

    optimizer: str = "AdamW"
    options: Params = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        cls = _optimizer_class(self.optimizer)
        accepted = inspect.signature(cls.__init__).parameters
        unknown = sorted(k for k, _ in self.options if k not in accepted or k in ("self", "params"))
        if unknown:
            valid = ", ".join(k for k in accepted if k not in ("self", "params"))
            raise ConfigError(f"torch:{self.optimizer} has no option {unknown[0]!r}; valid options: {valid}")
        from optbench.params import check_library_options

        check_library_options(f"torch:{self.optimizer}", cls.__init__, dict(self.options))  # nesterov='yes'
        # constructing once on a dummy parameter, and taking one step, validates the values: lr < 0 fails at
        # construction, LBFGS's line_search_fn='bogus' only at its first step
        dummy = torch.ones(1, requires_grad=True)

        def closure() -> torch.Tensor:
            dummy.grad = 2 * dummy.detach()
            return (dummy.detach() ** 2).sum()

        try:
            cls([dummy], **dict(self.options)).step(closure)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise ConfigError(f"torch:{self.optimizer}: {exc}") from None

    @classmethod
    def from_call(cls, target: str, params: dict[str, Any]) -> TorchOptimOptimizer:
        params = dict(params)
        batch_size = params.pop("batch_size", _MISSING)
        if batch_size is _MISSING:
            batch_size = None if target == "LBFGS" else 64
        return cls(optimizer=target, options=freeze_params(params), batch_size=batch_size)

    def make(self, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        return _optimizer_class(self.optimizer)(params, **dict(self.options))
