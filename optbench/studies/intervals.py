"""Statistics the studies' claims rest on, each with a stated error rate (tests/test_study_intervals.py
measures them by simulation).

- :func:`std_ci`: the chi-square interval of a standard deviation (exact under normality: 95 % coverage
  at every n; the percentile bootstrap covered about 73 % at n = 8).
- :func:`mean_ci`: Student's t interval of a mean.
- :func:`wilson`: the Wilson score interval of a success rate (k of n).
- :func:`binomial_se`: the standard error a finite test set adds to an accuracy.
- :func:`esd_outliers`: Rosner's generalized ESD test; under normality it flags a sample with
  probability ``alpha`` (5 %) whatever n.
- :func:`pairs_mean_ci`: the mean of a value over pairs of networks, with an interval over *networks*
  (leave-one-network-out jackknife): pairs that share a network are not independent.
- :func:`noninferiority`: "B matches A": the one-sided equivalence (non-inferiority) test with a stated
  margin, its verdict ("yes", "no", "cannot tell with these seeds") and its power at equal means.
- :func:`censored_median`: steps to a target when some runs never reach it: "reached k of n" and a
  median only where more than half reached it.
- :func:`ci_text`: an interval as findings print it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

LEVEL = 0.95
ALPHA = 0.05  # per-sample false-positive rate of the outlier rule, and the equivalence tests' error rate


def _finite(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)


def std_ci(values: Sequence[float], *, level: float = LEVEL) -> list[float] | None:
    """Chi-square interval of the standard deviation: ``s sqrt((n-1)/chi2_{(1±level)/2, n-1})``.

    Exact for normal data (coverage = ``level`` at every n >= 2); ``None`` below 2 values.
    """
    from scipy.stats import chi2

    arr = _finite(values)
    n = arr.size
    if n < 2:
        return None
    ss = float(((arr - arr.mean()) ** 2).sum())
    tail = (1 - level) / 2
    return [math.sqrt(ss / chi2.ppf(1 - tail, n - 1)), math.sqrt(ss / chi2.ppf(tail, n - 1))]


def mean_ci(values: Sequence[float | None], *, level: float = LEVEL) -> list[float] | None:
    """Student's t interval of the mean; ``None`` below 2 values (a single value has no spread)."""
    from scipy.stats import t

    arr = _finite(values)
    if arr.size < 2:
        return None
    half = float(t.ppf((1 + level) / 2, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return [float(arr.mean()) - half, float(arr.mean()) + half]


def wilson(k: int, n: int, *, level: float = LEVEL) -> list[float] | None:
    """Wilson score interval of a success rate ``k / n``; ``None`` when ``n == 0``."""
    from scipy.stats import norm

    if n <= 0:
        return None
    z = float(norm.ppf((1 + level) / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return [0.0 if k == 0 else low, 1.0 if k == n else high]  # exact ends where rounding misses them


def binomial_se(p: float | None, n: int | None) -> float | None:
    """``sqrt(p (1 - p) / n)``: the standard error of an accuracy ``p`` measured on ``n`` test examples."""
    if p is None or not n or not 0 <= p <= 1:
        return None
    return math.sqrt(p * (1 - p) / n)


def esd_critical(n: int, i: int, alpha: float = ALPHA) -> float:
    """Rosner's critical value ``lambda_i`` for the ``i``-th (1-based) most extreme of ``n`` values."""
    from scipy.stats import t

    m = n - i + 1
    p = 1 - alpha / (2 * m)
    tv = float(t.ppf(p, m - 2))
    return (m - 1) * tv / math.sqrt((m - 2 + tv * tv) * m)


def esd_outliers(values: Sequence[float], labels: Sequence[Hashable], *, alpha: float = ALPHA,
                 max_outliers: int | None = None) -> list[Hashable]:
    """Labels of the outliers by the generalized ESD test (Rosner 1983), at most ``max(1, n // 5)``.

    Each of the ``r`` steps tests at ``alpha / r``, so under normality a sample is flagged (one or more
    outliers) with probability at most about ``alpha`` for every n >= 5 (measured by simulation, 3,000
    samples each: 5.1 ± 0.4 % at n = 8, where r = 1 is Grubbs' test, and 0.7 % at n = 30, for alpha = 5 %);
    below 5 values nothing is flagged.
    """
    arr = np.asarray(values, dtype=np.float64)
    n = arr.size
    if n < 5:
        return []
    r = max_outliers if max_outliers is not None else max(1, n // 5)
    left = list(range(n))
    removed, count = [], 0
    for i in range(1, min(r, n - 3) + 1):
        sub = arr[left]
        sd = sub.std(ddof=1)
        if sd == 0:
            break
        dev = np.abs(sub - sub.mean()) / sd
        j = int(dev.argmax())
        removed.append(left.pop(j))
        if dev[j] > esd_critical(n, i, alpha / r):  # alpha split over the r steps: <= alpha per sample
            count = i
    return [labels[k] for k in removed[:count]]


def pairs_mean_ci(pairs: Sequence[tuple[Hashable, Hashable, float]], *, level: float = LEVEL
                  ) -> tuple[float | None, list[float] | None]:
    """Mean of a value over pairs of networks and an interval over networks.

    ``pairs`` holds ``(network_a, network_b, value)``. The variance of the mean comes from the
    leave-one-network-out jackknife (each pseudo-value drops every pair with that network), with
    ``m - 1`` degrees of freedom for ``m`` networks: resampling the pairs as if independent
    under-covers, since the 6 pairs of 4 networks carry about 4 networks' worth of information.
    """
    from scipy.stats import t

    finite = [(a, b, float(v)) for a, b, v in pairs if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    mean = float(np.mean([v for _, _, v in finite]))
    nets = sorted({a for a, _, _ in finite} | {b for _, b, _ in finite}, key=str)
    m = len(nets)
    loo = []
    for net in nets:
        rest = [v for a, b, v in finite if net not in (a, b)]
        if rest:
            loo.append(float(np.mean(rest)))
    if m < 3 or len(loo) < m:
        return mean, None
    loo_arr = np.asarray(loo)
    var = (m - 1) / m * float(((loo_arr - loo_arr.mean()) ** 2).sum())
    half = float(t.ppf((1 + level) / 2, m - 1)) * math.sqrt(var)
    return mean, [mean - half, mean + half]


def noninferiority(diffs: Sequence[float], *, margin: float, alpha: float = ALPHA) -> dict[str, Any]:
    """Is B at least as good as A up to ``margin``? From paired differences ``B - A`` (higher is better).

    The one-sided equivalence test: "yes" when the lower ``1 - alpha`` confidence bound of the mean
    difference is above ``-margin`` (B is worse by less than the margin; error rate ``alpha`` when B is
    exactly ``margin`` worse), "no" when the upper bound is below ``-margin`` (B is worse by more), and
    "cannot tell with these seeds" otherwise. ``power``: the chance of "yes" when the means are equal,
    at the observed spread (noncentral t).
    """
    from scipy.stats import nct, t

    arr = _finite(diffs)
    n = arr.size
    out: dict[str, Any] = {"n": int(n), "margin": float(margin), "alpha": alpha, "mean": None, "bounds": None,
                           "verdict": "cannot tell with these seeds", "power": None}
    if n < 2:
        return out
    mean, sd = float(arr.mean()), float(arr.std(ddof=1))
    q = float(t.ppf(1 - alpha, n - 1))
    se = sd / math.sqrt(n)
    low, high = mean - q * se, mean + q * se
    out.update(mean=mean, bounds=[low, high])
    if low > -margin:
        out["verdict"] = "yes"
    elif high < -margin:
        out["verdict"] = "no"
    out["power"] = 1.0 if se == 0 else float(nct.sf(q, n - 1, margin / se))
    return out


def verdict_symbol(result: dict[str, Any]) -> bool | str:
    """A table cell for a verdict: True, False, or ``"cannot tell"``."""
    return {"yes": True, "no": False}.get(result["verdict"], "cannot tell")


def censored_median(steps: Sequence[int | None]) -> dict[str, Any]:
    """Steps to a target over runs, ``None`` for a run that never reached it (right-censored).

    Returns ``{"reached": k, "n": n, "median": m, "rate_ci": Wilson interval of k/n}`` where the median
    counts the censored runs as later than every step: it is defined (not ``None``) only when more than
    half of the runs reached the target.
    """
    n = len(steps)
    reached = sorted(s for s in steps if s is not None)
    k = len(reached)
    median = None
    if n and k > n / 2:
        ordered = reached + [math.inf] * (n - k)
        mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
        median = float(mid) if math.isfinite(mid) else None
    return {"reached": k, "n": n, "median": median, "rate_ci": wilson(k, n)}


def ci_text(ci: Sequence[float] | None) -> str:
    """``[low, high]`` to 3 significant digits, ``[–]`` without an interval."""
    return f"[{ci[0]:.3g}, {ci[1]:.3g}]" if ci else "[–]"
