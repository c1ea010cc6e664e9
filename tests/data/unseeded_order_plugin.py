"""A planted bug for the determinism audit: the data order ignores the run's seed (global RNG)."""

from __future__ import annotations

import torch

from optbench.studies import training


def unseeded(n: int, generator: torch.Generator) -> torch.Tensor:
    del generator  # the bug: the order is drawn from the global generator, differently every run
    return torch.randperm(n)


training.seeded_order = unseeded
