"""The lottery study's figures, drawn from its stored payload alone."""

from __future__ import annotations

from typing import Any

from optbench.report.document import Figure
from optbench.report.plots import png, pyplot
from optbench.studies.base import Payload
from optbench.studies.lottery.analysis import KIND_TEXT, KINDS, highest

COLORS = {"ticket": "tab:blue", "reinit": "tab:orange", "random": "tab:green", "dense": "black"}


def draw(payload: Payload) -> list[Figure]:
    """Test metric and speed vs weights left (and grok step on modadd); curves at one sparsity."""
    plt = pyplot()
    data = payload["data"]
    levels, dense = data.get("levels", []), data.get("dense")
    if not levels:
        return []
    left = [100 * (1 - lv["sparsity"]) for lv in levels]
    panels = 3 if data["grokking"] else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.8), layout="tight")
    for kind in KINDS:
        means = [lv[kind]["mean"] for lv in levels]
        low = [m - lv[kind]["ci"][0] if lv[kind]["ci"] else 0 for m, lv in zip(means, levels, strict=True)]
        high = [lv[kind]["ci"][1] - m if lv[kind]["ci"] else 0 for m, lv in zip(means, levels, strict=True)]
        axes[0].errorbar(left, means, yerr=[low, high], marker="o", ms=3, capsize=2, color=COLORS[kind],
                         label=KIND_TEXT[kind])
        axes[1].plot(left, [lv[kind]["steps_to_dense_median"] for lv in levels], marker="o", ms=3,
                     color=COLORS[kind], label=KIND_TEXT[kind])
        if panels == 3:
            axes[2].plot(left, [lv[kind]["grok_median"] for lv in levels], marker="o", ms=3, color=COLORS[kind],
                         label=KIND_TEXT[kind])
    axes[0].axhline(dense["mean"], color="black", lw=1, label="dense")
    axes[0].axhspan(dense["mean"] - dense["sd"], dense["mean"] + dense["sd"], color="grey", alpha=0.2)
    axes[0].set(ylabel=data["metric"], title=f"final {data['metric']} (mean, 95% CI)")
    if dense["steps_to_dense_median"] is not None:
        axes[1].axhline(dense["steps_to_dense_median"], color="black", lw=1, label="dense")
    axes[1].set(ylabel="steps", title="steps to reach the dense network's spread (mean - sd)")
    if panels == 3:
        if dense["grok_median"] is not None:
            axes[2].axhline(dense["grok_median"], color="black", lw=1, label="dense")
        axes[2].set(ylabel="steps", title=f"step where test accuracy reaches {data['grok_threshold']}")
    ticks = [t for t in (100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1) if t >= 0.8 * min(left)]
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlim(105, 0.85 * min(left))  # reversed: sparser to the right (also when a panel has no points)
        ax.set_xlabel("weights left (%)")
        ax.legend(fontsize=7)
    figures = [Figure("lottery-sparsity.png", "Tickets against their controls as pruning proceeds (x: share of "
                                              "Linear weights left, log scale)", png(fig))]
    grokked = [lv for lv in levels if lv["ticket"]["grokked"]] if data["grokking"] else []
    ref = highest(levels, "ticket_matches") or (grokked[-1] if grokked else levels[len(levels) // 2])
    fig, ax = plt.subplots(figsize=(7, 3.8), layout="tight")
    curves = [("dense", dense)] + [(k, ref[k]) for k in KINDS]
    for kind, summary in curves:
        steps = summary.get("steps", data["steps"])
        if summary["curve_mean"]:
            ax.plot(steps, summary["curve_mean"], color=COLORS[kind], label=f"{KIND_TEXT[kind]} test")
        if data["grokking"] and summary["train_accuracy_mean"] and kind in ("dense", "ticket"):
            ax.plot(steps, summary["train_accuracy_mean"], "--", color=COLORS[kind], label=f"{KIND_TEXT[kind]} train")
    ax.set(xlabel="step", ylabel=data["metric"],
           title=f"mean curves, tickets at {100 * ref['sparsity']:.1f} % sparsity")
    ax.legend(fontsize=7)
    figures.append(Figure("lottery-curves.png", f"Training curves (mean over seeds): dense network and, at "
                                                f"{100 * ref['sparsity']:.1f} % sparsity, ticket and controls",
                          png(fig)))
    stable = [lv for lv in levels if lv.get("stability")]  # schema 2 on: the copies at the rewind step
    if stable and dense.get("stability"):
        figures.append(_stability_figure(plt, data, stable))
    return figures


def _stability_figure(plt: Any, data: dict[str, Any], levels: list[dict[str, Any]]) -> Figure:
    """The ticket's test metric and its test error barrier at the rewind step, vs the weights left."""
    from optbench.studies.paths import STABLE_ERROR

    dense = data["dense"]
    left = [100.0] + [100 * (1 - lv["sparsity"]) for lv in levels]
    fig, (acc, bar) = plt.subplots(1, 2, figsize=(10, 3.8), layout="tight")
    summaries = [dense] + [lv["ticket"] for lv in levels]
    stabs = [dense["stability"]] + [lv["stability"] for lv in levels]
    for ax, values, cis, name in (
            (acc, [s["mean"] for s in summaries], [s["ci"] for s in summaries], f"final {data['metric']}"),
            (bar, [s["test_error"]["mean"] for s in stabs], [s["test_error"]["ci"] for s in stabs],
             "test error barrier between two copies")):
        low = [v - c[0] if c else 0 for v, c in zip(values, cis, strict=True)]
        high = [c[1] - v if c else 0 for v, c in zip(values, cis, strict=True)]
        ax.errorbar(left, values, yerr=[low, high], marker="o", ms=3, capsize=2, color=COLORS["ticket"],
                    label="ticket (100 %: dense)")
        ax.set(ylabel=name, title=f"{name} (mean, 95% CI)")
    bar.plot(left, [s["train_error"]["mean"] for s in stabs], "--", marker="o", ms=3, color=COLORS["ticket"],
             label="train error barrier")
    bar.axhline(STABLE_ERROR, color="grey", linestyle=":", label="2 % (Frankle et al.)")
    for ax in (acc, bar):
        ax.set_xscale("log")
        ax.set_xlim(105, 0.85 * min(left))
        ax.set_xlabel("weights left (%)")
        ax.legend(fontsize=7)
    return Figure("lottery-stability.png", f"Tickets' stability to SGD noise at the rewind step k = "
                                           f"{data.get('rewind_step', 0)} next to their accuracy", png(fig))
