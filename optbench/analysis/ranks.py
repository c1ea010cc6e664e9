"""Rank statistics without importing ``scipy.stats``: average ranks and the two-sided Mann–Whitney U test.

``scipy.stats`` takes 0.3–0.8 s to import, more than everything else ``optbench report --format csv`` does on
a 360-trial store; these two functions are all the analysis needs of it. They reproduce SciPy's definitions
exactly and ``tests/test_ranks.py`` checks them against ``scipy.stats.rankdata`` and
``scipy.stats.mannwhitneyu`` on random samples with and without ties:

- :func:`average_ranks` is ``rankdata(values, method="average")``;
- :func:`mann_whitney_p` is ``mannwhitneyu(x, y, alternative="two-sided").pvalue`` with SciPy's default
  ``method="auto"``: the exact null distribution of U when one sample has at most 8 values and nothing is
  tied, else the normal approximation with the tie correction and the continuity correction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

EXACT_MAX = 8  # SciPy's "auto": exact when min(n1, n2) <= 8 and there are no ties


def average_ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing the average of the ranks they span (SciPy's ``method="average"``)."""
    arr = np.asarray(values, dtype=np.float64)
    order = np.argsort(arr, kind="mergesort")
    ordered = arr[order]
    # the start of each run of equal values, and each value's run
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    run = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    ends = np.r_[starts[1:], ordered.size]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(arr.size, dtype=np.float64)
    ranks[order] = mean_rank[run]
    return ranks


@lru_cache(maxsize=256)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings give U = 0, 1, ..., m n: the coefficients of the Gaussian
    binomial coefficient [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), in exact integers."""
    poly = [1]
    for i in range(1, m + 1):
        grown = poly + [0] * (n + i)
        for k, c in enumerate(poly):  # times (1 - q^(n+i))
            grown[k + n + i] -= c
        for k in range(i, len(grown)):  # divided by (1 - q^i): exact, the product is a polynomial
            grown[k] += grown[k - i]
        poly = grown[: len(grown) - i]
    return tuple(poly)


def _exact_sf(u: int, m: int, n: int) -> float:
    """P(U >= u) under the null, for samples of sizes m and n without ties."""
    counts = _u_counts(min(m, n), max(m, n))
    return math.fsum(counts[u:]) / math.comb(m + n, m) if u > 0 else 1.0


def mann_whitney_p(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """SciPy's two-sided Mann–Whitney U p-value (``method="auto"``, continuity correction) of finite samples."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n1, n2 = a.size, b.size
    joined = np.concatenate([a, b])
    ranks = average_ranks(joined)
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    _, tie_counts = np.unique(joined, return_counts=True)
    ties = bool((tie_counts > 1).any())
    if min(n1, n2) <= EXACT_MAX and not ties:
        p = 2.0 * _exact_sf(round(u), n1, n2)
    else:
        n = n1 + n2
        t = tie_counts.astype(np.float64)
        tie_term = float((t**3 - t).sum())
        s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        numerator = u - n1 * n2 / 2 - 0.5
        # every value tied (s = 0): IEEE division, as SciPy's
        z = numerator / s if s > 0 else (math.copysign(math.inf, numerator) if numerator else math.nan)
        if math.isnan(z):
            return math.nan
        p = math.erfc(z / math.sqrt(2.0))  # 2 * P(Z > z)
    return min(1.0, max(0.0, p))
