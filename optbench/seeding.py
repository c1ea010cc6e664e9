"""Explicit seeds: one trial seed and one instance seed, expanded with ``SeedSequence``.

The problem *instance* (data, shifts, rotations) depends only on the problem family and the
instance number; the optimizer's randomness depends only on the trial seed and the instance.
So "same data, different init" and "different data" are both expressible, and library code
never touches a global seed.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any

import numpy as np
import torch


def _family_word(family: str) -> int:
    return zlib.crc32(family.encode())


def instance_generator(family: str, instance: int) -> torch.Generator:
    """A CPU generator for building one problem instance (same data on every device)."""
    return torch.Generator().manual_seed(_instance_seed(family, int(instance)))


@functools.lru_cache(maxsize=4096)
def _instance_seed(family: str, instance: int) -> int:
    """The seed of :func:`instance_generator`, worked out once per instance (``SeedSequence`` costs ~10 us,
    and every trial builds its problem)."""
    seq = np.random.SeedSequence([instance, _family_word(family)])
    return int(seq.generate_state(1, np.uint64)[0] >> 1)


def trial_rng(seed: int, instance: int) -> np.random.Generator:
    """The optimizer's generator for one trial."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(instance), 0x0B7]))


def torch_generator(rng: np.random.Generator, device: Any = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded from ``rng`` (for optimizers that sample in torch)."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(rng.integers(0, 2**62)))
    return gen


def validation_rows(n: int, fraction: float, family: str, instance: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, validation)`` row indices splitting ``n`` training examples for tuning (CPU, int64).

    The split depends on the family and instance alone (a permutation of their own seed), so every
    tuning trial of an instance holds out the same examples; at least one example stays on each side.
    """
    held = min(max(1, round(fraction * n)), n - 1)
    seq = np.random.SeedSequence([int(instance), _family_word(family), 0x5A1])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seq.generate_state(1, np.uint64)[0] >> 1)))
    return order[held:].sort().values, order[:held].sort().values
