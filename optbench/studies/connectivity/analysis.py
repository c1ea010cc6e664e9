"""The connectivity study's analysis: paths between the stored networks, aligned and not, and their barriers
on the training and the held-out data (the payload's ``data``; :mod:`.findings` reads it)."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from optbench.api import TrialResult
from optbench.studies.base import decode_tensor, task_data
from optbench.studies.paths import BARRIERS, STABLE_ERROR

MAX_PAIRS = 15  # pairs of independent solutions per width (all pairs of the first seeds; 6 networks)


def mean_ci(values: Sequence[float]) -> tuple[float | None, list[float] | None]:
    """Mean and Student's t 95 % interval over independent values (None with fewer than 2)."""
    from optbench.studies.intervals import mean_ci as t_interval

    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    return sum(finite) / len(finite), t_interval(finite)


def _interval(mean_and_ci: tuple[float | None, list[float] | None]) -> dict[str, Any]:
    return {"mean": mean_and_ci[0], "ci": mean_and_ci[1]}


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


def compare_pairs(problem: Any, x: dict[int, Any], *, points: int) -> list[dict[str, Any]]:
    """Straight paths between pairs of the networks ``x`` (seed -> weights ``(d,)``; the first
    :data:`MAX_PAIRS` pairs of seeds), before and after weight matching, with the same-function check."""
    import torch

    from optbench.studies.connectivity.permutation import align, check_same_function, layer_distances
    from optbench.studies.paths import linear_path

    pairs = []
    for a, b in list(itertools.combinations(sorted(x), 2))[:MAX_PAIRS]:
        naive = linear_path(problem, x[a], x[b], points=points)
        layer_order = torch.Generator().manual_seed(a * 7919 + b)
        xb, perms, sweeps = align(problem, x[a], x[b], generator=layer_order)
        check = check_same_function(problem, x[b].to(problem.device), xb.to(problem.device))
        aligned = linear_path(problem, x[a], xb, points=points)
        pairs.append({"seeds": [a, b], "sweeps": sweeps, "naive_loss": naive.loss, "naive_metric": naive.metric,
                      "aligned_loss": aligned.loss, "aligned_metric": aligned.metric,
                      "naive_barrier": naive.loss_barrier, "aligned_barrier": aligned.loss_barrier,
                      "naive_metric_barrier": naive.metric_barrier,
                      "aligned_metric_barrier": aligned.metric_barrier,
                      "max_abs_diff": check.max_abs_diff, "max_rel_diff": check.max_rel_diff,
                      "tolerance_rel": check.tolerance_rel, "bound_ratio": check.bound_ratio,
                      "same_function": check.same_function, "naive_barriers": naive.barriers(),
                      "aligned_barriers": aligned.barriers(), "naive_test_loss": naive.test_loss,
                      "aligned_test_loss": aligned.test_loss,
                      "layers_raw": layer_distances(problem, x[a], x[b]),
                      "layers_aligned": layer_distances(problem, x[a], xb),
                      "moved": [float((p != torch.arange(p.numel())).to(torch.float64).mean()) for p in perms]})
    return pairs


def pair_summary(pairs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means of the pairs' barriers with 95 % intervals over networks, the mean paths and the per-layer means."""
    return {**{f"{key}_{stat}": val for key in ("naive_barrier", "aligned_barrier", "naive_metric_barrier",
                                                "aligned_metric_barrier")
               for stat, val in zip(("mean", "ci"), network_ci(pairs, key), strict=True)},
            "barriers": {side: {name: _interval(network_ci(
                [{"seeds": q["seeds"], "v": q[f"{side}_barriers"][name]} for q in pairs], "v"))
                for name in BARRIERS} for side in ("naive", "aligned")},
            **{key: [sum(col) / len(col) for col in zip(*(q[key] for q in pairs), strict=True)]
               for key in ("layers_raw", "layers_aligned", "moved")},
            "naive_loss_mean": mean_curve([q["naive_loss"] for q in pairs]),
            "aligned_loss_mean": mean_curve([q["aligned_loss"] for q in pairs])}


def analyze(done: Sequence[TrialResult], *, points: int) -> dict[str, Any]:
    """The payload's ``data`` from the completed width and spawn tasks: for each width, the straight paths
    (``points`` values of alpha) between pairs of independent solutions before and after weight matching, with
    the check that the permuted network computes the same function; for each spawn step, the path
    between the two copies."""
    from optbench.studies.paths import linear_path
    from optbench.studies.training import network_problem

    by_width: dict[int, dict[int, Any]] = defaultdict(dict)
    spawned: dict[int, dict[int, Any]] = defaultdict(dict)
    for r in done:
        p = dict(r.spec.task_params)
        if p["kind"] == "independent":
            by_width[int(p["width"])][r.spec.seed] = r
        elif p["kind"] == "spawn":
            spawned[int(p["spawn_step"])][r.spec.seed] = r
    widths, metric_name, higher = [], None, True
    for width in sorted(by_width):
        runs = by_width[width]
        problem = network_problem(next(iter(runs.values())).spec)
        metric_name = getattr(problem, "test_metric_name", "test metric")
        higher = bool(getattr(problem, "test_metric_higher_is_better", False))
        x = {seed: decode_tensor(task_data(r)["x"]) for seed, r in runs.items()}
        pairs = compare_pairs(problem, x, points=points)
        widths.append({"width": width, "pairs": pairs, "networks": len(x),
                       "endpoint_metric": mean_ci([r.test_metric for r in runs.values()])[0], **pair_summary(pairs)})
    spawn = []
    for k in sorted(spawned):
        runs = spawned[k]
        problem = network_problem(next(iter(runs.values())).spec)
        paths = []
        for seed, r in sorted(runs.items()):
            xa, xb = (decode_tensor(c) for c in task_data(r)["children"])
            path = linear_path(problem, xa, xb, points=points)
            paths.append({"seed": seed, "loss": path.loss, "metric": path.metric, "loss_barrier": path.loss_barrier,
                          "metric_barrier": path.metric_barrier, "child_metric": r.test_metric,
                          "barriers": path.barriers()})
        per_epoch = task_data(next(iter(runs.values())))["steps_per_epoch"]
        entry = {"k": k, "epoch": k / per_epoch, "total_steps": task_data(next(iter(runs.values())))["total_steps"],
                 "paths": paths, "child_metric": mean_ci([q["child_metric"] for q in paths])[0]}
        for key in ("loss_barrier", "metric_barrier"):
            entry[f"{key}_mean"], entry[f"{key}_ci"] = mean_ci([q[key] for q in paths])
        # the parents are independent (one per seed): a t interval over them
        entry["barriers"] = {name: _interval(mean_ci([q["barriers"][name] for q in paths])) for name in BARRIERS}
        spawn.append(entry)
    is_accuracy = metric_name == "test_accuracy"
    meta = {"metric": metric_name, "higher_is_better": higher, "error_barrier": is_accuracy,
            "stable_threshold": STABLE_ERROR if is_accuracy else None}
    data = {"alphas": [i / (points - 1) for i in range(points)], **meta, "widths": widths, "spawn": spawn}
    for e in spawn:
        e["loss_mean"] = mean_curve([q["loss"] for q in e["paths"]])
    return data
