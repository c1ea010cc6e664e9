"""The analysis of ``optbench study seeds``: tables, findings and figure data from stored task data alone."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from optbench.studies.base import Table, decode_tensor
from optbench.studies.intervals import binomial_se, ci_text
from optbench.studies.measures import (
    disagreement,
    mean_or_none,
    output_distance,
    pairwise,
    relative_distance,
    spread,
)

Group = list[tuple[int, dict]]  # (seed, task data)
SOURCE_TEXT = {"init": "init", "order": "data order", "both": "init + order", "none": "nothing",
               "nested": "inits x orders"}
ORDER = ["init", "order", "both", "none", "nested"]


def _function_distances(group: Group, epoch: int, classifier: bool) -> list[float]:
    """Pairwise function-space distances (disagreement or output RMS) of the seeds' networks at ``epoch``."""
    outputs = [decode_tensor(d["at"][str(epoch)]["outputs"]) for _, d in group]
    return pairwise(outputs, disagreement if classifier else output_distance)


def _weights(group: Group) -> list[Any]:
    return [decode_tensor(d["weights"]) for _, d in group]


def analyze(groups: Mapping[tuple[str, str, Any], Group], checkpoints: Sequence[int], device: str, *,
            problems: Mapping[str, Any] | None = None) -> tuple[list[Table], list[str], dict[str, Any]]:
    """Tables, findings and figure data of the seeds study.

    ``problems`` maps each loss to its network problem (on the CPU), for the distances after permutation
    alignment; without it (or for a network that is not a plain MLP) they are left out.
    """
    final = checkpoints[-1]
    keys = sorted(groups, key=lambda k: (k[0], ORDER.index(k[1]) if k[1] in ORDER else 9, str(k[2])))
    any_data = next((d for g in groups.values() for _, d in g), None)
    classifier = bool(any_data and any_data.get("higher_is_better"))
    metric = any_data["metric"] if any_data else "test"
    n_test = int(any_data.get("n_test") or 0) if any_data else 0
    if any_data and not n_test:  # stored before n_test was: the length of the stored test outputs
        n_test = int(decode_tensor(any_data["at"][str(final)]["outputs"]).shape[0])
    spread_rows, agree_rows, length_rows, audit_rows, nested_rows = [], [], [], [], []
    alignments: list[dict[str, Any]] = []
    data: dict[str, Any] = {"metric": metric, "classifier": classifier, "checkpoints": list(checkpoints),
                            "groups": []}
    stats: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for key in keys:
        group = sorted(groups[key], key=lambda item: item[0])
        loss, source, det = key
        seeds = [seed for seed, _ in group]
        by_epoch = {e: [d["at"][str(e)]["test"] for _, d in group] for e in checkpoints}
        if source == "nested":
            nested_rows.append(_nested_row(loss, group, final))
            data["groups"].append({"loss": loss, "source": source, "deterministic": det, "seeds": seeds,
                                   "test": {str(e): by_epoch[e] for e in checkpoints}, "weight_distance": [],
                                   "function_distance": []})
            continue
        sp = spread(by_epoch[final], seeds)
        sp["test_se"] = binomial_se(sp["mean"], n_test) if classifier else None
        stats[key] = sp
        spread_rows.append([loss, SOURCE_TEXT.get(source, source), sp["n"], sp["mean"], sp["std"], sp["std_ci"],
                            sp["test_se"], sp["min"], sp["max"], sp["gap"],
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
        problem = (problems or {}).get(loss)
        if problem is not None and source != "none" and len(group) >= 2:
            aligned = _alignment(problem, group, source, function_d, loss)
            if aligned is not None:
                alignments.append(aligned)
                stats[key]["alignment"] = aligned
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
            "loss", "varied", "seeds", "mean", "std", "std 95% CI", "test-set SE", "min", "max", "best–worst",
            "outlier seeds"],
            spread_rows, notes=["std 95% CI: chi-square interval (exact under normality; coverage measured by "
                                "simulation in tests/test_study_intervals.py); test-set SE: sqrt(p(1-p)/n) of the "
                                f"mean accuracy on the {n_test} test examples, the noise of measuring one network "
                                "(a seed spread below it is not resolved); outliers: generalized ESD test, 5 % "
                                "false-positive rate per sample under normality"]),
        Table(f"Agreement between seeds after {final} epochs", [
            "loss", "varied", "error rate" if classifier else metric, function_name,
            f"{function_name} ÷ error" if classifier else "ratio", "weight distance", "Spearman(weight, function)"],
            agree_rows, notes=["weight distance: ||a−b|| / mean(||a||, ||b||) over every pair of seeds; "
                               "disagreement: share of test inputs the two networks label differently"]),
        Table("Spread vs training length", ["loss", "varied", "epoch", "mean", "std", "best–worst", function_name],
              length_rows),
    ]
    if alignments:
        tables.extend(_alignment_tables(alignments, final))
        data["alignment"] = alignments
    if nested_rows:
        tables.append(Table(f"Crossed design: initialisations x data orders, {metric} after {final} epochs", [
            "loss", "inits x orders", "mean", "sd init", "sd order", "sd residual", "p (no init effect)",
            "p (no order effect)", "sd init / sd resid 95% CI", "sd order / sd resid 95% CI"], nested_rows,
            notes=["two-way random effects, one run per cell: sd = sqrt of the method-of-moments variance "
                   "component (clipped at 0); residual = interaction + everything else; p: F tests; intervals: "
                   "exact under normality (F distribution of the mean-square ratio)"]))
        data["nested"] = [dict(zip(["loss", "design", "mean", "sd_init", "sd_order", "sd_resid", "p_init",
                                    "p_order", "ratio_init_ci", "ratio_order_ci"], row, strict=True))
                          for row in nested_rows]
    if audit_rows:
        tables.append(Table(f"Determinism audit on {device}: the same seeds trained again",
                            ["loss", "deterministic algorithms", "runs", "bit-identical", "distinct results",
                             "max |Δw|"], audit_rows))
    found = _findings(stats, checkpoints, classifier, device, audit_rows)
    return tables, found + alignment_findings(alignments) + _nested_findings(nested_rows), data


def _alignment(problem: Any, group: Group, source: str, function_d: Sequence[float], loss: str
               ) -> dict[str, Any] | None:
    """The group's distances before and after alignment, with Spearman(aligned distance, function distance)."""
    import itertools

    from optbench.studies.seeds.alignment import group_alignment

    out = group_alignment(problem, group, source=source)
    if out is None:
        return None
    seeds = [seed for seed, _ in group]
    by_pair = {(a, b): v for (a, b), v in zip(itertools.combinations(seeds, 2), function_d, strict=True)}
    pairs = out["pair_values"]
    function = [by_pair[(q["seeds"][0], q["seeds"][1])] for q in pairs]
    out.update(loss=loss, spearman_raw=_spearman([q["raw"] for q in pairs], function),
               spearman_aligned=_spearman([q["aligned"] for q in pairs], function))
    return out


def _alignment_tables(alignments: Sequence[dict[str, Any]], final: int) -> list[Table]:
    rows = [[a["loss"], SOURCE_TEXT.get(a["source"], a["source"]), a["pairs"], a["networks"], a["raw"], a["raw_ci"],
             a["aligned"], a["aligned_ci"], a["removed"], a["removed_ci"], a["raw_init"], a["aligned_init"],
             a["removed_init"], a["removed_init_ci"], a["spearman_raw"], a["spearman_aligned"]] for a in alignments]
    layer_rows = [[a["loss"], SOURCE_TEXT.get(a["source"], a["source"]), k + 1, raw, aligned,
                   1 - aligned / raw if raw > 0 else None]
                  for a in alignments for k, (raw, aligned) in enumerate(zip(a["layers_raw"], a["layers_aligned"],
                                                                             strict=True))]
    return [
        Table(f"Weight distance modulo permutations of the hidden units, after {final} epochs", [
            "loss", "varied", "pairs", "networks", "raw distance", "95% CI", "aligned distance", "95% CI",
            "removed by alignment", "95% CI", "init: raw", "init: aligned", "init: removed", "95% CI",
            "Spearman(raw, function)", "Spearman(aligned, function)"], rows,
            notes=["distance: ||a−b|| / mean(||a||, ||b||) of the whole weight vector; aligned: B's hidden units "
                   "permuted, layer by layer, to match A's by weight matching (Ainsworth et al. 2023; the "
                   "connectivity study's), which leaves B's function unchanged; removed: mean over pairs of "
                   "1 − aligned / raw. init: the same for the pair's two initial points, the reference (alignment "
                   "also shrinks the distance between two random vectors). Means over every pair of seeds; 95% CI "
                   "over networks (leave-one-network-out jackknife, t with networks − 1 df): pairs that share a "
                   "network are not independent."]),
        Table("Weight distance per layer, before and after alignment (mean over pairs)", [
            "loss", "varied", "layer", "raw distance", "aligned distance", "removed"], layer_rows,
            notes=["layer k: the k-th linear layer's weight and bias; its incoming units are permuted by the "
                   "previous layer's matching and its own units by its own, so the last layer only follows."]),
    ]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def _pct_ci(ci: Sequence[float] | None) -> str:
    return "[–]" if not ci else f"[{100 * ci[0]:.0f}, {100 * ci[1]:.0f}] %"


def alignment_findings(alignments: Sequence[dict[str, Any]]) -> list[str]:
    """Sentences computed from the distances before and after alignment."""
    out = []
    for loss in sorted({a["loss"] for a in alignments}):
        by_source = {a["source"]: a for a in alignments if a["loss"] == loss}
        a = by_source.get("both") or by_source.get("init")
        if a is None or a["removed"] is None:
            continue
        text = (f"{loss}, {SOURCE_TEXT[a['source']]}: weight matching removes {_pct(a['removed'])} "
                f"{_pct_ci(a['removed_ci'])} of the distance between two trained networks (raw {a['raw']:.3g}, "
                f"aligned {a['aligned']:.3g}; 95% CI over {a['networks']} networks)")
        if a["removed_init"] is not None:
            text += (f", against {_pct(a['removed_init'])} {_pct_ci(a['removed_init_ci'])} between their random "
                     "initial points")
            low, high = a["removed_ci"], a["removed_init_ci"]
            if low and high and low[0] > high[1]:
                text += ": training leaves the networks closer modulo permutation than chance alignment does"
            elif low and high and low[1] < high[0]:
                text += ": trained networks align less well than their random starts"
            else:
                text += ": these seeds cannot tell trained networks from random starts on this measure"
        out.append(text + ".")
        order = by_source.get("order")
        if order is not None and order["raw"] is not None:
            mine, theirs = a["aligned_ci"], order["raw_ci"]
            verdict = ("farther apart" if mine and theirs and mine[0] > theirs[1]
                       else "closer" if mine and theirs and mine[1] < theirs[0] else "about as far apart")
            out.append(f"{loss}: after alignment, networks from different initial points stay {verdict} "
                       f"({a['aligned']:.3g}) than networks from one initial point trained on different data "
                       f"orders ({order['raw']:.3g}, which alignment changes by {_pct(order['removed'])}): "
                       + ("the minimizer is not unique modulo permutations; the initialization picks it beyond a "
                          "relabelling of hidden units." if verdict == "farther apart" else
                          "modulo permutations, the initialization moves the minimizer no more than the data "
                          "order does." if verdict != "closer" else
                          "modulo permutations, the data order moves the minimizer more than the initialization."))
        layers = [(k + 1, 1 - al / raw) for k, (raw, al) in enumerate(zip(a["layers_raw"], a["layers_aligned"],
                                                                          strict=True)) if raw > 0]
        if len(layers) > 1:
            most, least = max(layers, key=lambda t: t[1]), min(layers, key=lambda t: t[1])
            out.append(f"{loss}, {SOURCE_TEXT[a['source']]}: per layer, alignment removes most in layer {most[0]} "
                       f"({_pct(most[1])}) and least in layer {least[0]} ({_pct(least[1])}).")
    return out


def _nested_row(loss: str, group: Group, epoch: int) -> list[Any]:
    """One row of the crossed-design table from the runs of ``(init_seed, order_seed)`` cells."""
    from optbench.studies.seeds.nested import components

    cells = {(d["init_seed"], d["order_seed"]): d["at"][str(epoch)]["test"] for _, d in group}
    inits, orders = sorted({i for i, _ in cells}), sorted({j for _, j in cells})
    complete = all((i, j) in cells for i in inits for j in orders)
    c = components([[cells[(i, j)] for j in orders] for i in inits]) if complete else None
    design = f"{len(inits)} x {len(orders)}"
    if c is None:
        return [loss, design, None, None, None, None, None, None, None, None]
    mean = float(np.mean(list(cells.values())))
    return [loss, design, mean, c["sd_init"], c["sd_order"], c["sd_resid"], c["p_init"], c["p_order"],
            c["ratio_init_ci"], c["ratio_order_ci"]]


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    from scipy.stats import spearmanr

    value = float(spearmanr(a, b).statistic)
    return value if math.isfinite(value) else None


def _overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    return bool(a and b and a[0] <= b[1] and b[0] <= a[1])


def _nested_findings(rows: list[list[Any]]) -> list[str]:
    out = []
    for loss, design, mean, sd_i, sd_o, sd_e, p_i, p_o, ci_i, ci_o in rows:
        if mean is None:
            continue
        out.append(f"{loss}, crossed design {design}: sd from the initialisation {sd_i:.3g} (F test p = {p_i:.2g}), "
                   f"from the data order {sd_o:.3g} (p = {p_o:.2g}), residual (interaction and the rest) {sd_e:.3g}; "
                   f"relative to the residual, init {ci_text(ci_i)} and order {ci_text(ci_o)} (95% CI).")
    return out


def _findings(stats: Mapping[tuple[str, str, Any], dict], checkpoints: Sequence[int], classifier: bool,
              device: str, audit_rows: list[list[Any]]) -> list[str]:
    out = []
    losses = sorted({k[0] for k in stats})
    for loss in losses:
        row = {k[1]: v for k, v in stats.items() if k[0] == loss and k[2] is None}
        if all(row.get(src) and row[src]["std"] is not None for src in ("init", "order", "both")):
            text = "; ".join(f"{SOURCE_TEXT[src]} {row[src]['std']:.3g} {ci_text(row[src]['std_ci'])}"
                             for src in ("init", "order", "both"))
            se = row["both"].get("test_se")
            out.append(f"{loss}: the std of the test metric over seeds (95% CI) is {text}"
                       + (f"; the test set alone measures one network to ±{se:.2g} (binomial SE)" if se else "")
                       + (". The init-only and order-only intervals overlap: these seeds do not separate the two "
                          "sources." if _overlap(row["init"]["std_ci"], row["order"]["std_ci"]) else "."))
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
