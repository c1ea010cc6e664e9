"""Operation-count models of least-squares solvers, fitted to measured times, and the crossover map.

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

import io
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
                times.append(min(r["times"].values()))
            continue
        if r["kappa"] < 1.5:
            continue
        for key, t in r["times"].items():
            if t and t > 0:
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


def crossover_map(data: dict[str, Any]) -> bytes | None:
    """The map: per accuracy, the fastest family at each (d, kappa) of the dense CPU grid (marker per n),
    and the predicted GD = Cholesky and CG = Cholesky lines for each n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from optbench.studies.crossover import COLOURS, FAMILY

    cells = [c for c in data["cells"] if c["kind"] == "dense" and c["device"] == "cpu" and c["winner"]]
    if not cells:
        return None
    eps_values = sorted({c["eps"] for c in cells}, reverse=True)
    ns = sorted({c["n"] for c in cells})
    markers = dict(zip(ns, "osD^v<>", strict=False))
    fig, axes = plt.subplots(1, len(eps_values), figsize=(4.2 * len(eps_values), 4), sharey=True, squeeze=False)
    d_all = np.array(sorted({c["d"] for c in cells}), dtype=np.float64)
    grid = np.geomspace(d_all.min() / 1.5, d_all.max() * 1.5, 50)
    kappa_max = max(c["kappa"] for c in cells)
    for ax, eps in zip(axes[0], eps_values, strict=True):
        for c in (c for c in cells if c["eps"] == eps):
            jitter = 1.0 + 0.12 * (ns.index(c["n"]) - (len(ns) - 1) / 2)
            ax.scatter(c["d"] * jitter, max(c["kappa"], 1.0), marker=markers[c["n"]],
                       color=COLOURS[FAMILY[c["winner"]]], s=36, edgecolor="white", linewidth=0.5)
        for n in ns:
            for method, style in (("gd", "--"), ("cg", ":")):
                kappa = predicted_kappa(data["fits"], method, n=n, d=grid, eps=eps)
                if kappa is not None:
                    ax.plot(grid, kappa, style, color=COLOURS["gradient" if method == "gd" else "Krylov"], lw=0.9,
                            alpha=0.4 + 0.6 * ns.index(n) / max(len(ns) - 1, 1))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(0.5, kappa_max * 4)
        ax.set_title(f"eps = {eps:g}", fontsize=10)
        ax.set_xlabel("d (columns)")
    axes[0][0].set_ylabel("kappa = cond(X)^2")
    handles = [Line2D([], [], color=c, marker="o", ls="", label=f) for f, c in COLOURS.items()]
    handles += [Line2D([], [], color="grey", marker=markers[n], ls="", label=f"n = {n:g}") for n in ns]
    handles += [Line2D([], [], color=COLOURS["gradient"], ls="--", label="predicted GD = Cholesky"),
                Line2D([], [], color=COLOURS["Krylov"], ls=":", label="predicted CG = Cholesky")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=7, frameon=False)
    fig.suptitle("Fastest least-squares method (measured) and the crossover the operation counts predict "
                 "(below a line the iterative method should win)", fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()
