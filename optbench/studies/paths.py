"""Straight paths between two weight vectors and their barriers (Frankle et al. 2020), on the training
and the held-out data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    """Loss and metric along ``(1 - alpha) A + alpha B``, on the training and the held-out data.

    Attributes:
        alphas: the interpolation weights, from 0 to 1.
        loss: training loss at each alpha.
        metric: held-out metric at each alpha (``None`` entries where the problem has none).
        loss_barrier: :func:`barrier` of ``loss``.
        metric_barrier: :func:`barrier` of the metric turned into a cost (``-metric`` when higher is
            better, so for accuracy it is the error barrier); ``None`` without a metric.
        test_loss: held-out loss at each alpha (``None`` where the problem exposes no per-example loss).
        train_metric: the metric on the training data at each alpha (``None`` likewise).
        test_loss_barrier: :func:`barrier` of ``test_loss``.
        train_metric_barrier: :func:`barrier` of ``train_metric`` as a cost (the train error barrier).
    """

    alphas: list[float]
    loss: list[float]
    metric: list[float | None]
    loss_barrier: float
    metric_barrier: float | None
    test_loss: list[float] | None = None
    train_metric: list[float] | None = None
    test_loss_barrier: float | None = None
    train_metric_barrier: float | None = None

    def barriers(self) -> dict[str, float | None]:
        """The four barriers by name: ``train_loss``, ``test_loss``, ``train_error``, ``test_error`` (the
        metric's barrier as a cost: the error for an accuracy)."""
        return {"train_loss": self.loss_barrier, "test_loss": self.test_loss_barrier,
                "train_error": self.train_metric_barrier, "test_error": self.metric_barrier}


BARRIERS = ("train_loss", "test_loss", "train_error", "test_error")
STABLE_ERROR = 0.02  # Frankle et al. 2020 call two copies stable to SGD noise when the error barrier is below 2 %


def stability_verdict(ci: Sequence[float] | None, threshold: float = STABLE_ERROR) -> bool | str:
    """True when the 95 % CI of an error barrier lies below ``threshold`` (stable to SGD noise), False when
    it lies above, "cannot tell" when it straddles it or there is no interval."""
    if not ci:
        return "cannot tell"
    return True if ci[1] <= threshold else False if ci[0] > threshold else "cannot tell"


def _split_values(problem: Any, population: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
                  ) -> tuple[list[float], list[float]]:
    """Mean loss and metric of each row of ``population`` ``(k, d)`` on ``(inputs, targets)``, through the
    network problem's own per-example loss and metric (``_per_example_loss``, ``_test``)."""
    import torch

    losses, metrics = [], []
    for x in population:  # one forward pass per point: identical weights give identical values, bit for bit
        outputs = torch.func.functional_call(problem.module, problem.unflatten(x), (inputs,))
        losses.append(float(problem._per_example_loss(outputs, targets).mean()))
        metrics.append(float(problem._test(outputs, targets)))
    return losses, metrics


def linear_path(problem: Any, xa: torch.Tensor, xb: torch.Tensor, *, points: int) -> Path:
    """Evaluate ``points`` evenly spaced points from ``xa`` to ``xb`` (both ``(d,)``).

    The points are ``xa + alpha (xb - xa)`` (``torch.lerp``, exact at both ends). A network problem
    (one with ``_per_example_loss`` and ``_test``, as every built-in one) gets the loss and the metric
    on both its training and its held-out data, one forward pass per point and split; any other
    problem gets its training loss (``evaluate``) and held-out metric (``test_metric``) only.
    """
    import torch

    alphas = torch.linspace(0, 1, points, dtype=torch.float64)
    xa = xa.to(device=problem.device, dtype=problem.dtype)
    xb = xb.to(device=problem.device, dtype=problem.dtype)
    weights = alphas.to(device=problem.device, dtype=problem.dtype)[:, None]
    population = torch.lerp(xa.expand(points, -1), xb.expand(points, -1), weights)
    population[0], population[-1] = xa, xb  # lerp is exact at 0; make alpha = 1 exact too
    a = alphas.tolist()
    sign = -1.0 if getattr(problem, "test_metric_higher_is_better", False) else 1.0
    splits = all(hasattr(problem, name) for name in ("_per_example_loss", "_test", "module", "inputs", "targets",
                                                    "test_inputs", "test_targets"))
    with torch.no_grad():
        if splits:
            loss, train_metric = _split_values(problem, population, problem.inputs, problem.targets)
            test_loss, test_metric = _split_values(problem, population, problem.test_inputs, problem.test_targets)
            return Path(alphas=a, loss=loss, metric=list(test_metric), loss_barrier=barrier(a, loss),
                        metric_barrier=barrier(a, [sign * m for m in test_metric]), test_loss=test_loss,
                        train_metric=train_metric, test_loss_barrier=barrier(a, test_loss),
                        train_metric_barrier=barrier(a, [sign * m for m in train_metric]))
        loss = [float(v) for v in problem.evaluate(population)]
        metric = [problem.test_metric(x) for x in population]
    metric_barrier = None
    if all(m is not None for m in metric):
        metric_barrier = barrier(a, [sign * m for m in metric])  # type: ignore[operator]
    return Path(alphas=a, loss=loss, metric=metric, loss_barrier=barrier(a, loss), metric_barrier=metric_barrier)
