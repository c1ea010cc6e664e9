"""Small neural-network training problems, with held-out generalization as the test metric.

The search space is the flattened parameter vector of a torch module. Gradient methods train
it on minibatches; black-box methods evaluate a whole population of weight vectors in one call
(``torch.func.functional_call`` under ``torch.vmap``, no Python loop over the population).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from optbench.api import VALIDATION_FRACTION, Capability, ConfigError, Problem, Space
from optbench.seeding import instance_generator, validation_rows

POPULATION_CHUNK = 256  # individuals per vmap call, bounding activation memory
WIDEST = 8  # bytes per number in the estimates: float64, the widest precision a network trains in


def whole(*values: Any) -> bool:
    """Whether every value is an int (not a bool): only then can a size be estimated."""
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def mlp_parameters(sizes: Sequence[int]) -> int:
    """Weights and biases of :func:`mlp` of ``sizes``."""
    return sum(fan_in * fan_out + fan_out for fan_in, fan_out in itertools.pairwise(sizes))


def training_need(*, parameters: int, activations: int, examples: int, features: int) -> float:
    """Bytes to build a network problem and train it at one point, an upper bound stated from its sizes.

    Args:
        parameters: the network's parameter count ``d``.
        activations: numbers each example's forward pass produces (every layer's outputs, input included).
        examples: training plus test examples; ``features``: inputs per example.

    Counted at :data:`WIDEST` bytes a number: the module as built (float32) and in its precision, the
    float64 draw of a starting point and its concatenation, the point, its gradient and two optimizer
    states (Adam's moments); the data as generated (float64) and converted, with targets; a full-batch
    forward pass whose outputs are kept for the backward pass, three numbers per activation (a layer's
    output, its nonlinearity's, the gradient flowing back). A population evaluated at once adds the
    forward pass per individual, up to :data:`POPULATION_CHUNK` of them.
    """
    params = parameters * (4 + 2 * 8 + 5 * WIDEST)
    data = examples * (features * (8 + 8 + WIDEST) + 2 * 8)
    forward = examples * activations * 3 * WIDEST
    return float(params + data + forward)


def mlp(sizes: list[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """``nn.Linear`` layers of ``sizes`` (``[in, hidden..., out]``) with ``activation`` between them."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class NetworkProblem(Problem):
    """Training a module on ``(inputs, targets)``; ``f`` is the mean training loss.

    Subclasses build ``self.module`` and the data, then call :meth:`_finish`; they define
    ``_per_example_loss(outputs, targets) -> (b,)`` and ``_test(outputs, targets) -> float``.
    """

    def __init__(self, *, instance: int, device: Any, dtype: Any) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype or torch.float32)

    def _finish(self, module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, test_inputs: torch.Tensor,
                test_targets: torch.Tensor) -> None:
        self.module = module.to(device=self.device, dtype=self.dtype)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.shapes = {name: p.shape for name, p in self.module.named_parameters()}
        self.sizes = [p.numel() for p in self.module.parameters()]
        # PyTorch's default init draws weights and biases in ±1/sqrt(fan_in), fan_in = the weight's
        # size per output unit (in_features; in_channels x kernel for a convolution)
        self.fan_ins = {name: math.prod((shape if len(shape) >= 2 else
                                         self.shapes[name.rsplit(".", 1)[0] + ".weight"])[1:])
                        for name, shape in self.shapes.items()}
        dim = sum(self.sizes)
        self.space = Space.params(dim, scale=1.0)
        to = {"device": self.device}
        self.inputs, self.test_inputs = inputs.to(dtype=self.dtype, **to), test_inputs.to(dtype=self.dtype, **to)
        self.targets, self.test_targets = targets.to(**to), test_targets.to(**to)
        if self.targets.is_floating_point():
            self.targets, self.test_targets = self.targets.to(self.dtype), self.test_targets.to(self.dtype)
        self.n_examples = inputs.shape[0]
        self.capabilities = frozenset({Capability.DIFFERENTIABLE, Capability.MINIBATCH, Capability.TEST_METRIC})

    # -- parameters as one vector
    def unflatten(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameters of one vector ``(d,)`` or a population ``(k, d)`` as a name -> tensor dict."""
        chunks = torch.split(x, self.sizes, dim=-1)
        lead = x.shape[:-1]
        return {name: c.reshape(*lead, *shape) for (name, shape), c in zip(self.shapes.items(), chunks, strict=True)}

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        """PyTorch's default initialisation (uniform in ``±1/sqrt(fan_in)``), drawn from ``generator``."""
        parts = [
            (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) / math.sqrt(self.fan_ins[name])
            for name, shape in self.shapes.items()
        ]
        return torch.cat([p.flatten() for p in parts]).to(device=self.device, dtype=self.dtype)

    def _outputs(self, x: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(self.module, self.unflatten(x), (inputs,))

    # -- objective
    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        def one(params: dict[str, torch.Tensor]) -> torch.Tensor:
            outputs = torch.func.functional_call(self.module, params, (self.inputs,))
            return self._per_example_loss(outputs, self.targets).mean()

        batched = torch.vmap(one)
        return torch.cat([batched(self.unflatten(chunk)) for chunk in torch.split(X, POPULATION_CHUNK)])

    def loss(self, x: torch.Tensor, *, batch: torch.Tensor | None = None) -> torch.Tensor:
        inputs, targets = (self.inputs, self.targets) if batch is None else (self.inputs[batch], self.targets[batch])
        return self._per_example_loss(self._outputs(x, inputs), targets).mean()

    def test_metric(self, x: torch.Tensor) -> float:
        return self._test(self.test_outputs(x), self.test_targets)

    def validation_split(self, fraction: float = VALIDATION_FRACTION) -> None:
        train, held = validation_rows(self.n_examples, fraction, self.family, self.instance)
        train, held = train.to(self.inputs.device), held.to(self.inputs.device)
        self._finish(self.module, self.inputs[train], self.targets[train], self.inputs[held], self.targets[held])

    def test_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """The network's outputs on the held-out inputs for weights ``x`` of shape ``(d,)``:
        shape ``(n_test, k)`` (``k`` classes or outputs). Studies compare functions through these."""
        with torch.no_grad():
            return self._outputs(x.to(device=self.device, dtype=self.dtype), self.test_inputs)

    def _per_example_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _test(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        raise NotImplementedError


LOSSES = ("cross_entropy", "mse")


def check_loss(family: str, loss: Any) -> str:
    if loss not in LOSSES:
        raise ConfigError(f"{family}: loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    return str(loss)


class Classifier(NetworkProblem):
    """Classification training with cross-entropy (default) or the mean squared error between the
    outputs and one-hot labels (``loss="mse"``); held-out accuracy as the test metric."""

    test_metric_name = "test_accuracy"
    test_metric_higher_is_better = True
    target = 1e-3
    loss_name = "cross_entropy"

    def _per_example_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "mse":
            onehot = F.one_hot(targets, outputs.shape[-1]).to(outputs.dtype)
            return ((outputs - onehot) ** 2).sum(dim=-1)
        return F.cross_entropy(outputs, targets, reduction="none")

    def _test(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float((outputs.argmax(dim=-1) == targets).to(torch.float64).mean())


def mlp_activations(sizes: Sequence[int]) -> int:
    """Numbers one example's forward pass through :func:`mlp` of ``sizes`` produces: the input, every
    layer's output and every hidden nonlinearity's."""
    return sizes[0] + 2 * sum(sizes[1:-1]) + sizes[-1]


def mlp_need(sizes: Sequence[int], *, examples: int) -> float:
    """:func:`training_need` of :func:`mlp` of ``sizes`` on ``examples`` examples (train and test)."""
    return training_need(parameters=mlp_parameters(sizes), activations=mlp_activations(sizes), examples=examples,
                         features=sizes[0])


def hidden_units(family: str, hidden: Any) -> int:
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise ConfigError(f"{family}: hidden must be a positive integer, got {hidden!r}")
    return hidden


class DigitsMLP(Classifier):
    """An MLP classifier (64 -> hidden -> 10) on scikit-learn's 8x8 digits (1,797 images, shipped
    with sklearn); instances draw the 70/30 split. The optimum is unknown (``optimal_value=None``)."""

    family = "digits"
    landscape = "training"

    def __init__(self, *, hidden: int = 32, loss: str = "cross_entropy", instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        from optbench.problems.datasets import digits

        self.hidden = hidden_units(self.family, hidden)
        self.loss_name = check_loss(self.family, loss)
        images, labels = digits()
        X = torch.tensor(images, dtype=torch.float64) / 16.0
        y = torch.tensor(labels, dtype=torch.int64)
        order = torch.randperm(X.shape[0], generator=instance_generator(self.family, instance))
        cut = int(0.7 * X.shape[0])
        self._finish(mlp([64, self.hidden, 10]), X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]])

    def params(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "loss": self.loss_name}

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        hidden = params.get("hidden")
        return mlp_need([64, hidden, 10], examples=1797) if whole(hidden) else None


class ModularAddition(Classifier):
    """``(a + b) mod p`` from one-hot ``a`` and ``b`` with a small MLP; half of the ``p^2`` pairs train.

    The setting where delayed generalization ("grokking") is seen: training loss falls long
    before held-out accuracy rises. ``activation="square"`` makes the hidden layer ``z -> z^2``
    (Gromov 2023's network: the product of the two inputs' features is what adds residues) and
    ``init_scale`` multiplies PyTorch's default initialization (Liu et al. 2022, Omnigrok: a large
    initialization memorizes first and generalizes once weight decay has shrunk it). The optimum
    is unknown.
    """

    family = "modadd"
    landscape = "training"
    ACTIVATIONS = ("relu", "square")

    class Square(nn.Module):
        """The elementwise square, a hidden activation without parameters."""

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z * z

        @staticmethod
        def rounding(z: torch.Tensor, err: torch.Tensor, out: torch.Tensor, u: float) -> torch.Tensor:
            """A bound on ``|fl(z^2) - z_exact^2|`` for the computed input ``z`` with ``|z - z_exact| <= err``:
            ``z^2 - (z - e)^2 = 2 z e - e^2``, so ``2 |z| err + err^2``, plus one rounded product (``u |out|``);
            the square is not Lipschitz, so the bound grows with ``|z|``."""
            return 2 * z.abs() * err + err * err + u * out.abs()

    def __init__(self, *, p: int = 23, hidden: int = 64, train_fraction: float = 0.5, loss: str = "cross_entropy",
                 activation: str = "relu", init_scale: float = 1.0, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        self.loss_name = check_loss(self.family, loss)
        if not isinstance(p, int) or p < 2 or not 0 < train_fraction < 1:
            raise ConfigError(f"modadd: need an integer p >= 2 and 0 < train_fraction < 1, got p={p!r}")
        if activation not in self.ACTIVATIONS:
            raise ConfigError(f"modadd: activation must be one of {', '.join(self.ACTIVATIONS)}, got {activation!r}")
        scale_ok = isinstance(init_scale, int | float) and not isinstance(init_scale, bool)
        if not scale_ok or not math.isfinite(init_scale) or init_scale <= 0:
            raise ConfigError(f"modadd: init_scale must be a positive number, got {init_scale!r}")
        self.p, self.hidden, self.train_fraction = p, hidden_units(self.family, hidden), float(train_fraction)
        self.activation, self.init_scale = activation, float(init_scale)
        a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
        a, b = a.flatten(), b.flatten()
        X = torch.cat([F.one_hot(a, p), F.one_hot(b, p)], dim=1).to(torch.float64)
        y = (a + b) % p
        order = torch.randperm(p * p, generator=instance_generator(self.family, instance))
        cut = max(1, int(self.train_fraction * p * p))
        self._finish(mlp([2 * p, self.hidden, p], nn.ReLU if activation == "relu" else self.Square),
                     X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]])

    def initial_point(self, generator: torch.Generator) -> torch.Tensor:
        x = super().initial_point(generator)
        return x if self.init_scale == 1.0 else x * self.init_scale

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"p": self.p, "hidden": self.hidden, "train_fraction": self.train_fraction,
                               "loss": self.loss_name}
        if self.activation != "relu":  # the defaults stay out of the identity (stored results keep their keys)
            out["activation"] = self.activation
        if self.init_scale != 1.0:
            out["init_scale"] = self.init_scale
        return out

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        p, hidden = params.get("p"), params.get("hidden")
        if not whole(p, hidden):
            return None
        # the p^2 pairs built as int64 index grids and one-hot rows too
        return mlp_need([2 * p, hidden, p], examples=p * p) + 8.0 * p * p * (4 + 2 * p)


class ParityMLP(Classifier):
    """Noisy sparse parity learned by an MLP with gradients: ``n`` bits, a hidden ``k``-subset,
    labels flipped with probability ``noise``. Gradients carry almost no signal until the network
    finds the subset; held-out accuracy shows whether it did."""

    family = "parity_mlp"
    landscape = "crypto"

    def __init__(self, *, n: int = 20, k: int = 3, examples: int = 1024, noise: float = 0.05, hidden: int = 32,
                 loss: str = "cross_entropy", instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        self.loss_name = check_loss(self.family, loss)
        if not (isinstance(n, int) and isinstance(k, int) and 1 <= k <= n and 0 <= noise < 0.5):
            raise ConfigError(f"parity_mlp: need integers 1 <= k <= n and 0 <= noise < 0.5, got n={n}, k={k}")
        self.n, self.k, self.examples, self.noise = n, k, int(examples), float(noise)
        self.hidden = hidden_units(self.family, hidden)
        gen = instance_generator(self.family, instance)
        subset = torch.randperm(n, generator=gen)[:k]

        def sample(m: int) -> tuple[torch.Tensor, torch.Tensor]:
            bits = torch.randint(0, 2, (m, n), generator=gen)
            flips = (torch.rand(m, generator=gen) < self.noise).to(torch.int64)
            return bits.to(torch.float64) * 2 - 1, (bits[:, subset].sum(dim=1) + flips) % 2

        self._finish(mlp([n, self.hidden, 2], nn.ReLU), *sample(self.examples), *sample(self.examples))

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k, "examples": self.examples, "noise": self.noise, "hidden": self.hidden,
                "loss": self.loss_name}

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        n, examples, hidden = params.get("n"), params.get("examples"), params.get("hidden")
        if not whole(n, examples, hidden):
            return None
        # two samples of `examples` rows, their int64 bits drawn first
        return mlp_need([n, hidden, 2], examples=2 * examples) + 8.0 * examples * n


class TeacherStudent(NetworkProblem):
    """Regression onto a seeded teacher MLP by a student of the same shape: ``f`` is the mean squared
    error, 0 at the teacher's weights (known optimum, up to the network's symmetries)."""

    family = "teacher"
    landscape = "training"
    test_metric_name = "test_mse"
    target = 1e-6

    def __init__(self, *, d: int = 8, hidden: int = 8, examples: int = 512, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not (isinstance(d, int) and d >= 1 and isinstance(examples, int) and examples >= 2):
            raise ConfigError(f"teacher: need integers d >= 1 and examples >= 2, got d={d!r}, examples={examples!r}")
        self.d, self.hidden, self.examples = d, hidden_units(self.family, hidden), examples
        gen = instance_generator(self.family, instance)
        module = mlp([d, self.hidden, 1])
        inputs, test_inputs = (torch.randn(examples, d, generator=gen, dtype=torch.float64) for _ in range(2))
        self._finish(module, inputs, torch.zeros(examples), test_inputs, torch.zeros(examples))
        self.teacher = self.initial_point(gen) * 2.0  # larger than a fresh init, so learning is needed
        with torch.no_grad():
            self.targets = self._outputs(self.teacher, self.inputs).squeeze(-1)
            self.test_targets = self._outputs(self.teacher, self.test_inputs).squeeze(-1)
        self.optimal_value = 0.0

    def params(self) -> dict[str, Any]:
        return {"d": self.d, "hidden": self.hidden, "examples": self.examples}

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        d, hidden, examples = params.get("d"), params.get("hidden"), params.get("examples")
        if not whole(d, hidden, examples):
            return None
        # the teacher's weights and its forward passes over both sets come on top of the student's
        return 2 * mlp_need([d, hidden, 1], examples=2 * examples)

    @property
    def optimum(self) -> torch.Tensor:
        return self.teacher

    def _per_example_loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (outputs.squeeze(-1) - targets) ** 2

    def _test(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float(((outputs.squeeze(-1) - targets) ** 2).to(torch.float64).mean())
