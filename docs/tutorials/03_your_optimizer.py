"""
Your own optimizer
==================

An optimizer is a frozen dataclass of hyperparameters with a ``minimize(evaluator, *, rng)`` method. It asks
the :class:`optbench.Evaluator` for values; the evaluator counts every evaluation, enforces the budget, keeps
the best point and the anytime trace, so the optimizer does not. This tutorial writes a (1+1)
evolution strategy with the one-fifth success rule, checks its budget discipline, and compares it.
"""

# %%
# The optimizer
# -------------
# ``spaces`` says what it runs on: on bit strings the runner records the trial as SKIPPED with the reason,
# instead of running it. When the budget is spent, ``evaluate`` raises :class:`optbench.BudgetExhausted`;
# letting it propagate is fine, and the runner then takes the evaluator's best point as the answer.
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from rich.console import Console

import optbench
from optbench import Optimizer, SpaceKind


@optbench.register_optimizer
@dataclass(frozen=True)
class OnePlusOne(Optimizer):
    name: ClassVar[str] = "one_plus_one"
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS})
    sigma0: float = 0.3  # initial step, as a share of the box width

    def minimize(self, evaluator: optbench.Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        lo, hi = evaluator.bounds()
        x = lo + (hi - lo) * torch.as_tensor(rng.random(evaluator.dim), dtype=lo.dtype, device=lo.device)
        fx = float(evaluator.evaluate(x[None])[0])
        sigma = self.sigma0 * float((hi - lo).mean())
        while True:
            step = torch.as_tensor(rng.standard_normal(evaluator.dim), dtype=lo.dtype, device=lo.device)
            y = torch.clamp(x + sigma * step, lo, hi)
            fy = float(evaluator.evaluate(y[None])[0])
            if fy <= fx:
                x, fx, sigma = y, fy, sigma * 1.5
            else:
                sigma *= 1.5 ** -0.25  # the one-fifth rule: a fifth of the steps succeed at equilibrium


# %%
# Check budget discipline and determinism
# ---------------------------------------
# :func:`optbench.check_optimizer` runs it at several budgets and checks that it never spends more than
# the budget, that the evaluator's count equals the points the problem computed, and that the same seed
# gives the same trace and answer.
optbench.check_optimizer("one_plus_one")
print("one_plus_one passes the contract checks")

# %%
# Compare it with CMA-ES and random search
# ----------------------------------------
result = optbench.compare(problems=["sphere(dim=10)", "rosenbrock(dim=5)"],
                          optimizers=["one_plus_one", "one_plus_one(sigma0=0.05)", "cmaes", "random"],
                          seeds=6, budget=1500, device="cpu")
result.print(Console(width=110))  # the tables `optbench compare` prints

# %%
# Hyperparameters are the dataclass's fields: ``one_plus_one(sigma0=0.05)`` is a different
# optimizer in the tables and in the store, and a field given at its default is the same trial as leaving
# it out. A class attribute ``search_space`` lets ``--tuning random:K`` tune it
# (:doc:`/explanation/tuning`).
