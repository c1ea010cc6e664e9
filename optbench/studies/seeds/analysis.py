"""The analysis of ``optbench study seeds``: tables, findings and figure data from stored task data alone."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from optbench.studies.base import Table, decode_tensor
from optbench.studies.measures import (
    disagreement,
    mean_or_none,
    output_distance,
    pairwise,
    relative_distance,
    spread,
)

Group = list[tuple[int, dict]]  # (seed, task data)
SOURCE_TEXT = {"init": "init", "order": "data order", "both": "init + order", "none": "nothing"}


def _function_distances(group: Group, epoch: int, classifier: bool) -> list[float]:
    """Pairwise function-space distances (disagreement or output RMS) of the seeds' networks at ``epoch``."""
    outputs = [decode_tensor(d["at"][str(epoch)]["outputs"]) for _, d in group]
    return pairwise(outputs, disagreement if classifier else output_distance)


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
        function_d = _function_distances(group, final, classifier)
        error = mean_or_none([1 - v for v in by_epoch[final]]) if classifier else sp["mean"]
        dis = mean_or_none(function_d)
        corr = _spearman(weight_d, function_d)
        agree_rows.append([loss, SOURCE_TEXT.get(source, source), error, dis,
                           (dis / error) if (dis is not None and error) else None, mean_or_none(weight_d), corr])
        stats[key].update(error=error, disagreement=dis)
        for epoch in checkpoints:
            es = spread(by_epoch[epoch], seeds)
            ed = _function_distances(group, epoch, classifier)
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
