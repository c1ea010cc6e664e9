"""The connectivity study's tables and findings, computed from the payload's ``data`` alone (so a stored run
is redrawn without the networks)."""

from __future__ import annotations

import itertools
from typing import Any

from optbench.studies.base import Table
from optbench.studies.connectivity.grokked import grok_findings, grok_table
from optbench.studies.intervals import ci_text
from optbench.studies.paths import stability_verdict

BARRIER_TEXT = {"train_loss": "train loss", "test_loss": "test loss", "train_error": "train error",
                "test_error": "test error"}


def metric_label(data: dict[str, Any], split: str = "test") -> str:
    """What the metric's barrier is called: the (test) error barrier for an accuracy."""
    return f"{split} error barrier" if data["error_barrier"] else f"{split} {data['metric']} barrier"


def barrier_names(data: dict[str, Any]) -> dict[str, str]:
    """Column names of the four barriers (the metric's as an error for an accuracy)."""
    if data["error_barrier"]:
        return BARRIER_TEXT
    return {**BARRIER_TEXT, "train_error": f"train {data['metric']}", "test_error": f"test {data['metric']}"}


def tables(data: dict[str, Any]) -> list[Table]:
    """The width table, the four barriers, the same-function check, matching per layer, the spawn table."""
    label = metric_label(data)
    rows = [[w["width"], len(w["pairs"]), w["endpoint_metric"], w["naive_barrier_mean"], w["naive_barrier_ci"],
             w["aligned_barrier_mean"], w["aligned_barrier_ci"], w["naive_metric_barrier_mean"],
             w["aligned_metric_barrier_mean"]] for w in data["widths"]]
    width_table = Table(
        title="Independently trained solutions: barrier along the straight path, before and after weight matching",
        columns=["width", "pairs", f"{data['metric']} (ends)", "train loss barrier", "95% CI",
                 "aligned train loss barrier", "aligned 95% CI", label, f"aligned {label}"],
        rows=rows,
        notes=["barrier = max over alpha of loss((1-a)A + aB) - ((1-a) loss(A) + a loss(B)) (Frankle et al. 2020); "
               "mean over pairs of seeds; 95% CI over networks (leave-one-network-out jackknife, t with "
               "networks - 1 df; 3+ networks): pairs that share a network are not independent.",
               "aligned: B's hidden units permuted to match A by weight matching (Ainsworth et al. 2023), every "
               "hidden layer."])
    names = barrier_names(data)
    four = [[f"width {w['width']}, {text}", len(w["pairs"])]
            + [x for n in names for x in (w["barriers"][side][n]["mean"], w["barriers"][side][n]["ci"])]
            for w in data["widths"] if w.get("barriers") for side, text in (("naive", "as trained"),
                                                                            ("aligned", "aligned"))]
    four += [[f"spawned at k = {e['k']}", len(e["paths"])]
             + [x for n in names for x in (e["barriers"][n]["mean"], e["barriers"][n]["ci"])]
             for e in data["spawn"] if e.get("barriers")]
    four_table = Table(
        title="Barriers of the loss and the error on the training and the held-out data",
        columns=["path", "pairs"] + [x for n in names.values() for x in (f"{n} barrier", "95% CI")],
        rows=four,
        notes=["every barrier of the same paths: the training loss and error on the training set, the test loss and "
               "error on the held-out set; independent pairs: 95% CI over networks; spawned pairs: t over the "
               "independent parents."])
    check_rows = [[w["width"], len(w["pairs"]), max(q["sweeps"] for q in w["pairs"]),
                   max(q["max_abs_diff"] for q in w["pairs"]), max(q["max_rel_diff"] for q in w["pairs"]),
                   max(q["tolerance_rel"] for q in w["pairs"]), all(q["same_function"] for q in w["pairs"])]
                  for w in data["widths"] if w["pairs"]]
    check_table = Table(
        title="The permuted network computes the same function (outputs on the held-out inputs)",
        columns=["width", "pairs", "sweeps", "max |output diff|", "max rel. diff", "rounding tolerance (rel.)",
                 "same function"],
        rows=check_rows,
        notes=["same function: every output differs by no more than twice the first-order rounding bound of a "
               "forward pass (gamma_n (|W||h| + |b|) with n = fan-in + 1 per layer); relative to max |output|. "
               "sweeps: passes over the hidden layers until no permutation changed."])
    layer_rows = [[w["width"], k + 1, w["moved"][k] if k < len(w["moved"]) else None, raw, aligned,
                   1 - aligned / raw if raw > 0 else None]
                  for w in data["widths"] if w.get("layers_raw")
                  for k, (raw, aligned) in enumerate(zip(w["layers_raw"], w["layers_aligned"], strict=True))]
    layer_table = Table(
        title="Weight matching layer by layer: units moved and weight distance per linear layer",
        columns=["width", "layer", "units moved", "distance", "aligned distance", "removed"],
        rows=layer_rows,
        notes=["layer k: the k-th linear layer (weight and bias); units moved: share of the hidden units of layer "
               "k that matching sends to another index (none for the output layer, whose units are fixed); "
               "distance: ||a-b|| / mean(||a||, ||b||) of the layer's parameters; mean over the pairs."])
    spawn_rows = []
    for e in data["spawn"]:
        stable = stable_verdict(e, data["stable_threshold"])
        spawn_rows.append([e["k"], e["epoch"], len(e["paths"]), e["loss_barrier_mean"], e["loss_barrier_ci"],
                           e["metric_barrier_mean"], e["metric_barrier_ci"], e["child_metric"], stable])
    spawn_table = Table(
        title="Two copies spawned from one run at step k, trained on different data orders (stability to SGD noise)",
        columns=["k (steps)", "k (epochs)", "seeds", "train loss barrier", "95% CI", label, f"{label} 95% CI",
                 f"{data['metric']} (copies)", "stable"],
        rows=spawn_rows,
        notes=[f"both copies train to the same total step count; stable: yes when the 95% CI of the {label} "
               f"(t over the independent parents) lies below {data['stable_threshold']} (Frankle et al. 2020's "
               "threshold), no when it lies above, else cannot tell" if data["stable_threshold"] else
               "both copies train to the same total step count."])
    grok = [grok_table(data["grokking"])] if data.get("grokking") else []
    return [width_table, four_table, check_table, layer_table, spawn_table, *grok]


def stable_verdict(entry: dict[str, Any], threshold: float | None) -> bool | str | None:
    """True / False / "cannot tell": is the spawn step's error barrier below ``threshold``, by its 95 % CI?"""
    if threshold is None or entry["metric_barrier_mean"] is None:
        return None
    return stability_verdict(entry["metric_barrier_ci"], threshold)


def _pct(before: float, after: float) -> str:
    return f"{100 * (1 - after / before):.0f} %" if before > 0 else "n/a"


def findings(data: dict[str, Any]) -> list[str]:
    """Sentences computed from the numbers."""
    out: list[str] = []
    widths = [w for w in data["widths"] if w["pairs"]]
    if widths:
        out.extend(_width_findings(data, widths))
    spawn = [e for e in data["spawn"] if e["paths"]]
    if spawn:
        out.extend(_spawn_findings(data, spawn))
    if data.get("grokking"):
        out.extend(grok_findings(data["grokking"]))
    return out


def _width_findings(data: dict[str, Any], widths: list[dict[str, Any]]) -> list[str]:
    out = []
    ends = [widths[0], widths[-1]] if len(widths) > 1 else widths[:1]
    naive = " and ".join("{:.3g} at width {}".format(w["naive_barrier_mean"], w["width"]) for w in ends)
    after = " and ".join("{:.3g}".format(w["aligned_barrier_mean"]) for w in ends)
    removed = " and ".join(_pct(w["naive_barrier_mean"], w["aligned_barrier_mean"]) for w in ends)
    out.append(f"Without alignment the train loss barrier between independent solutions is {naive}; after weight "
               f"matching it is {after} (alignment removes {removed} of it).")
    aligned = [w["aligned_barrier_mean"] for w in widths]
    names = ", ".join(str(w["width"]) for w in widths)
    if len(widths) > 1 and all(b < a for a, b in itertools.pairwise(aligned)):
        out.append(f"The aligned barrier shrinks at every step of width ({names}), as Entezari et al. 2022 "
                   "predict.")
    elif len(widths) > 1 and aligned[-1] < aligned[0]:
        out.append(f"The aligned barrier is lower at the largest width than at the smallest ({aligned[-1]:.3g} vs "
                   f"{aligned[0]:.3g}) but does not fall at every step of width ({names}).")
    elif len(widths) > 1:
        out.append(f"The aligned barrier does not shrink with width here ({aligned[0]:.3g} at width "
                   f"{widths[0]['width']}, {aligned[-1]:.3g} at {widths[-1]['width']}).")
    top = widths[-1]
    if top.get("barriers") and top["barriers"]["aligned"]["train_error"]["mean"] is not None:
        b = top["barriers"]
        out.append(f"At width {top['width']}, the error barrier is {b['naive']['train_error']['mean']:.3g} on the "
                   f"training data and {b['naive']['test_error']['mean']:.3g} on the held-out data as trained, "
                   f"{b['aligned']['train_error']['mean']:.3g} and {b['aligned']['test_error']['mean']:.3g} after "
                   f"alignment; the loss barrier {b['aligned']['train_loss']['mean']:.3g} (train) and "
                   f"{b['aligned']['test_loss']['mean']:.3g} (test) after alignment.")
    if top.get("layers_raw") and len(top["layers_raw"]) > 2:
        parts = ", ".join(f"layer {k + 1} {_pct(raw, al)}" for k, (raw, al) in
                          enumerate(zip(top["layers_raw"], top["layers_aligned"], strict=True)))
        moved = ", ".join(f"{100 * m:.0f} %" for m in top["moved"])
        out.append(f"Matching permutes all {len(top['moved'])} hidden layers at width {top['width']} (units moved: "
                   f"{moved}); it removes this share of each linear layer's weight distance: {parts}.")
    pairs = [q for w in widths for q in w["pairs"]]
    bad = [q for q in pairs if not q["same_function"]]
    worst = max(pairs, key=lambda q: q["max_rel_diff"])
    if bad:
        out.append(f"{len(bad)} of {len(pairs)} permuted networks differ from the original by more than "
                   f"rounding allows (largest ratio to the bound {max(q['bound_ratio'] for q in bad):.3g}).")
    else:
        out.append(f"All {len(pairs)} permuted networks compute the same function as before: the largest "
                   f"relative output difference is {worst['max_rel_diff']:.2g} (rounding allows "
                   f"{worst['tolerance_rel']:.2g}).")
    return out


def _spawn_findings(data: dict[str, Any], spawn: list[dict[str, Any]]) -> list[str]:
    out = []
    first, last = spawn[0], spawn[-1]
    label = metric_label(data)
    text = (f"Copies spawned at step {first['k']} have a train loss barrier of {first['loss_barrier_mean']:.3g}"
            + (f" ({label} {first['metric_barrier_mean']:.3g})" if first["metric_barrier_mean"] is not None else "")
            + (f"; spawned at step {last['k']}, {last['loss_barrier_mean']:.3g}" if last is not first else "")
            + (f" ({label} {last['metric_barrier_mean']:.3g})."
               if last is not first and last["metric_barrier_mean"] is not None else "."))
    out.append(text)
    threshold = data["stable_threshold"]
    if threshold is None:
        return out
    verdicts = [stable_verdict(e, threshold) for e in spawn]
    stable = [v is True for v in verdicts]
    total = first.get("total_steps")

    def at(e: dict[str, Any]) -> str:
        share = f", {100 * e['k'] / total:.0f} % of training" if total else ""
        value = f"{e['metric_barrier_mean']:.3g} {ci_text(e['metric_barrier_ci'])}"
        return f"k = {e['k']} ({e['epoch']:.2g} epochs{share}: {value})"

    if all(stable):
        out.append(f"The copies are stable to SGD noise ({label} <= {threshold} by its 95% CI) at every k tried, "
                   f"from {at(first)} on: at this resolution the network is stable from initialization.")
    elif stable[-1]:
        since = next(i for i in range(len(spawn)) if all(stable[i:]))
        before = spawn[since - 1]
        word = {False: "not stable", "cannot tell": "undecided (its CI straddles the threshold)"}[verdicts[since - 1]]
        out.append(f"The network becomes stable to SGD noise ({label} <= {threshold} by its 95% CI) from "
                   f"{at(spawn[since])} on; at {at(before)} it is {word}"
                   + (f"; at {at(first)} it is not stable." if since > 1 and verdicts[0] is False else "."))
    elif any(stable):
        out.append(f"Stability ({label} <= {threshold}) holds at k = "
                   f"{', '.join(str(e['k']) for e, ok in zip(spawn, stable, strict=True) if ok)} only, not from "
                   "some step on.")
    else:
        unsure = [e["k"] for e, v in zip(spawn, verdicts, strict=True) if v == "cannot tell"]
        out.append(f"The copies are never shown stable ({label} <= {threshold} by its 95% CI) at any k tried, up to "
                   f"{at(last)}"
                   + (f"; at k = {', '.join(map(str, unsure))} these seeds cannot tell." if unsure else "."))
    return out
