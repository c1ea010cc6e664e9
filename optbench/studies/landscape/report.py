"""The landscape study's figures, drawn from its stored payload alone."""

from __future__ import annotations

from typing import Any

from optbench.report.document import Figure
from optbench.report.plots import png, pyplot
from optbench.studies.base import Payload
from optbench.studies.landscape.analysis import FEATURES

NAMES = {"ga": "GA", "cmaes": "CMA-ES"}


def _advantage(problem: dict[str, Any], opt: str, chosen: dict[str, Any]) -> float | None:
    """A at the optimizer's chosen budget (schema 2), else at the full budget (schema 1 payloads)."""
    pick = chosen.get(opt)
    if pick and problem.get("by_budget"):
        return problem["by_budget"].get(f"{pick['budget']:g}", {}).get(opt)
    return problem["optimizers"].get(opt, {}).get("vs_random")


def draw(payload: Payload) -> list[Figure]:
    """Features against the advantage over random search; the blind-search scaling on pow."""
    figures = []
    data = payload["data"]
    if data["problems"]:
        figures.append(Figure("landscape-features.png", "Each feature (mean and 95% interval over samples) against "
                              "GA's and CMA-ES's Vargha-Delaney A over random search at the chosen budget (one point "
                              "per problem)", _features(data)))
    if data.get("blind"):
        figures.append(Figure("landscape-pow-scaling.png", "Blind search on pow: evaluations to the first success "
                              "against the difficulty k, with the fitted slope and 2^k", _blind(data["blind"])))
    return figures


def _features(data: dict[str, Any]) -> bytes:
    plt = pyplot()
    problems, chosen = data["problems"], data.get("chosen_budget", {})
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), sharey=True)
    for ax, (key, label) in zip(axes.flat, FEATURES, strict=True):
        for opt, marker, colour in (("ga", "o", "tab:blue"), ("cmaes", "^", "tab:orange")):
            pts = [(p["summary"][key], _advantage(p, opt, chosen), p["problem"], (p.get("summary_ci") or {}).get(key))
                   for p in problems if p["summary"][key] is not None and _advantage(p, opt, chosen) is not None]
            if not pts:
                continue
            budget = f" @ {chosen[opt]['budget']:g}" if opt in chosen else ""
            xs, ys = [x for x, *_ in pts], [y for _, y, *_ in pts]
            err = [[x - ci[0] if ci else 0 for x, _, _, ci in pts], [ci[1] - x if ci else 0 for x, _, _, ci in pts]]
            ax.errorbar(xs, ys, xerr=err, fmt=marker, color=colour, alpha=0.8, ms=5, elinewidth=0.8,
                        label=NAMES[opt] + budget)
            for x, y, name, _ in pts:
                ax.annotate(name.split("(")[0], (x, y), fontsize=6, alpha=0.7, xytext=(2, 2),
                            textcoords="offset points")
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(label)
        ax.set_ylim(-0.05, 1.05)
    for ax in axes[:, 0]:
        ax.set_ylabel("A vs random search")
    axes.flat[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Landscape features against the advantage over random search (0.5 = none)", fontsize=10)
    fig.tight_layout()
    return png(fig)


def _blind(blind: dict[str, Any]) -> bytes:
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    runs = blind["runs"]
    ax.scatter([r["k"] for r in runs], [np.log2(r["evaluations"]) for r in runs], s=10, alpha=0.5, color="grey",
               label="one run")
    per_k = blind["per_k"]
    ax.plot([r["k"] for r in per_k], [np.log2(r["mean"]) for r in per_k], "o", color="tab:blue", label="log2 mean")
    ks = np.array([r["k"] for r in per_k], dtype=float)
    ax.plot(ks, ks, "--", color="black", lw=0.8, label="log2 2^k")
    fit = blind["fit"]
    if fit["slope"] is not None:
        ax.plot(ks, fit["intercept"] + fit["slope"] * ks, color="tab:red", lw=1,
                label=f"fit per run: slope {fit['slope']:.3f} [{fit['ci'][0]:.3f}, {fit['ci'][1]:.3f}] "
                      "(E log2 G = log2 mean - 0.83)")
    ax.set_xlabel("k (leading zero bits required)")
    ax.set_ylabel("log2 evaluations to the first success")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png(fig)
