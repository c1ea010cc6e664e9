"""Straight paths between two weight vectors and their loss barrier (Frankle et al. 2020)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


def barrier(alphas: Sequence[float], values: Sequence[float]) -> float:
    """The largest excess of ``values`` along a path over the straight line between its end values.

    ``max_i values[i] - ((1 - alphas[i]) values[0] + alphas[i] values[-1])`` with ``alphas`` running
    from 0 to 1 (Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis").
    It is >= 0, since the ends contribute 0. Lower is better for ``values`` (a loss or an error).
    The chord is computed as ``v0 + a (v1 - v0)``, exact when both ends are equal, so a path along
    which every value equals the ends has barrier exactly 0.
    """
    if len(alphas) != len(values) or len(alphas) < 2:
        raise ValueError(f"need matching alphas and values, at least 2, got {len(alphas)} and {len(values)}")
    if alphas[0] != 0 or alphas[-1] != 1:
        raise ValueError(f"alphas must run from 0 to 1, got {alphas[0]} .. {alphas[-1]}")
    first, last = values[0], values[-1]
    return max(v - (first + a * (last - first)) for a, v in zip(alphas, values, strict=True))


@dataclass(frozen=True)
class Path:
    """Loss and test metric along ``(1 - alpha) A + alpha B``.

    Attributes:
        alphas: the interpolation weights, from 0 to 1.
        loss: training loss at each alpha.
        metric: held-out metric at each alpha (``None`` entries where the problem has none).
        loss_barrier: :func:`barrier` of ``loss``.
        metric_barrier: :func:`barrier` of the metric turned into a cost (``-metric`` when higher is
            better, so for accuracy it is the error barrier); ``None`` without a metric.
    """

    alphas: list[float]
    loss: list[float]
    metric: list[float | None]
    loss_barrier: float
    metric_barrier: float | None


def linear_path(problem: Any, xa: torch.Tensor, xb: torch.Tensor, *, points: int) -> Path:
    """Evaluate ``points`` evenly spaced points from ``xa`` to ``xb`` (both ``(d,)``).

    The training losses of the whole path come from one batched ``problem.evaluate`` call on the
    ``(points, d)`` population ``xa + alpha (xb - xa)`` (exact at both ends: ``torch.lerp``); the
    test metric is computed per point.
    """
    alphas = torch.linspace(0, 1, points, dtype=torch.float64)
    xa = xa.to(device=problem.device, dtype=problem.dtype)
    xb = xb.to(device=problem.device, dtype=problem.dtype)
    weights = alphas.to(device=problem.device, dtype=problem.dtype)[:, None]
    population = torch.lerp(xa.expand(points, -1), xb.expand(points, -1), weights)
    population[0], population[-1] = xa, xb  # lerp is exact at 0; make alpha = 1 exact too
    with torch.no_grad():
        loss = [float(v) for v in problem.evaluate(population)]
        metric = [problem.test_metric(x) for x in population]
    a = alphas.tolist()
    metric_barrier = None
    if all(m is not None for m in metric):
        sign = -1.0 if getattr(problem, "test_metric_higher_is_better", False) else 1.0
        metric_barrier = barrier(a, [sign * m for m in metric])  # type: ignore[operator]
    return Path(alphas=a, loss=loss, metric=metric, loss_barrier=barrier(a, loss), metric_barrier=metric_barrier)
