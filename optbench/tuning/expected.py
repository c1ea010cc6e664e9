"""Expected best validation score after ``k`` of ``K`` tuning trials (Dodge et al. 2019), exactly.

Of ``K`` observed scores, a random ``k``-subset (drawn without replacement: the unbiased estimator of
the tuning curve) has its best at the ``i``-th best score with probability ``C(K - i, k - 1) / C(K, k)``,
so the expected best is a weighted sum of the sorted scores: no resampling. The interval is a
percentile bootstrap over the ``K`` draws, recomputing the same exact curve on each resample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def expected_best(scores: Sequence[float], *, lower_is_better: bool = True) -> list[float]:
    """``E[best of a random k-subset]`` for ``k = 1 .. K``; a failed trial scores ``inf`` (``-inf`` when higher is
    better), so a curve is infinite while a subset can hold only failures."""
    values = np.asarray(scores, dtype=float)
    K = values.size
    if K == 0:
        return []
    ordered = np.sort(values) if lower_is_better else -np.sort(-values)  # best first
    out = []
    for k in range(1, K + 1):
        total = math.comb(K, k)
        weights = np.array([math.comb(K - i, k - 1) / total for i in range(1, K + 1)])
        used = weights > 0  # scores that can be the best of some k-subset (0 * inf would be nan)
        out.append(float(np.sum(ordered[used] * weights[used])))
    return out


def interval(scores: Sequence[float], *, lower_is_better: bool = True, level: float = 0.95, resamples: int = 1000,
             seed: int = 0) -> list[tuple[float, float]]:
    """A percentile-bootstrap interval of each point of :func:`expected_best` (``(nan, nan)`` for ``K < 2``)."""
    values = np.asarray(scores, dtype=float)
    K = values.size
    if K < 2:
        return [(math.nan, math.nan)] * K
    rng = np.random.default_rng(seed)
    curves = np.array([expected_best(values[rng.integers(0, K, K)], lower_is_better=lower_is_better)
                       for _ in range(resamples)])
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo = np.nanquantile(curves, alpha, axis=0)
        hi = np.nanquantile(curves, 1 - alpha, axis=0)
    return [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]


def crossing(a: Sequence[float], b: Sequence[float], *, lower_is_better: bool = True) -> int | None:
    """The first ``k`` (1-based) where the better of two curves changes, or ``None`` if it never does."""
    sign = 1 if lower_is_better else -1
    previous = None
    for k, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if not (math.isfinite(x) and math.isfinite(y)) or x == y:
            continue
        better = sign * (x - y) < 0
        if previous is not None and better != previous:
            return k
        previous = better
    return None


def share_near_best(scores: Sequence[float], *, lower_is_better: bool = True, within: float = 0.1) -> float:
    """The share of draws within ``within`` (relative) of the best score: how forgiving the space is."""
    values = np.asarray([s for s in scores if math.isfinite(s)], dtype=float)
    if values.size == 0:
        return 0.0
    best = values.min() if lower_is_better else values.max()
    slack = within * abs(best)
    near = values <= best + slack if lower_is_better else values >= best - slack
    return float(near.sum()) / len(scores)
