"""The connectivity study's analysis: paths between the stored networks, aligned and not (the payload's
``data``), and the tables and findings computed from that ``data`` alone."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from optbench.api import TrialResult
from optbench.studies.base import Table, decode_tensor, task_data

MAX_PAIRS = 15  # pairs of independent solutions per width (all pairs of the first seeds; 6 networks)
STABLE_ERROR = 0.02  # Frankle et al. 2020 call a network stable when the error barrier is below 2 %


def mean_ci(values: Sequence[float]) -> tuple[float | None, list[float] | None]:
    """Mean and Student's t 95 % interval over independent values (None with fewer than 2)."""
    from optbench.studies.intervals import mean_ci as t_interval

    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    return sum(finite) / len(finite), t_interval(finite)


def network_ci(pairs: Sequence[dict[str, Any]], key: str) -> tuple[float | None, list[float] | None]:
    """Mean of ``key`` over pairs of networks, with a 95 % interval over the networks (pairs share them)."""
    from optbench.studies.intervals import pairs_mean_ci

    return pairs_mean_ci([(q["seeds"][0], q["seeds"][1], q[key]) for q in pairs if q[key] is not None])


def mean_curve(curves: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Pointwise mean of equally long curves (None where a value is missing)."""
    out: list[float | None] = []
    for column in zip(*curves, strict=True):
        vals = [v for v in column if v is not None]
        out.append(sum(vals) / len(vals) if len(vals) == len(column) else None)
    return out


def analyze(done: Sequence[TrialResult], *, points: int) -> dict[str, Any]:
    """The payload's ``data`` from the completed tasks: for each width, the straight paths (``points``
    values of alpha) between pairs of independent solutions before and after weight matching, with
    the check that the permuted network computes the same function; for each spawn step, the path
    between the two copies."""
    import torch

    from optbench.studies.connectivity.permutation import check_same_function, permute, weight_matching
    from optbench.studies.paths import linear_path
    from optbench.studies.training import network_problem

    by_width: dict[int, dict[int, Any]] = defaultdict(dict)
    spawned: dict[int, dict[int, Any]] = defaultdict(dict)
    for r in done:
        p = dict(r.spec.task_params)
        if p["kind"] == "independent":
            by_width[int(p["width"])][r.spec.seed] = r
        else:
            spawned[int(p["spawn_step"])][r.spec.seed] = r
    widths, metric_name, higher = [], None, True
    for width in sorted(by_width):
        runs = by_width[width]
        problem = network_problem(next(iter(runs.values())).spec)
        metric_name = getattr(problem, "test_metric_name", "test metric")
        higher = bool(getattr(problem, "test_metric_higher_is_better", False))
        x = {seed: decode_tensor(task_data(r)["x"]) for seed, r in runs.items()}
        pairs = []
        for a, b in list(itertools.combinations(sorted(x), 2))[:MAX_PAIRS]:
            naive = linear_path(problem, x[a], x[b], points=points)
            layer_order = torch.Generator().manual_seed(a * 7919 + b)
            perms, sweeps = weight_matching(problem, x[a], x[b], generator=layer_order)
            xb = permute(problem, x[b], perms)
            check = check_same_function(problem, x[b].to(problem.device), xb)
            aligned = linear_path(problem, x[a], xb, points=points)
            pairs.append({"seeds": [a, b], "sweeps": sweeps, "naive_loss": naive.loss, "naive_metric": naive.metric,
                          "aligned_loss": aligned.loss, "aligned_metric": aligned.metric,
                          "naive_barrier": naive.loss_barrier, "aligned_barrier": aligned.loss_barrier,
                          "naive_metric_barrier": naive.metric_barrier,
                          "aligned_metric_barrier": aligned.metric_barrier,
                          "max_abs_diff": check.max_abs_diff, "max_rel_diff": check.max_rel_diff,
                          "tolerance_rel": check.tolerance_rel, "bound_ratio": check.bound_ratio,
                          "same_function": check.same_function})
        widths.append({"width": width, "pairs": pairs, "endpoint_metric": mean_ci([r.test_metric for r in
                                                                                   runs.values()])[0],
                       **{f"{key}_{stat}": val for key in ("naive_barrier", "aligned_barrier",
                                                            "naive_metric_barrier", "aligned_metric_barrier")
                          for stat, val in zip(("mean", "ci"), network_ci(pairs, key), strict=True)},
                       "networks": len(x)})
    spawn = []
    for k in sorted(spawned):
        runs = spawned[k]
        problem = network_problem(next(iter(runs.values())).spec)
        paths = []
        for seed, r in sorted(runs.items()):
            xa, xb = (decode_tensor(c) for c in task_data(r)["children"])
            path = linear_path(problem, xa, xb, points=points)
            paths.append({"seed": seed, "loss": path.loss, "metric": path.metric, "loss_barrier": path.loss_barrier,
                          "metric_barrier": path.metric_barrier, "child_metric": r.test_metric})
        per_epoch = task_data(next(iter(runs.values())))["steps_per_epoch"]
        entry = {"k": k, "epoch": k / per_epoch, "total_steps": task_data(next(iter(runs.values())))["total_steps"],
                 "paths": paths, "child_metric": mean_ci([q["child_metric"] for q in paths])[0]}
        for key in ("loss_barrier", "metric_barrier"):
            entry[f"{key}_mean"], entry[f"{key}_ci"] = mean_ci([q[key] for q in paths])
        spawn.append(entry)
    is_accuracy = metric_name == "test_accuracy"
    meta = {"metric": metric_name, "higher_is_better": higher, "error_barrier": is_accuracy,
            "stable_threshold": STABLE_ERROR if is_accuracy else None}
    data = {"alphas": [i / (points - 1) for i in range(points)], **meta, "widths": widths, "spawn": spawn}
    for w in widths:
        w["naive_loss_mean"] = mean_curve([q["naive_loss"] for q in w["pairs"]])
        w["aligned_loss_mean"] = mean_curve([q["aligned_loss"] for q in w["pairs"]])
    for e in spawn:
        e["loss_mean"] = mean_curve([q["loss"] for q in e["paths"]])
    return data


def metric_label(data: dict[str, Any]) -> str:
    """What the metric's barrier is called: the error barrier for an accuracy."""
    return "error barrier" if data["error_barrier"] else f"{data['metric']} barrier"


def tables(data: dict[str, Any]) -> list[Table]:
    """The width table and the spawn table."""
    label = metric_label(data)
    rows = [[w["width"], len(w["pairs"]), w["endpoint_metric"], w["naive_barrier_mean"], w["naive_barrier_ci"],
             w["aligned_barrier_mean"], w["aligned_barrier_ci"], w["naive_metric_barrier_mean"],
             w["aligned_metric_barrier_mean"]] for w in data["widths"]]
    width_table = Table(
        title="Independently trained solutions: barrier along the straight path, before and after weight matching",
        columns=["width", "pairs", f"{data['metric']} (ends)", "loss barrier", "95% CI", "aligned loss barrier",
                 "aligned 95% CI", label, f"aligned {label}"],
        rows=rows,
        notes=["barrier = max over alpha of loss((1-a)A + aB) - ((1-a) loss(A) + a loss(B)) (Frankle et al. 2020); "
               "mean over pairs of seeds; 95% CI over networks (leave-one-network-out jackknife, t with "
               "networks - 1 df; 3+ networks): pairs that share a network are not independent.",
               "aligned: B's hidden units permuted to match A by weight matching (Ainsworth et al. 2023)."])
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
    spawn_rows = []
    for e in data["spawn"]:
        stable = stable_verdict(e, data["stable_threshold"])
        spawn_rows.append([e["k"], e["epoch"], len(e["paths"]), e["loss_barrier_mean"], e["loss_barrier_ci"],
                           e["metric_barrier_mean"], e["metric_barrier_ci"], e["child_metric"], stable])
    spawn_table = Table(
        title="Two copies spawned from one run at step k, trained on different data orders (stability to SGD noise)",
        columns=["k (steps)", "k (epochs)", "seeds", "loss barrier", "95% CI", label, f"{label} 95% CI",
                 f"{data['metric']} (copies)", "stable"],
        rows=spawn_rows,
        notes=[f"both copies train to the same total step count; stable: yes when the 95% CI of the {label} "
               f"(t over the independent parents) lies below {data['stable_threshold']} (Frankle et al. 2020's "
               "threshold), no when it lies above, else cannot tell" if data["stable_threshold"] else
               "both copies train to the same total step count."])
    return [width_table, check_table, spawn_table]


def stable_verdict(entry: dict[str, Any], threshold: float | None) -> bool | str | None:
    """True / False / "cannot tell": is the spawn step's error barrier below ``threshold``, by its 95 % CI?"""
    if threshold is None or entry["metric_barrier_mean"] is None:
        return None
    ci = entry["metric_barrier_ci"]
    if ci is None:
        return "cannot tell"
    return True if ci[1] <= threshold else False if ci[0] > threshold else "cannot tell"


def _pct(before: float, after: float) -> str:
    return f"{100 * (1 - after / before):.0f} %" if before > 0 else "n/a"


def findings(data: dict[str, Any]) -> list[str]:
    """Sentences computed from the numbers."""
    out: list[str] = []
    widths = [w for w in data["widths"] if w["pairs"]]
    if widths:
        ends = [widths[0], widths[-1]] if len(widths) > 1 else widths[:1]
        naive = " and ".join("{:.3g} at width {}".format(w["naive_barrier_mean"], w["width"]) for w in ends)
        after = " and ".join("{:.3g}".format(w["aligned_barrier_mean"]) for w in ends)
        removed = " and ".join(_pct(w["naive_barrier_mean"], w["aligned_barrier_mean"]) for w in ends)
        out.append(f"Without alignment the loss barrier between independent solutions is {naive}; after weight "
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
    spawn = [e for e in data["spawn"] if e["paths"]]
    if spawn:
        first, last = spawn[0], spawn[-1]
        label = metric_label(data)
        text = (f"Copies spawned at step {first['k']} have a loss barrier of {first['loss_barrier_mean']:.3g}"
                + (f" ({label} {first['metric_barrier_mean']:.3g})" if first["metric_barrier_mean"] is not None else "")
                + (f"; spawned at step {last['k']}, {last['loss_barrier_mean']:.3g}" if last is not first else "")
                + (f" ({label} {last['metric_barrier_mean']:.3g})."
                   if last is not first and last["metric_barrier_mean"] is not None else "."))
        out.append(text)
        threshold = data["stable_threshold"]
        if threshold is not None:
            stable = [stable_verdict(e, threshold) is True for e in spawn]
            if all(stable):
                out.append(f"The copies are stable to SGD noise ({label} <= {threshold}) at every k tried, "
                           f"from k = {first['k']} on.")
            elif any(stable):
                since = next(i for i in range(len(spawn)) if all(stable[i:])) if stable[-1] else None
                out.append(f"The copies become stable ({label} <= {threshold}) from k = {spawn[since]['k']} on."
                           if since is not None else f"Stability ({label} <= {threshold}) holds at k = "
                           f"{', '.join(str(e['k']) for e, ok in zip(spawn, stable, strict=True) if ok)} only.")
            else:
                unsure = [e["k"] for e in spawn if stable_verdict(e, threshold) == "cannot tell"]
                out.append(f"The copies are not shown stable ({label} <= {threshold} by its 95% CI) at any k tried"
                           + (f"; at k = {', '.join(map(str, unsure))} these seeds cannot tell." if unsure else "."))
    return out
