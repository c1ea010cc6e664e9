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
    alignment = data["data"].get("alignment")  # schema 2 on; a run stored before it has none
    return [curves, strip, scatter] + ([_alignment_figure(plt, alignment)] if alignment else [])


def _alignment_figure(plt: Any, alignment: list[dict[str, Any]]) -> Figure:
    """Raw and aligned distances per source (trained and initial points, 95% CI over networks); per layer."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.4, 3.8), layout="tight")
    bars = [("raw", "trained, raw", "#9ecae1"), ("aligned", "trained, aligned", "#1f77b4"),
            ("raw_init", "init, raw", "#fdd0a2"), ("aligned_init", "init, aligned", "#ff7f0e")]
    width = 0.8 / len(bars)
    for b, (key, label, color) in enumerate(bars):
        xs, means, errs = [], [], [[], []]
        for i, a in enumerate(alignment):
            if a.get(key) is None:
                continue
            ci = a.get(f"{key}_ci")
            xs.append(i + (b - 1.5) * width)
            means.append(a[key])
            errs[0].append(a[key] - ci[0] if ci else 0.0)
            errs[1].append(ci[1] - a[key] if ci else 0.0)
        left.bar(xs, means, width, yerr=errs, capsize=2, color=color, label=label)
    left.set_xticks(range(len(alignment)), [f"{a['loss'][:5]}\n{SOURCE_TEXT.get(a['source'])}" for a in alignment],
                    fontsize=7)
    left.set(ylabel="relative weight distance", title="pairs of seeds, before and after alignment")
    left.legend(fontsize=7)
    for a in alignment:
        layers = range(1, len(a["layers_raw"]) + 1)
        c = {"init": "#1f77b4", "order": "#ff7f0e", "both": "#2ca02c"}.get(a["source"], "#7f7f7f")
        right.plot(layers, a["layers_raw"], "--o", color=c, ms=3, label=f"{SOURCE_TEXT.get(a['source'])}, raw")
        right.plot(layers, a["layers_aligned"], "-o", color=c, ms=3, label=f"{SOURCE_TEXT.get(a['source'])}, aligned")
    right.set(xlabel="linear layer", ylabel="relative distance", title="per layer (trained networks)")
    right.set_xticks(list(range(1, len(alignment[0]["layers_raw"]) + 1)))
    right.legend(fontsize=7)
    return Figure("seeds-alignment.png", "weight distance between seeds before and after permutation alignment "
                                         "(mean, 95% CI over networks), with the initial points as reference",
                  png(fig))
