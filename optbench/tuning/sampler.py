"""``optuna:SAMPLER:K``: an Optuna sampler choosing a cell's configurations one after another.

The sampler works in the unit cube of the search space (a categorical dimension as its index), so it
tunes the same space as ``random:K``. It is seeded and told every stored score in order, so replaying
the stored results asks the same configurations again: a resumed campaign finds its trials in the store.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from optbench.api import TrialResult, TrialSpec
from optbench.tuning.plan import Cell, tuning_spec
from optbench.tuning.rulesets import Ruleset
from optbench.tuning.space import flat
from optbench.tuning.task import score


class Replay:
    """One cell's sampler: :meth:`ask` gives the next tuning trial, :meth:`tell` its stored result."""

    def __init__(self, cell: Cell, ruleset: Ruleset) -> None:
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        sampler = getattr(optuna.samplers, ruleset.sampler)(seed=ruleset.seed)
        self._study = optuna.create_study(sampler=sampler, direction="minimize")
        self._dims = flat(cell.space)
        self._distributions = {
            f"u{i}": (optuna.distributions.CategoricalDistribution(list(range(len(dim.args))))
                      if dim.kind == "choice" else optuna.distributions.FloatDistribution(0.0, 1.0))
            for i, (_, _, dim) in enumerate(self._dims)}
        self._cell, self._ruleset = cell, ruleset
        self._pending: Any = None
        self._draw = 0

    def ask(self) -> TrialSpec:
        trial = self._study.ask(self._distributions)
        unit = []
        for i, (_, _, dim) in enumerate(self._dims):
            value = trial.params[f"u{i}"]
            unit.append((value + 0.5) / len(dim.args) if dim.kind == "choice" else value)
        self._pending = trial
        spec = tuning_spec(self._cell, self._ruleset, self._draw, unit)
        self._draw += 1
        return spec

    def tell(self, result: TrialResult) -> None:
        import optuna

        value, higher = score(result)
        loss = -value if higher else value
        if math.isfinite(loss):
            self._study.tell(self._pending, loss)
        else:
            self._study.tell(self._pending, state=optuna.trial.TrialState.FAIL)
        self._pending = None
