"""Medians of repeated timings with a distribution-free interval, and the interleaved order of the repeats.

A timing is skewed (a context switch only ever adds time) and a handful of repeats is all a grid can
afford, so the study reports medians with the order-statistic interval of the median: for the sorted
``t_(1) <= ... <= t_(R)``, ``[t_(j), t_(R+1-j)]`` covers the true median with probability
``1 - 2 P(Binomial(R, 1/2) <= j - 1)`` whatever the distribution. The largest ``j`` with coverage
>= 95 % is used; below 6 repeats even ``[min, max]`` falls short (R = 5: 93.75 %), and the interval then
says its own coverage. A repeat that never reached the target counts as later than every one that did
(right-censored): the median exists only when more than half of the repeats reached it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

LEVEL = 0.95


def _binomial_cdf_half(k: int, n: int) -> float:
    """``P(Binomial(n, 1/2) <= k)``."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n


def order_statistic_ranks(n: int, *, level: float = LEVEL) -> tuple[int, int, float]:
    """``(j, n + 1 - j, coverage)``: the 1-based ranks of the narrowest symmetric order-statistic interval of
    the median with coverage >= ``level`` (``j = 1`` and its smaller coverage when none reaches it)."""
    if n < 1:
        raise ValueError("no values")
    best = 1
    for j in range(1, n // 2 + 1):
        if 1 - 2 * _binomial_cdf_half(j - 1, n) >= level:
            best = j
    return best, n + 1 - best, 1 - 2 * _binomial_cdf_half(best - 1, n)


def median_ci(values: Sequence[float | None], *, level: float = LEVEL) -> dict[str, Any]:
    """Median of repeated timings and its order-statistic interval; ``None`` entries did not reach the target.

    Returns:
        ``{"n", "reached", "median", "ci": [low, high] or None, "coverage"}``: ``median`` is ``None``
        unless more than half reached; ``ci``'s upper end is ``None`` when it falls on a censored repeat.
    """
    n = len(values)
    reached = sorted(float(v) for v in values if v is not None and math.isfinite(v))
    out: dict[str, Any] = {"n": n, "reached": len(reached), "median": None, "ci": None, "coverage": None}
    if n == 0 or len(reached) <= n / 2:
        return out
    ordered = reached + [math.inf] * (n - len(reached))
    mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    low, high, coverage = order_statistic_ranks(n, level=level)
    upper = ordered[high - 1]
    out.update(median=mid if math.isfinite(mid) else None, coverage=coverage,
               ci=[ordered[low - 1], upper if math.isfinite(upper) else None])
    return out


def interleaved(methods: Sequence[str], repeats: int) -> list[tuple[int, str]]:
    """``(repeat, method)`` in round-robin order: every method once per round, the round's first method
    rotating, so slow drift (another process, the clock's governor) and the cost of coming first after a
    system is built hit every method alike."""
    m = len(methods)
    return [(r, methods[(r + i) % m]) for r in range(repeats) for i in range(m)]
