"""Operation-count models of least-squares solvers, fitted to measured times, and the crossover they predict.

Models (``L_eps = ln(1/eps)``, ``kappa = cond(X)^2``):

* Cholesky on the normal equations: ``t = a n d^2 + b d^3``;
* gradient descent: ``t = c n d kappa L_eps``;
* conjugate gradients: ``t = c n d min(d, sqrt(kappa) L_eps)`` (in exact arithmetic CG ends
  after at most ``d`` steps, which bounds its count on narrow systems).

Constants come from non-negative least squares on the relative errors (each row divided by its
measured time), so small and large systems weigh alike and every constant is >= 0. Systems with
``kappa = 1`` are left out of the iterative fits: both methods solve them in one step, which
the asymptotic counts do not describe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MODELS = {
    "cholesky": ("a*n*d^2 + b*d^3", lambda r, le: [r["n"] * r["d"] ** 2, r["d"] ** 3]),
    "gd": ("c*n*d*kappa*ln(1/eps)", lambda r, le: [r["n"] * r["d"] * r["kappa"] * le]),
    "cg": ("c*n*d*min(d, sqrt(kappa)*ln(1/eps))",
           lambda r, le: [r["n"] * r["d"] * min(r["d"], math.sqrt(r["kappa"]) * le)]),
}


def _points(records: Sequence[dict], method: str) -> tuple[np.ndarray, np.ndarray]:
    features, times = [], []
    make = MODELS[method][1]
    for r in records:
        if r["method"] != method or r["kind"] != "dense" or r.get("device", "cpu") != "cpu":
            continue
        if method == "cholesky":
            if r["times"]:
                features.append(make(r, 0.0))
                times.append(min(r["times"].values()))  # a closed form's one time, whatever the target
            continue
        if r["kappa"] < 1.5:
            continue
        for key, t in r["times"].items():
            if key != "stat" and t and t > 0:  # the statistical target has no fixed ln(1/eps)
                features.append(make(r, math.log(1 / float(key))))
                times.append(t)
    return np.asarray(features, dtype=np.float64), np.asarray(times, dtype=np.float64)


def fit_models(records: Sequence[dict]) -> dict[str, dict[str, Any]]:
    """Fitted constants of each model on the CPU dense records, with the median relative error.

    Returns:
        ``{method: {"name", "formula", "constants": [...], "median_relative_error", "points"}}``;
        ``constants`` is empty when there were no usable points.
    """
    from scipy.optimize import nnls

    out = {}
    for method, (formula, _) in MODELS.items():
        F, t = _points(records, method)
        entry: dict[str, Any] = {"name": method, "formula": formula, "constants": [], "median_relative_error": None,
                                 "points": len(t)}
        if len(t) and len(t) >= F.shape[1]:
            scale = F.max(axis=0)
            scale[scale == 0] = 1.0
            coef, _ = nnls((F / scale) / t[:, None], np.ones(len(t)))
            constants = coef / scale
            predicted = F @ constants
            entry["constants"] = [float(c) for c in constants]
            entry["median_relative_error"] = float(np.median(np.abs(predicted - t) / t))
        out[method] = entry
    return out


def predicted_kappa(fits: dict[str, dict], method: str, *, n: float, d: np.ndarray, eps: float) -> np.ndarray | None:
    """``kappa`` at which the fitted ``method`` costs as much as the fitted Cholesky, over ``d``."""
    chol, it = fits.get("cholesky", {}).get("constants"), fits.get(method, {}).get("constants")
    if not chol or not it or it[0] <= 0:
        return None
    closed = chol[0] * n * d**2 + chol[1] * d**3
    ratio = closed / (it[0] * n * d * math.log(1 / eps))
    if method == "gd":
        return ratio
    # CG's count is min(d, sqrt(kappa) L_eps): where even d steps cost less than Cholesky, CG wins at any kappa
    return np.where(closed > it[0] * n * d * d, np.inf, ratio**2)
