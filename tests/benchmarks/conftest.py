"""Shared helpers for the pytest-benchmark comparisons (run with `make bench`)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import pytest
import torch


@pytest.fixture
def bench_device() -> str:
    """``OPTBENCH_BENCH_DEVICE=cuda`` (``make bench-gpu``) runs the benchmarks on the GPU."""
    device = os.environ.get("OPTBENCH_BENCH_DEVICE", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return device


def interleaved_medians(a: Callable[[], object], b: Callable[[], object], *, rounds: int = 15,
                        sync: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """Median wall time of ``a`` and of ``b``, measured alternately so drift hits both alike."""
    times_a, times_b = [], []
    for _ in range(rounds):
        for fn, times in ((a, times_a), (b, times_b)):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)
