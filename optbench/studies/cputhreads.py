"""Bounding torch's intra-op threads while a study's small networks train on the CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def cpu_threads(device: Any, threads: int = 1) -> Iterator[None]:
    """Run the block with ``threads`` torch threads when ``device`` is the CPU, then restore the count.

    The studies' networks are small (matrices of a few hundred by a few hundred), where OpenMP's
    synchronization costs more than a second thread gains, and on a loaded machine far more (measured
    10x slower with 2 threads than 1 on 2 busy cores); parallelism across tasks comes from ``--jobs``.
    """
    import torch

    if str(device).split(":")[0] != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(min(threads, before))
    try:
        yield
    finally:
        torch.set_num_threads(before)
