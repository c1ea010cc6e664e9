"""Permutation symmetry of MLPs: weight matching (Ainsworth et al. 2023, "Git Re-Basin") and the
check that a permuted network computes the same function, to the rounding error analysis allows.

An MLP here is a problem's ``nn.Sequential`` of ``nn.Linear`` layers and elementwise activations.
Permuting the hidden units of layer ``l`` (the rows of ``W_l`` and ``b_l`` and the columns of
``W_{l+1}``) leaves the function unchanged; weight matching picks, for network B, the permutations
that maximize ``sum_l <W_l^A, P_l W_l^B P_{l-1}^T>`` (biases included), one linear assignment per
hidden layer, sweeping over the layers until no permutation changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from optbench.api import ConfigError

# elementwise activations: Lipschitz constant, and rounding of the activation itself in ulps of its output
ACTIVATIONS: dict[type[nn.Module], tuple[float, float]] = {
    nn.ReLU: (1.0, 0.0), nn.Identity: (1.0, 0.0), nn.LeakyReLU: (1.0, 1.0), nn.Tanh: (1.0, 4.0),
    nn.Sigmoid: (0.25, 4.0), nn.GELU: (1.13, 8.0), nn.SiLU: (1.1, 8.0), nn.ELU: (1.0, 4.0), nn.Softplus: (1.0, 4.0),
}


def is_activation(module: nn.Module) -> bool:
    """An elementwise activation whose rounding is bounded: one of :data:`ACTIVATIONS`, or a module with a
    ``rounding(z, err, out, u)`` method that bounds its output's error (a square is not Lipschitz)."""
    return type(module) in ACTIVATIONS or callable(getattr(module, "rounding", None))


def activation_error(module: nn.Module, z: torch.Tensor, err: torch.Tensor, out: torch.Tensor, u: float
                     ) -> torch.Tensor:
    """A bound on the error of ``out = module(z~)`` where the input ``z~`` is within ``err`` of the exact ``z``."""
    if type(module) in ACTIVATIONS:
        lipschitz, ulps = ACTIVATIONS[type(module)]
        return lipschitz * err + ulps * u * out.abs()
    return module.rounding(z, err, out, u)


@dataclass(frozen=True)
class Layer:
    """One ``nn.Linear`` of an MLP: its parameter names and the activation that follows it (or None)."""

    weight: str
    bias: str | None
    activation: nn.Module | None


def mlp_layers(problem: Any) -> list[Layer]:
    """The linear layers of ``problem.module`` in order; ConfigError when it is not a plain MLP."""
    module = problem.module
    if not isinstance(module, nn.Sequential):
        raise ConfigError(f"permutation alignment needs an nn.Sequential MLP; {problem.id} has "
                          f"{type(module).__name__}")
    layers: list[Layer] = []
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            layers.append(Layer(f"{name}.weight", None if child.bias is None else f"{name}.bias", None))
        elif is_activation(child) and layers:
            if layers[-1].activation is not None:
                raise ConfigError(f"permutation alignment: two activations in a row after {layers[-1].weight}")
            layers[-1] = Layer(layers[-1].weight, layers[-1].bias, child)
        else:
            raise ConfigError(f"permutation alignment supports MLPs of nn.Linear layers and elementwise "
                              f"activations; {problem.id} has {type(child).__name__} at position {name}")
    if len(layers) < 2:
        raise ConfigError(f"permutation alignment needs at least one hidden layer; {problem.id} has none")
    return layers


def _flatten(problem: Any, params: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([params[name].reshape(-1) for name in problem.shapes])


def permute(problem: Any, x: torch.Tensor, perms: list[torch.Tensor]) -> torch.Tensor:
    """Weights ``x`` (shape ``(d,)``) with hidden layer ``l``'s units reordered by ``perms[l]``.

    ``perms[l]`` has shape ``(n_l,)``: unit ``i`` of the result is unit ``perms[l][i]`` of ``x``.
    """
    layers = mlp_layers(problem)
    params = {k: v.clone() for k, v in problem.unflatten(x).items()}
    for layer, nxt, perm in zip(layers[:-1], layers[1:], perms, strict=True):
        perm = perm.to(params[layer.weight].device)
        params[layer.weight] = params[layer.weight][perm]
        if layer.bias is not None:
            params[layer.bias] = params[layer.bias][perm]
        params[nxt.weight] = params[nxt.weight][:, perm]
    return _flatten(problem, params)


def weight_matching(problem: Any, xa: torch.Tensor, xb: torch.Tensor, *, max_sweeps: int = 100,
                    generator: torch.Generator | None = None) -> tuple[list[torch.Tensor], int]:
    """Permutations of B's hidden units that best match A's weights (Ainsworth et al. 2023, Alg. 1).

    Args:
        problem: the network problem (``module``, ``unflatten``).
        xa: weights of network A, shape ``(d,)``.
        xb: weights of network B, shape ``(d,)``.
        max_sweeps: upper bound on sweeps over the hidden layers.
        generator: the order in which layers are visited in each sweep (seeded; fixed order if None).

    Returns:
        ``(perms, sweeps)``: one index tensor ``(n_l,)`` per hidden layer (apply with :func:`permute`)
        and the number of sweeps until no permutation changed.
    """
    from scipy.optimize import linear_sum_assignment

    layers = mlp_layers(problem)
    pa = {k: v.detach().to("cpu", torch.float64) for k, v in problem.unflatten(xa).items()}
    pb = {k: v.detach().to("cpu", torch.float64) for k, v in problem.unflatten(xb).items()}
    hidden = len(layers) - 1
    perms = [torch.arange(pa[layers[i].weight].shape[0]) for i in range(hidden)]
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007 - the count is returned
        changed = False
        order = torch.randperm(hidden, generator=generator) if generator is not None else torch.arange(hidden)
        for i in order.tolist():
            layer, nxt = layers[i], layers[i + 1]
            wb = pb[layer.weight] if i == 0 else pb[layer.weight][:, perms[i - 1]]
            similarity = pa[layer.weight] @ wb.T  # (n_i, n_i): A's unit against B's unit, incoming weights
            if layer.bias is not None:
                similarity += torch.outer(pa[layer.bias], pb[layer.bias])
            wb_next = pb[nxt.weight] if i + 1 == hidden else pb[nxt.weight][perms[i + 1]]
            similarity += pa[nxt.weight].T @ wb_next  # outgoing weights
            _, cols = linear_sum_assignment(similarity.numpy(), maximize=True)
            new = torch.as_tensor(cols, dtype=torch.int64)
            if not torch.equal(new, perms[i]):
                changed, perms[i] = True, new
        if not changed:
            break
    return perms, sweeps


def align(problem: Any, xa: torch.Tensor, xb: torch.Tensor, *, generator: torch.Generator | None = None
          ) -> tuple[torch.Tensor, list[torch.Tensor], int]:
    """B's weights with every hidden layer's units matched to A's: ``(xb_aligned (d,), perms, sweeps)``."""
    perms, sweeps = weight_matching(problem, xa, xb, generator=generator)
    return permute(problem, xb.to(xa.device), perms), perms, sweeps


def layer_slices(problem: Any) -> list[tuple[str, list[slice]]]:
    """Each linear layer's name and the slices of its weight and bias in the flat vector, in order."""
    offsets, start = {}, 0
    for name, size in zip(problem.shapes, problem.sizes, strict=True):
        offsets[name] = slice(start, start + size)
        start += size
    return [(layer.weight.rsplit(".", 1)[0], [offsets[layer.weight]] + ([offsets[layer.bias]] if layer.bias else []))
            for layer in mlp_layers(problem)]


def layer_distances(problem: Any, xa: torch.Tensor, xb: torch.Tensor) -> list[float]:
    """Per linear layer (weight and bias together), ``||a - b|| / mean(||a||, ||b||)`` of two weight vectors."""
    from optbench.studies.measures import relative_distance

    out = []
    for _, slices in layer_slices(problem):
        a = torch.cat([xa[s] for s in slices])
        b = torch.cat([xb[s] for s in slices])
        out.append(relative_distance(a, b))
    return out


@dataclass(frozen=True)
class FunctionCheck:
    """How far a permuted network's outputs are from the original's, against what rounding allows.

    Attributes:
        max_abs_diff: ``max |f_perm(x) - f(x)|`` over the test inputs and outputs.
        max_rel_diff: that divided by ``max |f(x)|``.
        tolerance_rel: the largest allowed difference (twice the first-order rounding bound of one
            forward pass, ``gamma_n = n u / (1 - n u)`` per layer of fan-in ``n``), divided by ``max |f(x)|``.
        bound_ratio: ``max |diff| / bound`` elementwise; the function is the same when it is <= 1.
    """

    max_abs_diff: float
    max_rel_diff: float
    tolerance_rel: float
    bound_ratio: float

    @property
    def same_function(self) -> bool:
        return self.bound_ratio <= 1.0


def rounding_bound(problem: Any, x: torch.Tensor, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs of weights ``x`` on ``inputs`` ``(n, d_in)`` and a first-order bound on their rounding error.

    Each linear layer of fan-in ``n`` adds ``gamma_{n+1} (|W| |h| + |b|)`` (Higham, Accuracy and
    Stability, Thm. 3.5, any summation order), earlier errors pass through ``|W|`` and the activation (its
    Lipschitz constant, or a square's local ``2|z| e + e^2``), and the activation adds a few ulps of its output.

    Returns:
        ``(outputs, bound)``, both ``(n, k)``.
    """
    u = torch.finfo(problem.dtype).eps / 2
    params = problem.unflatten(x.to(device=problem.device, dtype=problem.dtype))
    h = inputs.to(device=problem.device, dtype=problem.dtype)
    err = torch.zeros_like(h)
    with torch.no_grad():
        for layer in mlp_layers(problem):
            w = params[layer.weight]
            b = params[layer.bias] if layer.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype,
                                                                              device=w.device)
            n = w.shape[1] + 1
            gamma = n * u / (1 - n * u)
            magnitude = h.abs() @ w.abs().T + b.abs()
            h = h @ w.T + b
            err = err @ w.abs().T + gamma * magnitude
            if layer.activation is not None:
                z, h = h, layer.activation(h)
                err = activation_error(layer.activation, z, err, h, u)
    return h, err


def check_same_function(problem: Any, x: torch.Tensor, x_perm: torch.Tensor) -> FunctionCheck:
    """Compare the outputs of ``x`` and ``x_perm`` (both ``(d,)``) on the problem's held-out inputs."""
    _, bound = rounding_bound(problem, x, problem.test_inputs)
    out, out_perm = problem.test_outputs(x), problem.test_outputs(x_perm)
    diff = (out_perm - out).abs()
    scale = float(out.abs().max()) or 1.0
    allowed = 2 * bound  # both forward passes round
    ratio = float((diff / allowed.clamp_min(torch.finfo(problem.dtype).tiny)).max())
    return FunctionCheck(max_abs_diff=float(diff.max()), max_rel_diff=float(diff.max()) / scale,
                         tolerance_rel=float(allowed.max()) / scale, bound_ratio=ratio)
