"""The landscape study's figure, drawn from its stored payload alone."""

from __future__ import annotations

from optbench.report.document import Figure
from optbench.report.plots import png, pyplot
from optbench.studies.base import Payload
from optbench.studies.landscape.analysis import FEATURES


def draw(payload: Payload) -> list[Figure]:
    """Each feature against GA's and CMA-ES's advantage over random search, one point per problem."""
    plt = pyplot()
    problems = payload["data"]["problems"]
    if not problems:
        return []
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), sharey=True)
    for ax, (key, label) in zip(axes.flat, FEATURES, strict=True):
        for opt, marker, colour in (("ga", "o", "tab:blue"), ("cmaes", "^", "tab:orange")):
            pts = [(p["summary"][key], p["optimizers"][opt]["vs_random"], p["problem"]) for p in problems
                   if p["summary"][key] is not None and p["optimizers"].get(opt, {}).get("vs_random") is not None]
            if pts:
                ax.scatter([x for x, _, _ in pts], [y for _, y, _ in pts], marker=marker, color=colour, alpha=0.8,
                           label={"ga": "GA", "cmaes": "CMA-ES"}[opt])
                for x, y, name in pts:
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
    return [Figure("landscape-features.png", "Each feature against GA's and CMA-ES's Vargha-Delaney A over "
                   "random search (one point per problem)", png(fig))]
