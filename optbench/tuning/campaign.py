"""A comparison under a tuning ruleset: the defaults, the tuning trials, then the tuned evaluation.

Every trial goes through :func:`~optbench.campaign.run.run_campaign` into the store, so tuning is
resumable after a kill, shared by concurrent campaigns and parallel like any comparison. The phases:

1. the defaults' trials and, for ``random:K``, every cell's ``K`` tuning trials (all known up front);
   for ``optuna:SAMPLER:K``, one round per tuning trial, each asking every cell's sampler for its next
   configuration (the sampler is rebuilt from the stored results, so a rerun asks the same ones);
2. each cell's best configuration by validation score on the cell's evaluation seeds (``self:K``: the
   defaults with ``K`` times the budget).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optbench.api import ConfigError, TrialResult, TrialSpec
from optbench.tuning.plan import Cell, best, cells, check_grid, evaluation_specs, random_specs, self_cells
from optbench.tuning.rulesets import Ruleset
from optbench.tuning.space import Space


@dataclass
class TunedCampaign:
    """The trials of ``specs`` (the defaults' grid) under ``ruleset``."""

    specs: Sequence[TrialSpec]
    ruleset: Ruleset
    spaces: Mapping[str, Space] = field(default_factory=dict)
    cells: list[Cell] = field(init=False)
    notes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        check_grid(self.specs)
        if self.ruleset.kind == "self":
            if self.spaces:
                raise ConfigError("--space has no use with --tuning self:K, which tunes no hyperparameter")
            self.cells, self.notes = self_cells(self.specs), []
        else:
            self.cells, self.notes = cells(self.specs, self.spaces)
        if self.ruleset.kind == "optuna":
            from optbench.extras import require

            require("optuna", needed_by="--tuning optuna:...")
            import optuna

            if not isinstance(getattr(optuna.samplers, self.ruleset.sampler, None), type):
                raise ConfigError(f"--tuning {self.ruleset.label}: optuna.samplers has no {self.ruleset.sampler}; "
                                  "e.g. TPESampler, QMCSampler, RandomSampler")

    def first(self) -> list[TrialSpec]:
        """The trials known before anything runs: the defaults' and, for ``random:K``, every tuning trial."""
        out = list(self.specs)
        if self.ruleset.kind == "random":
            out += [spec for cell in self.cells for spec in random_specs(cell, self.ruleset)]
        return out

    @property
    def planned(self) -> int:
        """How many trials the whole campaign runs (the progress bar's total)."""
        per_cell = self.ruleset.k if self.ruleset.searches else 0
        evaluations = sum(len(cell.evaluation) for cell in self.cells)
        return len(self.specs) + per_cell * len(self.cells) + evaluations

    def run(self, store: Any, *, executor: Any, rerun: bool = False,
            on_result: Callable[[TrialResult], None] | None = None,
            on_specs: Callable[[list[TrialSpec]], None] | None = None) -> list[TrialResult]:
        """Run every phase; ``on_specs`` is told each batch of trials decided along the way (to add to the run).

        Returns the results this process ran.
        """
        from optbench.campaign.run import run_campaign

        ran = run_campaign(self.first(), store, executor=executor, rerun=rerun, on_result=on_result, close=False)
        if self.ruleset.kind == "optuna":
            ran += self._optuna_rounds(store, executor=executor, rerun=rerun, on_result=on_result, on_specs=on_specs)
        evaluation = [spec for cell in self.cells
                      for spec in evaluation_specs(cell, self.ruleset, self.selected(store, cell))]
        if on_specs is not None:
            on_specs(evaluation)
        ran += run_campaign(evaluation, store, executor=executor, rerun=rerun, on_result=on_result)
        return ran

    def tuning_specs(self, store: Any, cell: Cell) -> list[TrialSpec]:
        """The cell's tuning trials as they stand (for optuna: those of the rounds run so far)."""
        if self.ruleset.kind == "random":
            return random_specs(cell, self.ruleset)
        if self.ruleset.kind == "optuna":
            return self._asked(store, cell, self.ruleset.k)[0]
        return []

    def selected(self, store: Any, cell: Cell) -> TrialResult | None:
        if self.ruleset.kind == "self":
            return None
        return best(store.results(s.key for s in self.tuning_specs(store, cell)))

    # ------------------------------------------------------------------ optuna
    def _asked(self, store: Any, cell: Cell, rounds: int) -> tuple[list[TrialSpec], Any]:
        """Replay the cell's sampler over the stored results: the specs of the first ``rounds`` asks that
        have results, then the next ask's spec (or none when all ``rounds`` are answered)."""
        from optbench.tuning.sampler import Replay

        replay = Replay(cell, self.ruleset)
        specs: list[TrialSpec] = []
        for _ in range(rounds):
            spec = replay.ask()
            specs.append(spec)
            found = store.results([spec.key])
            if not found:
                return specs, replay
            replay.tell(found[0])
        return specs, replay

    def _optuna_rounds(self, store: Any, *, executor: Any, rerun: bool, on_result: Any, on_specs: Any
                       ) -> list[TrialResult]:
        from optbench.campaign.run import run_campaign

        ran: list[TrialResult] = []
        for round_ in range(self.ruleset.k):
            batch = [self._asked(store, cell, round_ + 1)[0][-1] for cell in self.cells]
            if on_specs is not None:
                on_specs(batch)
            ran += run_campaign(batch, store, executor=executor, rerun=rerun, on_result=on_result, close=False)
        return ran


def tuned(specs: Sequence[TrialSpec], *, tuning: str | None, spaces: Sequence[str] = (),
          suite: str | None = None) -> TunedCampaign | None:
    """The campaign of ``specs`` under ``--tuning`` (else the suite's ``tuning``), with ``--space`` entries
    replacing the suite's and the optimizers' own spaces; ``None`` for ``none``.

    Raises:
        ConfigError: a bad ruleset or space, or ``--space`` without a ruleset that searches.
    """
    from optbench.campaign.grid import DEFAULT_SUITE
    from optbench.problems.suites import load_suite
    from optbench.tuning.rulesets import parse_ruleset
    from optbench.tuning.space import parse_spaces

    chosen = load_suite(suite or DEFAULT_SUITE)
    ruleset = parse_ruleset(tuning if tuning is not None else chosen.tuning)
    given = parse_spaces(list(spaces))
    if ruleset.kind == "none":
        if given:
            raise ConfigError("--space sets a search space for tuning; add --tuning random:K or optuna:TPE:K")
        return None
    return TunedCampaign(specs, ruleset, {**parse_spaces(list(chosen.spaces)), **given})
