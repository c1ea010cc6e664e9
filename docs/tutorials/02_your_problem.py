"""
Your own problem
================

A problem is anything that evaluates a batch of points ``(n, d) -> (n,)`` on its device. The quickest way
to write one is a plain batched function with the :func:`optbench.problem` decorator; this tutorial writes
the Styblinski-Tang function, checks it against optbench's contract, and compares optimizers on it.
"""

# %%
# A batched function becomes a problem
# -------------------------------------
# ``optimal_value`` may be a function of the parameters: ``styblinski(dim=10)`` has the optimum
# ``-39.166... * 10``. A result below the declared optimum by more than the target is never counted as a
# success, and the tables say that ``optimal_value`` is wrong. ``shift`` gives every instance ``i >= 1`` its
# own shifted copy, as the built-in box problems have.
import torch
from rich.console import Console

import optbench


@optbench.problem("styblinski_tutorial", dim=4, bounds=(-5.0, 5.0),
                  optimal_value=lambda dim: -39.16616570377142 * dim, target=1e-4,
                  differentiable=True, landscape="rugged", shift=0.5)
def styblinski(X: torch.Tensor) -> torch.Tensor:
    return 0.5 * (X**4 - 16 * X**2 + 5 * X).sum(dim=1)


# %%
# Check it against the contract
# -----------------------------
# :func:`optbench.check_problem` runs the checks every built-in problem passes: shapes, dtype and device of
# the values, determinism by instance, the value at the declared optimum, and gradients where the problem
# says it has them. It raises with the reason when one fails, so it belongs in your own test suite.
optbench.check_problem("styblinski_tutorial", params={"dim": 3})
print("styblinski_tutorial passes the contract checks")

# %%
# Compare optimizers on it
# ------------------------
# Gradient methods get exact gradients through autograd because the problem is ``differentiable``.
result = optbench.compare(problems=["styblinski_tutorial(dim=4)"],
                          optimizers=["cmaes", "adam(lr=0.05)", "ga", "random"], seeds=6, budget=600, device="cpu")
result.print(Console(width=110))  # the tables `optbench compare` prints

# %%
# Median or success?
# ------------------
# Styblinski-Tang has :math:`2^d` local minima, one per sign pattern of the coordinates; a coordinate left in
# the shallower basin costs about 14.13 in the objective. So a gap near 14.1 means "one coordinate in the wrong
# basin", and the median gap and the success count can disagree: one optimizer may be close on most seeds
# without solving any, another solve some seeds and stay a basin away on the rest. Both columns are in the
# table; here is each optimizer's count of seeds by the number of coordinates left in the wrong basin:
for cell in result.analysis.cells:
    basins = [round(gap / 14.13) for gap in cell.samples]
    print(f"{cell.optimizer:>14}: successes {cell.successes}/{cell.with_result}, "
          f"coordinates in the wrong basin per seed {basins}")

# %%
# For a problem with data of its own (a training set, a planted solution), subclass :class:`optbench.Problem`
# and draw the data from ``instance``; to ship problems in a package, register them as entry points
# (:doc:`/howto/plugins`). Without packaging, ``optbench compare --plugin my_problems.py`` imports a file
# that uses the decorator.
