"""Masks over a network problem's flat weight vector: magnitude pruning with ``torch.nn.utils.prune``
(the weights of ``nn.Linear`` layers, never biases), random masks with the same per-layer counts.

A mask is a 0/1 tensor of shape ``(d,)`` aligned with the problem's flat parameter vector (biases and
any non-Linear parameter always 1), the form :func:`optbench.studies.training.train` takes.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from optbench.api import ConfigError

SCOPES = ("global", "layer")


def linear_weights(problem: Any) -> dict[str, slice]:
    """Name -> slice of the flat vector, for the weight of every ``nn.Linear`` of ``problem.module``."""
    offsets, start = {}, 0
    for name, size in zip(problem.shapes, problem.sizes, strict=True):
        offsets[name] = slice(start, start + size)
        start += size
    found = {f"{prefix}.weight" if prefix else "weight": None for prefix, m in problem.module.named_modules()
             if isinstance(m, nn.Linear)}
    weights = {name: offsets[name] for name in found if name in offsets}
    if not weights:
        raise ConfigError(f"pruning needs nn.Linear layers; {problem.id} has none")
    return weights


def dense_mask(problem: Any) -> torch.Tensor:
    """All ones, shape ``(d,)``, on the CPU."""
    return torch.ones(sum(problem.sizes), dtype=torch.float32)


def layer_counts(problem: Any, mask: torch.Tensor) -> dict[str, tuple[int, int]]:
    """Per Linear weight: ``(weights kept, weights in total)``."""
    return {name: (int(mask[s].count_nonzero()), s.stop - s.start) for name, s in linear_weights(problem).items()}


def sparsity(problem: Any, mask: torch.Tensor) -> float:
    """The share of Linear weights the mask removes (biases are not counted)."""
    counts = layer_counts(problem, mask).values()
    return 1.0 - sum(k for k, _ in counts) / sum(n for _, n in counts)


def expected_kept(kept: int, rate: float) -> int:
    """Weights left after pruning ``rate`` of ``kept`` (``torch.nn.utils.prune`` rounds the count to prune)."""
    return kept - round(rate * kept)


def magnitude_prune(problem: Any, x: torch.Tensor, mask: torch.Tensor, *, rate: float, scope: str) -> torch.Tensor:
    """Prune ``rate`` of the weights the mask still keeps, smallest ``|x|`` first.

    Args:
        problem: the network problem (``module``, ``unflatten``).
        x: trained weights, shape ``(d,)``.
        mask: the current mask, shape ``(d,)``; pruned weights stay pruned.
        rate: share of the remaining Linear weights to prune, in (0, 1).
        scope: ``"global"`` (one threshold over all layers: ``prune.global_unstructured``) or
            ``"layer"`` (``rate`` of each layer: ``prune.l1_unstructured``).

    Returns:
        The new mask, shape ``(d,)``, float32 on the CPU.
    """
    if scope not in SCOPES:
        raise ConfigError(f"--scope takes {' or '.join(SCOPES)}, got {scope!r}")
    weights = linear_weights(problem)
    module = copy.deepcopy(problem.module).to("cpu", torch.float64)
    params = problem.unflatten(x.detach().to("cpu", torch.float64))
    mask = mask.detach().to("cpu")
    linears = []
    with torch.no_grad():
        for name, value in params.items():
            owner, _, attr = name.rpartition(".")
            getattr(module.get_submodule(owner), attr).copy_(value)
    for name, s in weights.items():
        layer = module.get_submodule(name.rpartition(".")[0])
        prune.custom_from_mask(layer, "weight", mask=mask[s].reshape(layer.weight.shape).to(torch.float64))
        linears.append((name, layer))
    if scope == "global":
        prune.global_unstructured([(layer, "weight") for _, layer in linears], pruning_method=prune.L1Unstructured,
                                  amount=rate)
    else:
        for _, layer in linears:
            prune.l1_unstructured(layer, "weight", amount=rate)
    new = mask.clone().to(torch.float32)
    for name, layer in linears:
        new[weights[name]] = layer.weight_mask.detach().flatten().to(torch.float32)
    return new


def random_mask(problem: Any, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A mask keeping, in each Linear layer, as many weights as ``like`` does, at uniformly drawn places."""
    new = torch.ones_like(like, dtype=torch.float32)
    for name, s in linear_weights(problem).items():
        kept, total = layer_counts(problem, like)[name]
        layer = torch.zeros(total, dtype=torch.float32)
        layer[torch.randperm(total, generator=generator)[:kept]] = 1.0
        new[s] = layer
    return new
