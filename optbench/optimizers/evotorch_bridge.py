"""``evotorch:<Algorithm>``: EvoTorch's search algorithms on the problem's own device.

``evotorch:CMAES``, ``evotorch:SNES``, ``evotorch:XNES``, ``evotorch:PGPE``, ``evotorch:CEM`` and
``evotorch:GeneticAlgorithm`` with the algorithm's own keywords, e.g. ``evotorch:CMAES(popsize=400)``.
The population is a torch tensor on the problem's device and dtype; each generation is one batched
call of the evaluator on that tensor, so a GPU population never goes to the host. This is the GPU
CMA-ES for large populations that pycma (NumPy, CPU) is not.

Defaults where EvoTorch has none: ``stdev_init`` is a quarter of the box width (as for ``cmaes``),
``popsize`` is CMA-ES's ``4 + floor(3 ln d)`` (even, for PGPE's symmetric sampling; 50 for the GA),
CEM keeps the best half, PGPE uses ClipUp with ``center_learning_rate`` 1% of the box width and
``stdev_learning_rate`` 0.1, the GA uses simulated binary crossover (tournaments of 4, eta 8) and
Gaussian mutation of a 100th of the box width. EvoTorch's distribution-based algorithms do not
handle bounds: a candidate outside the box is evaluated at its projection onto the box (the
algorithm keeps its own sample). The Problem's generator is seeded from the trial's seed.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, ConfigError, Optimizer, Params, SpaceKind, freeze_params
from optbench.evaluator import Evaluator
from optbench.extras import require

ALGORITHMS = ("CMAES", "SNES", "XNES", "PGPE", "CEM", "GeneticAlgorithm")


@contextmanager
def quiet() -> Iterator[None]:
    """EvoTorch logs each Problem's dtype and device at INFO and warns per generation; hush both here."""
    logger = logging.getLogger("evotorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _default_popsize(algorithm: str, dim: int) -> int:
    if algorithm == "GeneticAlgorithm":
        return 50
    size = 4 + math.floor(3 * math.log(dim))
    return size + size % 2  # PGPE samples symmetric pairs


def algorithm_options(algorithm: str, options: dict[str, Any], *, dim: int, width: float) -> dict[str, Any]:
    """EvoTorch keywords for ``algorithm``: ``options`` with optbench's defaults for what EvoTorch requires.

    Args:
        width: the mean width of the box (the sampling range of module parameters).
    """
    out = dict(options)
    if algorithm != "GeneticAlgorithm" and "stdev_init" not in out and "radius_init" not in out:
        out["stdev_init"] = 0.25 * width
    if algorithm in ("PGPE", "CEM", "GeneticAlgorithm"):
        out.setdefault("popsize", _default_popsize(algorithm, dim))
    if algorithm == "PGPE":
        out.setdefault("center_learning_rate", 0.01 * width)
        out.setdefault("stdev_learning_rate", 0.1)
    if algorithm == "CEM":
        out.setdefault("parenthood_ratio", 0.5)
    return out


def make_problem(evotorch: Any, objective: Any, *, dim: int, lower: torch.Tensor, upper: torch.Tensor,
                 device: torch.device, dtype: torch.dtype, seed: int, hard_bounds: bool) -> Any:
    """A vectorized minimization ``evotorch.Problem`` of ``objective`` (``(n, d) -> (n,)``) on ``device``."""
    bounds = (lower, upper)
    return evotorch.Problem("min", objective, solution_length=dim, initial_bounds=bounds,
                            bounds=bounds if hard_bounds else None, device=device, dtype=dtype,
                            eval_dtype=dtype, vectorized=True, seed=seed)


def make_algorithm(evotorch: Any, name: str, problem: Any, options: dict[str, Any], *, width: float) -> Any:
    """The EvoTorch search algorithm ``name`` on ``problem`` (the GA gets its default operators here)."""
    from evotorch import algorithms, operators

    cls = getattr(algorithms, name)
    options = dict(options)
    if name == "GeneticAlgorithm" and "operators" not in options:
        options["operators"] = [
            operators.SimulatedBinaryCrossOver(problem, tournament_size=4, cross_over_rate=1.0, eta=8),
            operators.GaussianMutation(problem, stdev=0.01 * width),
        ]
    return cls(problem, **options)


@dataclass(frozen=True)
class EvoTorchOptimizer(Optimizer):
    """An EvoTorch search algorithm by class name with its keywords."""

    name: ClassVar[str] = "evotorch"
    # as a bridge (entry point group ``optbench.bridges``): the library it runs, an example name, what it takes
    library: ClassVar[str] = "evotorch"
    example: ClassVar[str] = "CMAES"
    summary: ClassVar[str] = (
        "an evotorch.algorithms class (CMAES, SNES, XNES, PGPE, CEM, GeneticAlgorithm) with its "
        "keywords, population on the problem's device (extra: optbench[evotorch])")
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS, SpaceKind.PARAMS})

    algorithm: str = "CMAES"
    options: Params = ()

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"unknown EvoTorch algorithm {self.algorithm!r}; known: {', '.join(ALGORITHMS)}")
        require("evotorch", needed_by=f"evotorch:{self.algorithm}")
        import inspect

        from evotorch import algorithms

        accepted = inspect.signature(getattr(algorithms, self.algorithm).__init__).parameters
        unknown = sorted(k for k, _ in self.options if k not in accepted or k == "problem")
        if unknown:
            valid = ", ".join(k for k in accepted if k not in ("self", "problem") and not k.startswith("_"))
            raise ConfigError(f"evotorch:{self.algorithm} has no keyword {unknown[0]!r}; valid: {valid}")

    @classmethod
    def from_call(cls, target: str, params: dict[str, Any]) -> EvoTorchOptimizer:
        if "seed" in params:
            raise ConfigError(f"evotorch:{target}: the seed comes from --seeds; drop seed=")
        return cls(algorithm=target, options=freeze_params(params))

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        evotorch = require("evotorch", needed_by=f"evotorch:{self.algorithm}")
        seed = int(rng.integers(0, 2**31 - 1))
        lower, upper = evaluator.bounds()
        width = float((upper - lower).mean())

        def objective(X: torch.Tensor) -> torch.Tensor:
            """Values of the population ``X`` of shape ``(n, d)`` on the problem's device; shape ``(n,)``."""
            if evaluator.space.is_bounded:
                X = torch.maximum(torch.minimum(X, upper), lower)
            return evaluator.evaluate(X)

        options = algorithm_options(self.algorithm, {k: v for k, v in self.options}, dim=evaluator.dim, width=width)
        with quiet():
            problem = make_problem(evotorch, objective, dim=evaluator.dim, lower=lower, upper=upper,
                                   device=evaluator.device, dtype=evaluator.dtype, seed=seed,
                                   hard_bounds=self.algorithm == "GeneticAlgorithm" and evaluator.space.is_bounded)
            try:
                searcher = make_algorithm(evotorch, self.algorithm, problem, options, width=width)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"evotorch:{self.algorithm}: {exc}") from None
            try:
                while evaluator.remaining > 0:
                    searcher.step()
            except BudgetExhausted:
                pass
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before EvoTorch evaluated a generation")
        return evaluator.best_x
