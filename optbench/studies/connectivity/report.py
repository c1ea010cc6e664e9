"""The connectivity study's figures, drawn from its stored payload alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from optbench.report.document import Figure
from optbench.report.plots import png, pyplot
from optbench.studies.base import Payload
from optbench.studies.connectivity.findings import metric_label


def _errorbar(ax: Any, xs: Sequence[float], means: Sequence[float | None], cis: Sequence[Any], **kw: Any) -> None:
    pts = [(x, m, c) for x, m, c in zip(xs, means, cis, strict=True) if m is not None]
    if not pts:
        return
    low = [m - c[0] if c else 0.0 for _, m, c in pts]
    high = [c[1] - m if c else 0.0 for _, m, c in pts]
    ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[low, high], capsize=3, marker="o", **kw)


def draw(payload: Payload) -> list[Figure]:
    """Loss along each path, barrier vs width, barrier vs spawn step."""
    plt = pyplot()
    data = payload["data"]
    alphas, figures = data["alphas"], []
    colors = plt.get_cmap("viridis")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True, layout="tight")
    widths = [w for w in data["widths"] if w["pairs"]]
    for i, w in enumerate(widths):
        c = colors(i / max(1, len(widths) - 1))
        left.plot(alphas, w["naive_loss_mean"], "--", color=c, label=f"width {w['width']}")
        left.plot(alphas, w["aligned_loss_mean"], "-", color=c, label=f"width {w['width']} aligned")
    left.set(title="independent solutions (dashed: as trained, solid: aligned)", xlabel="alpha", ylabel="train loss")
    spawn = [e for e in data["spawn"] if e["paths"]]
    for i, e in enumerate(spawn):
        right.plot(alphas, e["loss_mean"], color=plt.get_cmap("plasma")(i / max(1, len(spawn))), label=f"k = {e['k']}")
    right.set(title="copies spawned at step k", xlabel="alpha")
    for ax in (left, right):
        if ax.lines:
            ax.legend(fontsize=7)
    figures.append(Figure("connectivity-paths.png", "Mean training loss along the straight path between two "
                                                    "solutions (alpha = 0: A, 1: B)", png(fig)))
    label = metric_label(data)
    if widths:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="tight")
        ws = [w["width"] for w in widths]
        for ax, key, name in ((axes[0], "barrier", "loss barrier"), (axes[1], "metric_barrier", label)):
            _errorbar(ax, ws, [w[f"naive_{key}_mean"] for w in widths], [w[f"naive_{key}_ci"] for w in widths],
                      label="as trained", linestyle="--")
            _errorbar(ax, ws, [w[f"aligned_{key}_mean"] for w in widths], [w[f"aligned_{key}_ci"] for w in widths],
                      label="after weight matching")
            ax.set_xscale("log", base=2)
            ax.set(xlabel="hidden width", ylabel=name, title=f"{name} vs width")
            ax.set_xticks(ws, [str(w) for w in ws])
            ax.legend(fontsize=8)
        figures.append(Figure("connectivity-width.png", "Barrier between independent solutions vs width, before "
                                                        "and after alignment (mean, 95% CI over networks)", png(fig)))
    if spawn:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="tight")
        ks = [e["k"] for e in spawn]
        for ax, key, name in ((axes[0], "loss_barrier", "loss barrier"), (axes[1], "metric_barrier", label)):
            _errorbar(ax, ks, [e[f"{key}_mean"] for e in spawn], [e[f"{key}_ci"] for e in spawn], label="test"
                      if key == "metric_barrier" else "train")
            other = "train_error" if key == "metric_barrier" else "test_loss"  # the other split (schema 2 on)
            if all(e.get("barriers") for e in spawn):
                _errorbar(ax, ks, [e["barriers"][other]["mean"] for e in spawn],
                          [e["barriers"][other]["ci"] for e in spawn], linestyle="--",
                          label="train" if key == "metric_barrier" else "test")
                ax.legend(fontsize=8)
            ax.set_xscale("symlog", linthresh=max(1, min([k for k in ks if k > 0], default=1)))
            ax.set(xlabel="spawn step k", ylabel=name, title=f"{name} vs spawn step")
            if key == "metric_barrier" and data["stable_threshold"] is not None:
                ax.axhline(data["stable_threshold"], color="grey", linestyle=":", label="2 % (Frankle et al.)")
                ax.legend(fontsize=8)
        figures.append(Figure("connectivity-spawn.png", "Barrier between two copies spawned at step k and trained "
                                                        "on different data orders (mean, 95% t CI over parents)",
                              png(fig)))
    grok = data.get("grokking")
    if grok and grok["entries"]:
        figures.append(_grok_figure(plt, grok))
    return figures


def _grok_figure(plt: Any, grok: dict[str, Any]) -> Figure:
    """Left: the grokking runs' mean accuracy curves with the kept steps; right: barriers at the kept steps."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="tight")
    steps = grok["curve_steps"]
    shown = [(s, a, b) for s, a, b in zip(steps, grok["train_accuracy_mean"] or [None] * len(steps),
                                          grok["test_accuracy_mean"], strict=True) if s > 0]
    left.plot([s for s, _, _ in shown], [a for _, a, _ in shown], label="train accuracy")
    left.plot([s for s, _, _ in shown], [b for _, _, b in shown], label="test accuracy")
    for e in grok["entries"]:
        left.axvline(e["step"], color="grey", linestyle=":")
    left.set_xscale("log")
    left.set(xlabel="step", ylabel="accuracy (mean over runs)", title="grokking runs (dotted: kept steps)")
    left.legend(fontsize=8)
    kept = [e["step"] for e in grok["entries"]]
    for name in ("train_error", "test_error"):
        for side, line in (("naive", "--"), ("aligned", "-")):
            _errorbar(right, kept, [e["barriers"][side][name]["mean"] for e in grok["entries"]],
                      [e["barriers"][side][name]["ci"] for e in grok["entries"]], linestyle=line,
                      label=f"{name.replace('_', ' ')} barrier, {'as trained' if side == 'naive' else 'aligned'}")
    right.set_xscale("log")
    right.set_xticks(kept, [str(k) for k in kept])
    right.minorticks_off()
    right.set(xlabel="kept step", ylabel="barrier", title="independent pairs (mean, 95% CI over networks)")
    right.legend(fontsize=7)
    return Figure("connectivity-grokking.png", "Grokking modadd networks: accuracy curves, and the error barriers "
                                               "between independent networks at steps before and after the jump",
                  png(fig))
