"""The figures of ``optbench study seeds``, drawn from its stored payload alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from optbench.report.document import Figure
from optbench.report.plots import png, pyplot
from optbench.studies.seeds.analysis import SOURCE_TEXT


def figures(data: Mapping[str, Any]) -> list[Figure]:
    """Test metric vs epoch per source, final metric per seed, weight vs function distance."""
    plt = pyplot()
    groups = [g for g in data["data"]["groups"] if g["source"] != "none" or g["deterministic"] is None]
    if not groups:
        return []
    losses = sorted({g["loss"] for g in groups})
    metric = data["data"]["metric"]
    epochs = data["data"]["checkpoints"]
    colors = {"init": "#1f77b4", "order": "#ff7f0e", "both": "#2ca02c", "none": "#7f7f7f"}
    fig, axes = plt.subplots(1, len(losses), figsize=(5.2 * len(losses), 3.6), squeeze=False)
    for ax, loss in zip(axes[0], losses, strict=True):
        for g in (g for g in groups if g["loss"] == loss):
            values = np.array([g["test"][str(e)] for e in epochs], dtype=float)
            mean, std = values.mean(axis=1), values.std(axis=1, ddof=1) if values.shape[1] > 1 else 0 * values[:, 0]
            ax.plot(epochs, mean, marker="o", color=colors.get(g["source"]), label=SOURCE_TEXT.get(g["source"]))
            ax.fill_between(epochs, mean - std, mean + std, color=colors.get(g["source"]), alpha=0.15)
        ax.set(title=f"loss: {loss}", xlabel="epoch", ylabel=f"{metric} (mean ± std over seeds)")
        ax.legend(fontsize=8)
    curves = Figure("seeds-spread-vs-epoch.png", f"{metric} over training, per source of variance", png(fig))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    labels = []
    for i, g in enumerate(groups):
        final = g["test"][str(epochs[-1])]
        ax.scatter([i] * len(final), final, color=colors.get(g["source"]), s=18)
        labels.append(f"{g['loss'][:5]}\n{SOURCE_TEXT.get(g['source'])}")
    ax.set_xticks(range(len(groups)), labels, fontsize=7)
    ax.set(ylabel=f"final {metric}", title="final test metric of every seed")
    strip = Figure("seeds-final-per-seed.png", "final test metric of each seed, per source of variance", png(fig))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    markers = dict(zip(losses, "oxs^", strict=False))
    for g in groups:
        if g["weight_distance"] and g["source"] != "none":
            ax.scatter(g["weight_distance"], g["function_distance"], s=14, color=colors.get(g["source"]),
                       marker=markers.get(g["loss"], "o"), label=f"{g['loss']} · {SOURCE_TEXT.get(g['source'])}")
    ax.set(xlabel="weight distance (relative)", ylabel="disagreement" if data["data"]["classifier"] else "output RMS",
           title="weight space vs function space, pairs of seeds")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    scatter = Figure("seeds-weight-vs-function.png", "weight-space vs function-space distance", png(fig))
    return [curves, strip, scatter]
