"""The crossed design of the seeds study: I initialisations x J data orders, one run per cell.

A two-way random-effects model ``y_ij = mu + a_i + b_j + e_ij`` (``e`` holds the interaction and
whatever else differs between runs) separates the initialisation's share of the spread from the data
order's. With one run per cell the mean squares give the variance components, and under normality
``(MS_init / MS_resid) / (1 + J s_a^2 / s_e^2)`` is F-distributed, so the ratio of variances has an
exact interval (the same for the order): the claim "initialisation gives most of the spread" is tested,
not read off two standard deviations of single runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _ratio_ci(f: float, df1: int, df2: int, per: int, level: float) -> list[float] | None:
    """Interval of ``s_effect^2 / s_e^2`` from ``F = MS_effect / MS_e`` (each cell mean has ``per`` runs)."""
    from scipy.stats import f as fdist

    if not math.isfinite(f):
        return None
    tail = (1 - level) / 2
    low = (f / fdist.ppf(1 - tail, df1, df2) - 1) / per
    high = (f / fdist.ppf(tail, df1, df2) - 1) / per
    return [max(0.0, low), max(0.0, high)]


def components(grid: Sequence[Sequence[float]], *, level: float = 0.95) -> dict[str, Any] | None:
    """Variance components of an ``(I, J)`` grid of results (rows: inits, columns: orders).

    Returns the standard deviations of the init, order and residual effects (method of moments,
    clipped at 0), the F test p-values of "no init effect" and "no order effect", and exact intervals
    of each effect's standard deviation relative to the residual's (``sqrt`` of the variance ratio).
    """
    from scipy.stats import f as fdist

    y = np.asarray(grid, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] < 2 or y.shape[1] < 2 or not np.isfinite(y).all():
        return None
    n_i, n_j = y.shape
    grand = y.mean()
    rows, cols = y.mean(axis=1), y.mean(axis=0)
    resid = y - rows[:, None] - cols[None, :] + grand
    df_i, df_j, df_e = n_i - 1, n_j - 1, (n_i - 1) * (n_j - 1)
    ms_i = n_j * float(((rows - grand) ** 2).sum()) / df_i
    ms_j = n_i * float(((cols - grand) ** 2).sum()) / df_j
    ms_e = float((resid ** 2).sum()) / df_e
    out: dict[str, Any] = {"inits": n_i, "orders": n_j, "ms_init": ms_i, "ms_order": ms_j, "ms_resid": ms_e,
                           "sd_init": math.sqrt(max(0.0, (ms_i - ms_e) / n_j)),
                           "sd_order": math.sqrt(max(0.0, (ms_j - ms_e) / n_i)), "sd_resid": math.sqrt(ms_e)}
    for name, ms, df, per in (("init", ms_i, df_i, n_j), ("order", ms_j, df_j, n_i)):
        f = ms / ms_e if ms_e > 0 else math.inf
        out[f"p_{name}"] = float(fdist.sf(f, df, df_e)) if math.isfinite(f) else 0.0
        ci = _ratio_ci(f, df, df_e, per, level)
        out[f"ratio_{name}_ci"] = None if ci is None else [math.sqrt(v) for v in ci]
    return out
