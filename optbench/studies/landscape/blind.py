"""Blind search on proof-of-work: evaluations to the first success, and their 2^k scaling.

``pow(k)`` succeeds where SHA-256 of ``prefix || x`` starts with ``k`` zero bits; for a hash that behaves
like a random function a uniform guess succeeds with probability ``2^-k``, so the evaluations to the first
success are geometric with mean ``2^k`` and ``log2`` of them grows with slope 1 in ``k``. Each run is a task
(a stored trial): uniform bit strings drawn from a seeded NumPy generator in batches, every value through the
:class:`~optbench.evaluator.Evaluator` (so counted), stopped at the first success or at a cap of
:data:`CAP_FACTOR` ``* 2^k`` evaluations (censored; a probability of ``e^-16`` per run).

The fit regresses ``log2`` of each run's evaluations on ``k`` by least squares. For a geometric count with
any success probability, ``log2 G`` has the same spread (``sd = pi / (ln 2 sqrt 6) = 1.85``, that of log2 of an
exponential), so the residuals are homoscedastic with a known sd, whatever the slope, and the interval of the
slope is the normal one with that sd. (The residuals' own sd is noisy with few runs: with 3 runs per k it came
out 1.32 here, and Student's t interval from it excluded b = 1, where 60 runs per k gave b = 1.03 +- 0.09.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

CAP_FACTOR = 16
LOG2_GEOMETRIC_SD = math.pi / (math.log(2) * math.sqrt(6))  # sd of log2 of an exponential variable


def blind_run(problem: Any, evaluator: Any, *, seed: int, batch: int = 1 << 16) -> dict[str, Any]:
    """Uniform guesses on ``problem`` (a bit problem with a known optimal value) until one reaches it.

    Returns:
        ``{"evaluations": to the first success (or the cap), "censored": bool, "seconds"}``.
    """
    rng = np.random.default_rng(seed)
    d = problem.space.dim
    goal = problem.optimal_value + problem.target
    cap = CAP_FACTOR * problem.blind_search_evaluations
    spent = 0
    start = time.perf_counter()
    while spent < cap:
        n = int(min(batch, cap - spent))
        bits = np.unpackbits(np.frombuffer(rng.bytes(math.ceil(n * d / 8)), dtype=np.uint8), count=n * d)
        values = evaluator.evaluate(torch.from_numpy(bits.reshape(n, d))).numpy()
        hits = np.flatnonzero(values <= goal)
        if hits.size:
            return {"evaluations": spent + int(hits[0]) + 1, "censored": False,
                    "seconds": time.perf_counter() - start}
        spent += n
    return {"evaluations": spent, "censored": True, "seconds": time.perf_counter() - start}


def slope_fit(ks: Sequence[int], evaluations: Sequence[float], *, level: float = 0.95) -> dict[str, Any]:
    """Least-squares fit ``log2(evaluations) = a + b k`` over runs, with the interval of ``b`` from the known sd
    of log2 of a geometric count (:data:`LOG2_GEOMETRIC_SD`); ``residual_sd`` is the sample's own, as a check.

    Returns:
        ``{"slope", "ci", "intercept", "runs", "se", "residual_sd"}`` (``ci`` None below 3 runs or one ``k``).
    """
    from scipy.stats import norm

    k = np.asarray(ks, dtype=np.float64)
    y = np.log2(np.asarray(evaluations, dtype=np.float64))
    out: dict[str, Any] = {"slope": None, "ci": None, "intercept": None, "runs": int(k.size), "se": None,
                           "residual_sd": None}
    sxx = float(((k - k.mean()) ** 2).sum()) if k.size else 0.0
    if k.size < 3 or sxx == 0:
        return out
    slope = float(((k - k.mean()) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * k.mean())
    residual = y - intercept - slope * k
    sd = math.sqrt(float((residual**2).sum()) / (k.size - 2))
    se = LOG2_GEOMETRIC_SD / math.sqrt(sxx)
    half = float(norm.ppf((1 + level) / 2)) * se
    out.update(slope=slope, ci=[slope - half, slope + half], intercept=intercept, se=se, residual_sd=sd)
    return out


def mean_ci_exponential(values: Sequence[float], *, level: float = 0.95) -> list[float] | None:
    """Exact interval of the mean of exponential (continuous-geometric) counts: ``2 S / chi2_{(1±level)/2, 2m}``."""
    from scipy.stats import chi2

    m = len(values)
    if m == 0:
        return None
    total = 2.0 * float(sum(values))
    tail = (1 - level) / 2
    return [total / float(chi2.ppf(1 - tail, 2 * m)), total / float(chi2.ppf(tail, 2 * m))]
