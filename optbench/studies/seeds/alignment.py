"""How unique is the minimizer modulo the network's symmetries? Weight distance after permutation alignment.

Two trained networks that compute nearly the same function can sit far apart in weight space only
because their hidden units come in another order. For each pair of seeds, B's hidden units are matched
to A's, layer by layer, by the connectivity study's weight matching (Ainsworth et al. 2023), and the
relative weight distance ``||a - b|| / mean(||a||, ||b||)`` is measured before and after. The same is
done for the pair's two initial points (untrained, regenerated from their seeds): alignment also
shrinks the distance between two random vectors, by matching noise, and that is the reference a
trained pair's reduction is read against. Means over pairs carry intervals over *networks* (pairs
that share a network are not independent: :func:`optbench.studies.intervals.pairs_mean_ci`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from optbench.studies.base import decode_tensor

MAX_NETWORKS = 30  # every pair of the first 30 seeds (435 pairs): a matching of the 3 x 128 MLP takes ~10 ms
KEYS = ("raw", "aligned", "removed", "raw_init", "aligned_init", "removed_init")


def _removed(raw: float, aligned: float) -> float | None:
    """The share of the distance that alignment removes, ``1 - aligned / raw`` (None when raw is 0)."""
    return 1.0 - aligned / raw if raw > 0 else None


def pair_distances(problem: Any, seeds: Sequence[int], weights: Sequence[Any], inits: Sequence[Any] | None
                   ) -> list[dict[str, Any]]:
    """Raw and aligned distances of every pair of the first :data:`MAX_NETWORKS` networks.

    Args:
        problem: the network problem (an MLP: ``module``, ``unflatten``, ``shapes``).
        seeds: each network's seed, the labels of the pairs.
        weights: each network's trained weights ``(d,)``.
        inits: each network's initial weights ``(d,)`` (None: not compared).

    Returns:
        One dict per pair: ``seeds``, ``raw``, ``aligned``, ``removed``, the same of the initial points
        (``*_init``; 0 when both started from the same point), per-layer ``layers_raw`` and
        ``layers_aligned``, and the matching's ``sweeps``.
    """
    import torch

    from optbench.studies.connectivity.permutation import align, layer_distances
    from optbench.studies.measures import relative_distance

    n = min(len(weights), MAX_NETWORKS)
    out = []
    for i, j in itertools.combinations(range(n), 2):
        wa, wb = weights[i].to(torch.float64), weights[j].to(torch.float64)
        order = torch.Generator().manual_seed(int(seeds[i]) * 7919 + int(seeds[j]))  # the layers' visiting order
        wb_aligned, _, sweeps = align(problem, wa, wb, generator=order)
        raw, aligned = relative_distance(wa, wb), relative_distance(wa, wb_aligned)
        pair = {"seeds": [int(seeds[i]), int(seeds[j])], "raw": raw, "aligned": aligned,
                "removed": _removed(raw, aligned), "layers_raw": layer_distances(problem, wa, wb),
                "layers_aligned": layer_distances(problem, wa, wb_aligned), "sweeps": sweeps,
                "raw_init": None, "aligned_init": None, "removed_init": None}
        if inits is not None:
            xa, xb = inits[i].to(torch.float64), inits[j].to(torch.float64)
            xb_aligned = align(problem, xa, xb, generator=order)[0] if not torch.equal(xa, xb) else xb
            pair.update(raw_init=relative_distance(xa, xb), aligned_init=relative_distance(xa, xb_aligned))
            pair["removed_init"] = _removed(pair["raw_init"], pair["aligned_init"])
        out.append(pair)
    return out


def summarize(pairs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each distance over the pairs with its 95 % interval over networks; per-layer means."""
    from optbench.studies.intervals import pairs_mean_ci

    summary: dict[str, Any] = {"pairs": len(pairs),
                               "networks": len({s for q in pairs for s in q["seeds"]})}
    for key in KEYS:
        mean, ci = pairs_mean_ci([(q["seeds"][0], q["seeds"][1], q[key]) for q in pairs if q[key] is not None])
        summary[key], summary[f"{key}_ci"] = mean, ci
    layers = len(pairs[0]["layers_raw"]) if pairs else 0
    for key in ("layers_raw", "layers_aligned"):
        summary[key] = [sum(q[key][k] for q in pairs) / len(pairs) for k in range(layers)]
    return summary


def group_alignment(problem: Any, group: Sequence[tuple[int, dict]], *, source: str) -> dict[str, Any] | None:
    """The alignment summary of one group of seeds (None for a problem that is not a plain MLP)."""
    from optbench.api import ConfigError
    from optbench.studies.connectivity.permutation import mlp_layers
    from optbench.studies.training import stream

    try:
        mlp_layers(problem)
    except ConfigError:
        return None
    seeds = [seed for seed, _ in group]
    weights = [decode_tensor(d["weights"]) for _, d in group]
    inits = [problem.initial_point(stream(int(d["init_seed"]), "init")).cpu() for _, d in group] \
        if all("init_seed" in d for _, d in group) else None
    pairs = pair_distances(problem, seeds, weights, inits)
    if not pairs:
        return None
    return {"source": source, **summarize(pairs), "pair_values": [
        {k: q[k] for k in ("seeds", "raw", "aligned", "raw_init", "aligned_init")} for q in pairs]}
