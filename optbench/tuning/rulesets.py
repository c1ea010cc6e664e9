"""Tuning rulesets: how much tuning an optimizer gets before its verdict.

- ``none``: the optimizer as given (its defaults);
- ``random:K``: AlgoPerf's external tuning: the first ``K`` points of a seeded, scrambled Halton sequence in
  the optimizer's search space (the same points for every problem and machine; prefix-stable, so a larger
  ``K`` reuses the first ``K``), the best by validation runs on the evaluation seeds;
- ``optuna:SAMPLER:K``: ``K`` trials chosen one after another by an Optuna sampler (``TPE`` or
  ``TPESampler``, ``QMCSampler``, ...), seeded, told each validation score, the best by validation evaluated;
- ``self:K``: no search space: the defaults with ``K`` times the budget, so each ruleset spends about the
  same total.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optbench.api import ConfigError

MAX_K = 1000  # tuning trials per cell: beyond this, a typo
KINDS = ("none", "random", "optuna", "self")


@dataclass(frozen=True)
class Ruleset:
    """A parsed ``--tuning`` value."""

    kind: str = "none"
    k: int = 1
    sampler: str = ""  # the Optuna sampler class, e.g. TPESampler
    seed: int = 0  # of the quasi-random sequence or the sampler

    @property
    def label(self) -> str:
        """How trials and tables name it: ``random:8``, ``optuna:TPESampler:8``, ``self:4``."""
        if self.kind == "none":
            return ""
        middle = f"{self.sampler}:" if self.sampler else ""
        return f"{self.kind}:{middle}{self.k}"

    @property
    def draws_label(self) -> str:
        """The ruleset of the tuning trials themselves: without ``K``, so a larger ``K`` reuses them."""
        return f"{self.kind}:{self.sampler}" if self.sampler else self.kind

    @property
    def searches(self) -> bool:
        return self.kind in ("random", "optuna")


def parse_ruleset(text: str | None) -> Ruleset:
    """``none``, ``random:K``, ``optuna:SAMPLER:K`` or ``self:K``; raises :class:`ConfigError` with an example."""
    if text is None or text.strip() in ("", "none"):
        return Ruleset()
    parts = text.strip().split(":")
    example = "none, random:8, optuna:TPE:8 or self:8"
    kind = parts[0]
    if kind not in KINDS:
        raise ConfigError(f"--tuning {text!r}: unknown ruleset {kind!r}; expected {example}")
    wanted = 3 if kind == "optuna" else 2
    if len(parts) != wanted:
        raise ConfigError(f"--tuning {text!r}: {kind} takes " + ("a sampler and a count, e.g. optuna:TPE:8"
                                                                  if kind == "optuna" else f"a count, e.g. {kind}:8"))
    try:
        k = int(parts[-1])
    except ValueError:
        raise ConfigError(f"--tuning {text!r}: the count must be an integer from 1 to {MAX_K}") from None
    if not 1 <= k <= MAX_K:
        raise ConfigError(f"--tuning {text!r}: the count must be an integer from 1 to {MAX_K}")
    sampler = ""
    if kind == "optuna":
        sampler = parts[1] if parts[1].endswith("Sampler") else f"{parts[1]}Sampler"
        if not sampler[:-len("Sampler")].isidentifier():
            raise ConfigError(f"--tuning {text!r}: name an Optuna sampler, e.g. optuna:TPE:8")
    return Ruleset(kind=kind, k=k, sampler=sampler)


def unit_points(dimensions: int, k: int, *, seed: int = 0) -> np.ndarray:
    """The first ``k`` points of the scrambled Halton sequence in ``[0, 1)^dimensions``, shape ``(k, dimensions)``.

    The sequence is a function of ``(dimensions, seed)`` alone: the same points for every problem, on every
    machine (the scrambling permutations come from NumPy's PCG64, which is platform-independent), and the
    first ``k`` of ``k + 1`` points are the ``k`` points.
    """
    from scipy.stats import qmc

    if dimensions == 0:
        return np.zeros((k, 0))
    return qmc.Halton(d=dimensions, scramble=True, seed=np.random.default_rng(seed)).random(k)
