"""One seed's chain of iterative magnitude pruning with its controls (a task of the lottery study)."""

from __future__ import annotations

from typing import Any

import torch

from optbench.api import TrialSpec
from optbench.studies import training
from optbench.studies.lottery.pruning import layer_counts, magnitude_prune, random_mask, sparsity
from optbench.studies.paths import linear_path
from optbench.studies.training import curve_steps, measure


def path_data(path: Any) -> dict[str, Any]:
    """A path's barriers and its test metric along alpha (JSON), from a :class:`~optbench.studies.paths.Path`."""
    return {"barriers": path.barriers(), "metric": path.metric, "loss": path.loss}


def run_chain(spec: TrialSpec) -> tuple[dict[str, Any], float, int]:
    """Dense run, then ``rounds`` rounds of prune / rewind / retrain with the two controls.

    Returns:
        ``(data, seconds, steps)``: the JSON data of the task, training seconds, optimizer steps.
    """
    p = dict(spec.task_params)
    problem = training.network_problem(spec)
    optimizer = training.torch_optimizer(spec.optimizer, dict(spec.optimizer_params))
    epochs, rewind = int(p["epochs"]), int(p["rewind_step"])
    points = int(p.get("points", 0))  # values of alpha on the stability paths (0: not measured)
    per_epoch = training.steps_per_epoch(problem, optimizer)
    steps_at = curve_steps(epochs, per_epoch)
    # a network rewound to step k has had k steps already: it trains the epochs left (Frankle et al. 2020)
    # and its curve is recorded at steps k + ..., so every step count below is a total from initialization
    rewound_epochs = epochs - rewind // per_epoch
    rewound_at = curve_steps(rewound_epochs, per_epoch)
    seconds, steps = 0.0, 0

    def fit(x_start: torch.Tensor, mask: torch.Tensor | None, *, start: int = 0, extra: tuple[int, ...] = (),
            order: str = "order") -> tuple[Any, dict]:
        nonlocal seconds, steps
        n_epochs, at = (rewound_epochs, rewound_at) if start else (epochs, steps_at)
        run = training.train(problem, x_start, optimizer=optimizer, epochs=n_epochs,
                             order=training.stream(spec.seed, order), mask=mask,
                             snapshot_steps=sorted({*at, *extra}), curve_epochs=[])
        seconds, steps = seconds + run.seconds, steps + run.steps
        curve = measure(problem, {s: run.snapshots[s] for s in at}, mask)
        return run, {"steps": [start + s for s in at], **curve}

    def stability(x_start: torch.Tensor, mask: torch.Tensor | None, first: torch.Tensor) -> dict[str, Any]:
        """A second copy of ``x_start`` (at the rewind step) trained on another data order; the path to the first."""
        nonlocal seconds, steps
        run = training.train(problem, x_start, optimizer=optimizer, epochs=rewound_epochs,
                             order=training.stream(spec.seed, "order-copy"), mask=mask, curve_epochs=[])
        seconds, steps = seconds + run.seconds, steps + run.steps
        return path_data(linear_path(problem, first, run.x, points=points))

    x0 = problem.initial_point(training.stream(spec.seed, "init"))
    dense_run, dense = fit(x0, None, extra=(rewind,))
    x_rewind = dense_run.snapshots[rewind]
    # the dense network's stability at the rewind step: its own run on from step k against a copy of step k
    # trained on another data order (Frankle et al. 2020), the reference for the tickets' stability
    dense["stability"] = stability(x_rewind, None, dense_run.x) if points else None
    x_reinit = problem.initial_point(training.stream(spec.seed, "reinit"))
    mask_stream = training.stream(spec.seed, "random-mask")
    mask = torch.ones(x0.numel(), dtype=torch.float32)
    last = dense_run.x
    rounds = []
    for r in range(1, int(p["rounds"]) + 1):
        mask = magnitude_prune(problem, last, mask, rate=float(p["prune_rate"]), scope=str(p["scope"]))
        other = random_mask(problem, mask, mask_stream)
        ticket_run, ticket = fit(x_rewind, mask, start=rewind)
        ticket["stability"] = stability(x_rewind, mask, ticket_run.x) if points else None
        _, reinit = fit(x_reinit, mask)
        _, rand = fit(x_rewind, other, start=rewind)
        last = ticket_run.x
        rounds.append({"round": r, "sparsity": sparsity(problem, mask),
                       "counts": {k: list(v) for k, v in layer_counts(problem, mask).items()},
                       "random_counts": {k: list(v) for k, v in layer_counts(problem, other).items()},
                       "ticket": ticket, "reinit": reinit, "random": rand})
    data = {"steps": steps_at, "steps_per_epoch": per_epoch, "dense": dense, "rounds": rounds,
            "metric_name": getattr(problem, "test_metric_name", "test metric"),
            "higher_is_better": bool(getattr(problem, "test_metric_higher_is_better", False))}
    return data, seconds, steps
