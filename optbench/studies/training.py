"""The training core the studies share: seeded initialisation, seeded data order, optional masks,
weight snapshots and per-epoch curves, with every gradient counted by the evaluator.

The model is the flattened parameter vector of a problem's torch module (``NetworkProblem``), so
the same code trains the built-in networks and any plugin problem that exposes a module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optbench.api import Budget, ConfigError, TrialSpec
from optbench.evaluator import Evaluator, Stopwatch
from optbench.registry import make_optimizer, make_problem

OrderFn = Callable[[int, torch.Generator], torch.Tensor]  # (n, generator) -> a permutation of range(n)


def stream(seed: int, name: str) -> torch.Generator:
    """An independent CPU generator for one purpose (``"init"``, ``"order"``, ``"mask"``) of one seed."""
    words = [int(seed), *name.encode()]
    state = np.random.SeedSequence(words).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> 1))


def seeded_order(n: int, generator: torch.Generator) -> torch.Tensor:
    """The data order of one epoch: a permutation drawn from the run's order generator."""
    return torch.randperm(n, generator=generator)


def network_problem(spec: TrialSpec) -> Any:
    """The spec's problem, which must expose a torch module (``unflatten``, ``module``, test data)."""
    problem = make_problem(spec.problem, dict(spec.problem_params), instance=spec.instance, device=spec.device)
    return require_network(problem, spec.problem)


def require_network(problem: Any, name: str) -> Any:
    """``problem`` itself when it exposes a torch model; a ConfigError saying what is missing otherwise."""
    needed = ("module", "unflatten", "test_outputs", "n_examples")
    missing = [a for a in needed if getattr(problem, a, None) is None]
    if missing:
        raise ConfigError(f"problem {name} exposes no torch model ({', '.join(missing)} missing); "
                          "studies of training need a NetworkProblem such as mnist1d, digits, teacher, modadd "
                          "or parity_mlp")
    return problem


def torch_optimizer(name: str, params: Mapping[str, Any]) -> Any:
    """An optbench gradient optimizer (``sgd``, ``adam``, ``torch:AdamW``...) for its ``make`` and batch size."""
    optimizer = make_optimizer(name, dict(params))
    if not hasattr(optimizer, "make"):
        raise ConfigError(f"optimizer {name} is not a torch.optim optimizer; studies of training need "
                          "sgd, adam or torch:NAME")
    return optimizer


@dataclass
class Run:
    """What one training run produced.

    Attributes:
        x: final weights, shape ``(d,)``.
        snapshots: weights after the given steps (step 0 = the initial weights), each ``(d,)``.
        curve: ``(epoch, train_loss, test_metric)`` after each recorded epoch (epoch 0 = init).
        steps: optimizer steps taken.
        seconds: training wall time (CUDA synchronized), curve evaluations excluded.
    """

    x: torch.Tensor
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)
    curve: list[tuple[int, float, float | None]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    evaluator: Evaluator | None = None


@contextlib.contextmanager
def temporarily(get: Callable[[], Any], put: Callable[[Any], Any], value: Any) -> Iterator[None]:
    """``put(value)`` for the block and ``put(get())`` of before after it (unchanged when ``value`` is None)."""
    if value is None:
        yield
        return
    before = get()
    put(value)
    try:
        yield
    finally:
        put(before)


def deterministic(flag: bool | None) -> contextlib.AbstractContextManager[None]:
    """``torch.use_deterministic_algorithms(flag)`` for the block (unchanged when ``None``)."""
    return temporarily(torch.are_deterministic_algorithms_enabled,
                       lambda on: torch.use_deterministic_algorithms(on, warn_only=True), flag)


def torch_threads(n: int | None) -> contextlib.AbstractContextManager[None]:
    """``torch.set_num_threads(n)`` for the block (unchanged when ``None``)."""
    return temporarily(torch.get_num_threads, torch.set_num_threads, n)


def epoch_metrics(problem: Any, x: torch.Tensor) -> tuple[float, float | None]:
    """Full training loss and held-out metric of weights ``x`` (untimed, uncounted)."""
    with torch.no_grad():
        loss = float(problem.evaluate(x.reshape(1, -1))[0])
        return loss, problem.test_metric(x)


def train(
    problem: Any,
    x0: torch.Tensor,
    *,
    optimizer: Any,
    epochs: int,
    order: torch.Generator,
    mask: torch.Tensor | None = None,
    snapshot_steps: Sequence[int] = (),
    curve_epochs: Sequence[int] | None = None,
    start_step: int = 0,
    order_fn: OrderFn = seeded_order,
) -> Run:
    """Train ``x0`` for ``epochs`` epochs of minibatches with a ``torch.optim`` optimizer.

    Args:
        problem: a network problem (``loss(x, batch=...)``, ``n_examples``).
        x0: initial weights, shape ``(d,)``; not modified.
        optimizer: an optbench torch optimizer (``make([param])`` and ``batch_size``).
        epochs: passes over the training data.
        order: the generator of the data order (one permutation per epoch, drawn by ``order_fn``).
        mask: 0/1 weights of shape ``(d,)``; masked weights start at zero and stay zero (their
            gradient is zeroed before each step and the weights are multiplied by the mask after).
        snapshot_steps: steps after which to keep a copy of the weights (0 = before training).
        curve_epochs: epochs after which to record the training loss and test metric (default:
            every epoch; 0 = before training).
        start_step: the step count ``x0`` was reached at (a rewound or spawned run), for snapshots.
        order_fn: draws one epoch's permutation (a test plants a nondeterministic one here).

    Returns:
        A :class:`Run`.
    """
    n = int(problem.n_examples)
    batch_size = min(int(optimizer.batch_size or n), n)
    stopwatch = Stopwatch(sync=(lambda: torch.cuda.synchronize(problem.device)) if problem.device.type == "cuda"
                          else None)
    evaluator = Evaluator(problem, Budget(evaluations=epochs + 1), stopwatch=stopwatch, checkpoints_per_decade=1)
    param = x0.detach().clone().to(device=problem.device, dtype=problem.dtype)
    if mask is not None:
        mask = mask.to(device=param.device, dtype=param.dtype)
        param.mul_(mask)
    param.requires_grad_(True)
    opt = optimizer.make([param])
    wanted_snapshots = set(snapshot_steps)
    wanted_curve = set(range(epochs + 1)) if curve_epochs is None else set(curve_epochs)
    run = Run(x=param.detach(), evaluator=evaluator)
    step = start_step

    def keep(epoch: int | None) -> None:
        if step in wanted_snapshots and step not in run.snapshots:
            run.snapshots[step] = param.detach().clone()
        if epoch is not None and epoch in wanted_curve:
            run.curve.append((epoch, *epoch_metrics(problem, param.detach())))

    keep(0)
    stopwatch.start()
    for epoch in range(1, epochs + 1):
        perm = order_fn(n, order).to(problem.device)
        for start in range(0, n, batch_size):
            batch = perm[start : start + batch_size]
            _, grad = evaluator.loss_and_grad(param.detach(), batch=batch)
            if mask is not None:
                grad = grad * mask
            param.grad = grad
            opt.step()
            if mask is not None:
                with torch.no_grad():
                    param.mul_(mask)
            step += 1
            if step in wanted_snapshots:
                with stopwatch.paused():
                    keep(None)
        with stopwatch.paused():
            keep(epoch)
    run.seconds = stopwatch.stop()
    run.x, run.steps = param.detach().clone(), step - start_step
    return run


def steps_per_epoch(problem: Any, optimizer: Any) -> int:
    """Optimizer steps in one epoch (the last minibatch may be smaller)."""
    n = int(problem.n_examples)
    batch_size = min(int(optimizer.batch_size or n), n)
    return -(-n // batch_size)


CURVE_POINTS = 100  # at most this many recorded points per training run (plus the start and the end)


def curve_steps(epochs: int, per_epoch: int) -> list[int]:
    """Steps at epoch ends where a run's curve is recorded: every epoch, or every few for long runs."""
    every = max(1, epochs // CURVE_POINTS)
    return sorted({e * per_epoch for e in range(0, epochs + 1, every)} | {epochs * per_epoch})


def measure(problem: Any, snapshots: dict[int, torch.Tensor], mask: torch.Tensor | None) -> dict[str, Any]:
    """Train loss, train accuracy (classifiers), test metric at each snapshot; the largest |pruned weight|.

    Args:
        problem: the network problem.
        snapshots: step -> weights ``(d,)``.
        mask: the training mask ``(d,)`` or None.

    Returns:
        ``{"loss", "train_accuracy", "metric", "pruned_max_abs"}``, one entry per snapshot in step order.
    """
    steps = sorted(snapshots)
    X = torch.stack([snapshots[s] for s in steps])  # (n_snapshots, d)
    with torch.no_grad():
        metric = [problem.test_metric(x) for x in X]
        inputs, targets = getattr(problem, "inputs", None), getattr(problem, "targets", None)
        classifier = inputs is not None and targets is not None and not targets.is_floating_point()
        train_acc: list[float] | None = [] if classifier else None
        if inputs is not None and targets is not None and hasattr(problem, "_per_example_loss"):
            # one forward pass over the training data per snapshot gives both its loss and its accuracy
            loss = []
            for x in X:
                out = torch.func.functional_call(problem.module, problem.unflatten(x), (inputs,))
                loss.append(float(problem._per_example_loss(out, targets).mean()))
                if train_acc is not None:
                    train_acc.append(float((out.argmax(dim=-1) == targets).to(torch.float64).mean()))
        else:  # a plugin network without per-example losses: its batched objective, no train accuracy
            loss, train_acc = [float(v) for v in problem.evaluate(X)], None
    pruned = 0.0
    if mask is not None:
        off = mask.to(X.device) == 0
        pruned = float(X[:, off].abs().max()) if bool(off.any()) else 0.0
    return {"loss": loss, "train_accuracy": train_acc, "metric": metric, "pruned_max_abs": pruned}
