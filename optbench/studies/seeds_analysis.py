"""The analysis and figures of ``optbench study seeds`` (from stored task data alone)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from optbench.studies.base import Figure, Table, decode_tensor
from optbench.studies.measures import (
    digest,
    disagreement,
    mean_or_none,
    output_distance,
    pairwise,
    relative_distance,
    spread,
)

Group = list[tuple[int, dict]]  # (seed, task data)
SOURCE_TEXT = {"init": "init", "order": "data order", "both": "init + order", "none": "nothing"}


def _label(key: tuple[str, str, Any]) -> str:
    loss, source, det = key
    return f"{loss} · {SOURCE_TEXT.get(source, source)}" + ("" if det is None else f" · det={det}")


def _pairs(group: Group, epoch: int, classifier: bool) -> tuple[list[float], list[float]]:
    """Pairwise function-space distances (disagreement or output RMS) at ``epoch``, and weight distances
    (final weights; ``[]`` unless ``epoch`` is the last)."""
    outputs = [decode_tensor(d["at"][str(epoch)]["outputs"]) for _, d in group]
    fn = disagreement if classifier else output_distance
    return pairwise(outputs, fn), []


def _weights(group: Group) -> list[Any]:
    return [decode_tensor(d["weights"]) for _, d in group]


def analyze(groups: Mapping[tuple[str, str, Any], Group], checkpoints: Sequence[int],
            device: str) -> tuple[list[Table], list[str], dict[str, Any]]:
    """Tables, findings and figure data of the seeds study."""
    final = checkpoints[-1]
    keys = sorted(groups, key=lambda k: (k[0], ["init", "order", "both", "none"].index(k[1])
                                         if k[1] in SOURCE_TEXT else 9, str(k[2])))
    any_data = next((d for g in groups.values() for _, d in g), None)
    classifier = bool(any_data and any_data.get("higher_is_better"))
    metric = any_data["metric"] if any_data else "test"
    spread_rows, agree_rows, length_rows, audit_rows = [], [], [], []
    data: dict[str, Any] = {"metric": metric, "classifier": classifier, "checkpoints": list(checkpoints),
                            "groups": []}
    stats: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for key in keys:
        group = sorted(groups[key], key=lambda item: item[0])
        loss, source, det = key
        seeds = [seed for seed, _ in group]
        by_epoch = {e: [d["at"][str(e)]["test"] for _, d in group] for e in checkpoints}
        sp = spread(by_epoch[final], seeds)
        stats[key] = sp
        spread_rows.append([loss, SOURCE_TEXT.get(source, source), sp["n"], sp["mean"], sp["std"], sp["std_ci"],
                            sp["min"], sp["max"], sp["gap"],
                            ", ".join(f"seed {o}" for o in sp["outliers"]) or None])
        weights = _weights(group)
        weight_d = pairwise(weights, relative_distance)
        function_d, _ = _pairs(group, final, classifier)
        error = mean_or_none([1 - v for v in by_epoch[final]]) if classifier else sp["mean"]
        dis = mean_or_none(function_d)
        corr = _spearman(weight_d, function_d)
        agree_rows.append([loss, SOURCE_TEXT.get(source, source), error, dis,
                           (dis / error) if (dis is not None and error) else None, mean_or_none(weight_d), corr])
        stats[key].update(error=error, disagreement=dis)
        for epoch in checkpoints:
            es = spread(by_epoch[epoch], seeds)
            ed, _ = _pairs(group, epoch, classifier)
            length_rows.append([loss, SOURCE_TEXT.get(source, source), epoch, es["mean"], es["std"], es["gap"],
                                mean_or_none(ed)])
        if source == "none":
            digests = {d["digest"] for _, d in group}
            max_diff = max((float((w - weights[0]).abs().max()) for w in weights[1:]), default=0.0)
            audit_rows.append([loss, "default" if det is None else ("on" if det else "off"), len(group),
                               len(digests) == 1, len(digests), max_diff])
        data["groups"].append({"loss": loss, "source": source, "deterministic": det, "seeds": seeds,
                               "test": {str(e): by_epoch[e] for e in checkpoints},
                               "weight_distance": weight_d, "function_distance": function_d})
    function_name = "disagreement" if classifier else "output RMS distance"
    tables = [
        Table(f"Spread of {metric} over seeds after {final} epochs", [
            "loss", "varied", "seeds", "mean", "std", "std 95% CI", "min", "max", "best–worst", "outlier seeds"],
            spread_rows, notes=["std 95% CI: percentile bootstrap over seeds; outliers: beyond 3 IQR from the "
                                "quartiles or 3 std from the other seeds"]),
        Table(f"Agreement between seeds after {final} epochs", [
            "loss", "varied", "error rate" if classifier else metric, function_name,
            f"{function_name} ÷ error" if classifier else "ratio", "weight distance", "Spearman(weight, function)"],
            agree_rows, notes=["weight distance: ||a−b|| / mean(||a||, ||b||) over every pair of seeds; "
                               "disagreement: share of test inputs the two networks label differently"]),
        Table("Spread vs training length", ["loss", "varied", "epoch", "mean", "std", "best–worst", function_name],
              length_rows),
    ]
    if audit_rows:
        tables.append(Table(f"Determinism audit on {device}: the same seeds trained again",
                            ["loss", "deterministic algorithms", "runs", "bit-identical", "distinct results",
                             "max |Δw|"], audit_rows))
    return tables, _findings(stats, checkpoints, classifier, device, audit_rows), data


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    from scipy.stats import spearmanr

    value = float(spearmanr(a, b).statistic)
    return value if math.isfinite(value) else None


def _findings(stats: Mapping[tuple[str, str, Any], dict], checkpoints: Sequence[int], classifier: bool,
              device: str, audit_rows: list[list[Any]]) -> list[str]:
    out = []
    losses = sorted({k[0] for k in stats})
    for loss in losses:
        std = {k[1]: v["std"] for k, v in stats.items() if k[0] == loss and k[2] is None}
        if std.get("both") and std.get("init") is not None and std.get("order") is not None:
            out.append(f"{loss}: the std of the test metric over seeds is {std['init']:.3g} when only the "
                       f"initialisation varies, {std['order']:.3g} for the data order alone and {std['both']:.3g} "
                       f"for both; one source alone gives {std['init'] / std['both']:.0%} (init) and "
                       f"{std['order'] / std['both']:.0%} (order) of the spread of both.")
        both = stats.get((loss, "both", None))
        if both and classifier and both.get("disagreement") is not None and both.get("error"):
            out.append(f"{loss}: two seeds label {both['disagreement']:.1%} of test inputs differently, "
                       f"{both['disagreement'] / both['error']:.2f}× their mean error rate of {both['error']:.1%}; "
                       f"best–worst gap {both['gap']:.3g}, std {both['std']:.3g} over {both['n']} seeds.")
    if len(losses) == 2:
        a, b = (stats.get((loss, "both", None)) for loss in losses)
        if a and b and a["std"] is not None and b["std"] is not None:
            out.append(f"Loss: the spread over seeds is {a['std']:.3g} with {losses[0]} and {b['std']:.3g} with "
                       f"{losses[1]} (mean {a['mean']:.3g} vs {b['mean']:.3g}).")
    for row in audit_rows:
        loss, det, runs, identical, distinct, max_diff = row
        if identical:
            out.append(f"Determinism ({loss}, {device}, deterministic algorithms {det}): {runs} runs with the same "
                       "seeds gave bit-identical weights.")
        else:
            out.append(f"Determinism ({loss}, {device}, deterministic algorithms {det}): {runs} runs with the same "
                       f"seeds gave {distinct} different results (max |Δw| = {max_diff:.3g}): training is NOT "
                       "reproducible here.")
    return out


def figures(data: Mapping[str, Any]) -> list[Figure]:
    """Test metric vs epoch per source, final metric per seed, weight vs function distance."""
    from optbench.report.plots import _png, _pyplot

    plt = _pyplot()
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
    curves = Figure("seeds-spread-vs-epoch.png", f"{metric} over training, per source of variance", _png(fig))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    labels = []
    for i, g in enumerate(groups):
        final = g["test"][str(epochs[-1])]
        ax.scatter([i] * len(final), final, color=colors.get(g["source"]), s=18)
        labels.append(f"{g['loss'][:5]}\n{SOURCE_TEXT.get(g['source'])}")
    ax.set_xticks(range(len(groups)), labels, fontsize=7)
    ax.set(ylabel=f"final {metric}", title="final test metric of every seed")
    strip = Figure("seeds-final-per-seed.png", "final test metric of each seed, per source of variance", _png(fig))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    markers = dict(zip(losses, "oxs^", strict=False))
    for g in groups:
        if g["weight_distance"] and g["source"] != "none":
            ax.scatter(g["weight_distance"], g["function_distance"], s=14, color=colors.get(g["source"]),
                       marker=markers.get(g["loss"], "o"), label=f"{g['loss']} · {SOURCE_TEXT.get(g['source'])}")
    ax.set(xlabel="weight distance (relative)", ylabel="disagreement" if data["data"]["classifier"] else "output RMS",
           title="weight space vs function space, pairs of seeds")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    scatter = Figure("seeds-weight-vs-function.png", "weight-space vs function-space distance", _png(fig))
    return [curves, strip, scatter]


__all__ = ["analyze", "digest", "figures"]
