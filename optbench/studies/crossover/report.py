"""The crossover study's figure, drawn from its stored payload alone."""

from __future__ import annotations

from typing import Any

import numpy as np

from optbench.report.document import Figure
from optbench.report.plots import png, pyplot
from optbench.studies.base import Payload
from optbench.studies.crossover.catalog import FAMILY
from optbench.studies.crossover.fit import predicted_kappa

COLOURS = {"closed form": "black", "Krylov": "tab:green", "gradient": "tab:red", "stochastic": "tab:purple"}


def draw(payload: Payload) -> list[Figure]:
    """The crossover map (none without a dense CPU cell)."""
    image = crossover_map(payload["data"])
    return [Figure("crossover-map.png", "Fastest method family per (d, kappa) and accuracy, with the crossover "
                   "predicted by the fitted operation counts (lines, one per n)", image)] if image else []


def _target(cell: dict[str, Any]) -> str:
    """A cell's target key (schema-1 payloads have none: their eps)."""
    return cell.get("target") or f"{cell['eps']:g}"


def crossover_map(data: dict[str, Any]) -> bytes | None:
    """The map: per accuracy, the fastest family at each (d, kappa) of the dense CPU grid (marker per n),
    and the predicted GD = Cholesky and CG = Cholesky lines for each n."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    cells = [c for c in data["cells"] if c["kind"] == "dense" and c["device"] == "cpu" and c["winner"]]
    if not cells:
        return None
    # one panel per target: the fixed eps grid (loosest first), then the statistical accuracy (eps per system)
    targets = sorted({_target(c) for c in cells}, key=lambda t: (t == "stat", -float(t) if t != "stat" else 0))
    ns = sorted({c["n"] for c in cells})
    markers = dict(zip(ns, "osD^v<>", strict=False))
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 4), sharey=True, squeeze=False)
    d_all = np.array(sorted({c["d"] for c in cells}), dtype=np.float64)
    grid = np.geomspace(d_all.min() / 1.5, d_all.max() * 1.5, 50)
    kappa_max = max(c["kappa"] for c in cells)
    for ax, target in zip(axes[0], targets, strict=True):
        for c in (c for c in cells if _target(c) == target):
            jitter = 1.0 + 0.12 * (ns.index(c["n"]) - (len(ns) - 1) / 2)
            ax.scatter(c["d"] * jitter, max(c["kappa"], 1.0), marker=markers[c["n"]],
                       color=COLOURS[FAMILY[c["winner"]]], s=36, edgecolor="white", linewidth=0.5)
        for n in ns if target != "stat" else ():  # the stat target's eps differs per system: no single line
            eps = float(target)
            for method, style in (("gd", "--"), ("cg", ":")):
                kappa = predicted_kappa(data["fits"], method, n=n, d=grid, eps=eps)
                if kappa is not None:
                    ax.plot(grid, kappa, style, color=COLOURS["gradient" if method == "gd" else "Krylov"], lw=0.9,
                            alpha=0.4 + 0.6 * ns.index(n) / max(len(ns) - 1, 1))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(0.5, kappa_max * 4)
        ax.set_title("eps = sigma^2 d/||r*||^2 (stat)" if target == "stat" else f"eps = {target}", fontsize=10)
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
    return png(fig)
