"""Landscape features from sampled objective values: pure statistics on NumPy arrays.

Each function takes what a probe measured (values of a sample, of random walks, of a
nearest-neighbour tour) and returns numbers; nothing here evaluates a problem. The definitions
follow the papers, and where a reference implementation exists (``pflacco`` 1.2.2) they follow
its conventions exactly, so the cross-check fixtures in ``tests/data/pflacco`` compare like with like:

* fitness–distance correlation: Jones & Forrest (1995), Pearson's r of ``(f(x), dist(x, x*))``;
* random-walk autocorrelation and correlation length: Weinberger (1990);
* information content ``H(eps)`` and partial information content ``M(eps)``: Muñoz, Kirley &
  Halgamuge (2015), on slopes ``(f_{t+1} - f_t) / |x_{t+1} - x_t|`` along a tour;
* dispersion: Lunacek & Whitley (2006), pairwise distances of the best ``q`` share of a sample
  against those of the whole sample;
* skewness and kurtosis of the values (type 3 of R's e1071, as pflacco's ``ela_distr``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial.distance import pdist

# pflacco's default epsilon grid for the information content: 0 and 1000 values from 1e-5 to 1e15
IC_EPSILONS = np.insert(10 ** np.linspace(-5, 15, 1000), 0, 0.0)
DISPERSION_QUANTILES = (0.02, 0.05, 0.1, 0.25)


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's correlation of two samples of shape ``(m,)``; ``None`` when either is constant."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return None if denominator == 0 else float(a @ b) / denominator


def fitness_distance_correlation(values: np.ndarray, distances: np.ndarray) -> float | None:
    """Jones & Forrest's FDC: Pearson's r of values ``(m,)`` and distances to the optimum ``(m,)``.

    For minimization, +1 means "closer is better everywhere" (easy) and negative means deceptive.
    """
    return pearson(values, distances)


def walk_autocorrelation(walks: np.ndarray, lags: Sequence[int]) -> np.ndarray:
    """Autocorrelation ``rho(s)`` of the values along random walks (Weinberger 1990).

    The walks are stationary (they start from uniform points), so one mean and one variance
    over all their values are used: ``rho(s) = E[(f_t - mu)(f_{t+s} - mu)] / sigma^2``, the
    average taken over every walk and every ``t``.

    Args:
        walks: values, shape ``(w, T)``: ``w`` walks of ``T`` steps.
        lags: the lags ``s`` (each ``1 <= s < T``).

    Returns:
        ``rho(s)`` for each lag, shape ``(len(lags),)``; NaN when the values are constant.
    """
    walks = np.asarray(walks, dtype=np.float64)
    centred = walks - walks.mean()
    variance = float((centred * centred).mean())
    if variance == 0:
        return np.full(len(lags), np.nan)
    return np.array([float((centred[:, :-s] * centred[:, s:]).mean()) / variance for s in lags])


def correlation_length(rho1: float) -> float:
    """Weinberger's correlation length ``-1 / ln |rho(1)|`` (inf for rho = ±1, 0 for rho = 0)."""
    r = abs(rho1)
    if not math.isfinite(r):
        return math.nan
    if r >= 1.0:
        return math.inf
    return 0.0 if r == 0 else -1.0 / math.log(r)


def nearest_neighbour_tour(X: np.ndarray, *, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The greedy tour through a sample: from ``start``, always to the nearest unvisited point.

    This is the order of Muñoz et al.'s information content (pflacco's ``ic_sorting='nn'``:
    its 20-neighbour lookup with a fallback to all candidates visits the same points).

    Args:
        X: the sample, shape ``(m, d)``.
        start: index of the first point.

    Returns:
        ``(order, steps)``: the visiting order, shape ``(m,)``, and the Euclidean length of each
        step, shape ``(m - 1,)``.
    """
    X = np.asarray(X, dtype=np.float64)
    m = X.shape[0]
    squared = (X * X).sum(axis=1)
    visited = np.zeros(m, dtype=bool)
    order = np.empty(m, dtype=np.int64)
    steps = np.empty(max(m - 1, 0))
    current = start
    for i in range(m):
        order[i] = current
        visited[current] = True
        if i == m - 1:
            break
        d2 = squared + squared[current] - 2.0 * (X @ X[current])
        d2[visited] = np.inf
        nxt = int(np.argmin(d2))
        steps[i] = float(np.sqrt(((X[nxt] - X[current]) ** 2).sum()))
        current = nxt
    return order, steps


def information_content(values: np.ndarray, steps: np.ndarray, *, epsilons: np.ndarray = IC_EPSILONS,
                        settling: float = 0.05, info_share: float = 0.5) -> dict[str, float | None]:
    """Information content features of a tour (Muñoz, Kirley & Halgamuge 2015; pflacco's ``ic.*``).

    The slopes ``phi_t = (f_{t+1} - f_t) / step_t`` become symbols ``0`` where ``|phi| < eps``
    and ``sign(phi)`` elsewhere. ``H(eps)`` is the entropy (base 6) of the consecutive pairs of
    different symbols; ``M(eps)`` the number of changes in the symbol string with zeros
    removed, over ``len - 1``.

    Args:
        values: the objective along the tour, shape ``(m,)``.
        steps: the length of each step, shape ``(m - 1,)``.
        epsilons: the sensitivity grid, including 0.
        settling: ``H`` below which the sequence counts as flat (``eps_s``).
        info_share: share of ``M(0)`` that defines ``eps_ratio``.

    Returns:
        ``h_max``, ``eps_s`` (log10), ``eps_max``, ``eps_ratio`` (log10) and ``m0``.
    """
    slopes = np.diff(np.asarray(values, dtype=np.float64)) / np.asarray(steps, dtype=np.float64)
    eps = np.asarray(epsilons, dtype=np.float64)
    psi = np.where(np.abs(slopes)[None, :] < eps[:, None], 0, np.sign(slopes)[None, :]).astype(np.int8)
    a, b = psi[:, :-1], psi[:, 1:]
    H = np.zeros(len(eps))
    for p, q in ((-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0)):
        share = ((a == p) & (b == q)).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            H -= np.where(share > 0, share * np.log(share) / np.log(6), 0.0)
    n = psi.shape[1]
    M = np.empty(len(eps))
    for i, row in enumerate(psi):
        nonzero = row[row != 0]
        M[i] = (np.count_nonzero(np.diff(nonzero)) if nonzero.size else 0) / (n - 1)
    flat = eps[H < settling]
    m0 = float(M[eps == 0][0])
    informative = eps[M > info_share * m0]
    h_max = float(H.max())
    with np.errstate(divide="ignore"):  # log10(0) = -inf when eps = 0 already qualifies, as in pflacco
        eps_ratio = float(np.log10(informative.max())) if informative.size else None
        eps_s = float(np.log10(flat.min())) if flat.size else None
    return {"h_max": h_max, "eps_s": eps_s,
            "eps_max": float(np.median(eps[H == h_max])), "eps_ratio": eps_ratio, "m0": m0}


def dispersion(X: np.ndarray, values: np.ndarray, *, quantiles: Sequence[float] = DISPERSION_QUANTILES,
               metric: str = "euclidean") -> dict[str, float]:
    """Lunacek & Whitley's dispersion (pflacco's ``disp.*``, minimization).

    For each quantile ``q`` the points with values at most the ``q`` quantile are the best ones;
    the mean and median of their non-zero pairwise distances are compared with those of the
    whole sample, as a ratio and a difference.

    Args:
        X: the sample, shape ``(m, d)``.
        values: its objective values, shape ``(m,)``.
        quantiles: the shares of best points.
        metric: a ``scipy.spatial.distance.pdist`` metric (``cityblock`` is Hamming on bits).

    Returns:
        ``ratio_mean_02``, ``ratio_median_02``, ``diff_mean_02``, ``diff_median_02``... per quantile.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    full = pdist(X, metric=metric)
    full = full[full != 0]
    full_mean, full_median = float(full.mean()), float(np.median(full))
    out: dict[str, float] = {}
    for q, cut in zip(quantiles, np.quantile(y, quantiles), strict=True):
        best = pdist(X[y <= cut], metric=metric)
        best = best[best != 0]
        mean = float(best.mean()) if best.size else math.nan
        median = float(np.median(best)) if best.size else math.nan
        tag = f"{round(q * 100):02d}"
        out |= {f"ratio_mean_{tag}": mean / full_mean, f"ratio_median_{tag}": median / full_median,
                f"diff_mean_{tag}": mean - full_mean, f"diff_median_{tag}": median - full_median}
    return out


def _centered(values: np.ndarray) -> tuple[np.ndarray, int, float]:
    """The finite-mean-centred values, their count and their sum of squares (NaNs dropped)."""
    y = np.asarray(values, dtype=np.float64)
    y = y[~np.isnan(y)]
    c = y - y.mean()
    return c, y.size, float((c * c).sum())


def skewness(values: np.ndarray) -> float:
    """Sample skewness ``b1 = m3 / s^3`` (type 3 of e1071, pflacco's default); NaN for constant values."""
    c, n, s2 = _centered(values)
    if s2 == 0:
        return math.nan
    return math.sqrt(n) * float((c**3).sum()) / s2**1.5 * (1 - 1 / n) ** 1.5


def kurtosis(values: np.ndarray) -> float:
    """Sample excess kurtosis ``b2 = m4 / s^4 - 3`` (type 3 of e1071, pflacco's default)."""
    c, n, s2 = _centered(values)
    if s2 == 0:
        return math.nan
    return n * float((c**4).sum()) / s2**2 * (1 - 1 / n) ** 2 - 3


def neutrality(centre_values: np.ndarray, neighbour_values: np.ndarray) -> float:
    """Share of one-flip neighbours whose value equals their centre's.

    Args:
        centre_values: shape ``(m,)``.
        neighbour_values: shape ``(m, n)``: the ``n`` neighbours of each centre.
    """
    centre = np.asarray(centre_values, dtype=np.float64)[:, None]
    return float((np.asarray(neighbour_values, dtype=np.float64) == centre).mean())


def distinct_points(points: np.ndarray, *, tolerance: float) -> int:
    """How many clusters the end points form: a point within ``tolerance`` (Euclidean) of an
    earlier representative joins it (``tolerance=0``: exact equality, for bit strings).

    Args:
        points: shape ``(r, d)``.
    """
    points = np.asarray(points, dtype=np.float64)
    if tolerance == 0:
        return int(np.unique(points, axis=0).shape[0])
    representatives: list[np.ndarray] = []
    for p in points:
        if not any(float(np.linalg.norm(p - r)) <= tolerance for r in representatives):
            representatives.append(p)
    return len(representatives)


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rank correlation of paired finite values (``None`` below 3 pairs or when constant)."""
    from scipy.stats import rankdata

    pairs = [(x, y) for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 3:
        return None
    xs, ys = zip(*pairs, strict=True)
    return pearson(rankdata(xs), rankdata(ys))


def vargha_delaney(better: Sequence[float], reference: Sequence[float]) -> float | None:
    """Vargha & Delaney's A: P(a value of ``better`` < one of ``reference``) + P(tie) / 2.

    0.5 means no difference; 1 means every run of the first optimizer ended below every run of
    the reference (minimization). ``None`` without values.
    """
    a = np.asarray([v for v in better if v is not None], dtype=np.float64)
    b = np.asarray([v for v in reference if v is not None], dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return None
    a = np.where(np.isnan(a), np.inf, a)[:, None]
    b = np.where(np.isnan(b), np.inf, b)[None, :]
    return float((a < b).mean() + 0.5 * (a == b).mean())
