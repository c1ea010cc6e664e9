"""A genetic algorithm vectorized in torch: the whole population is one tensor on the problem's device.

Each generation is a handful of tensor operations: tournament selection, crossover suited to
the space (blend crossover for reals, uniform crossover for bits), mutation (Gaussian relative
to the box width for reals, independent bit flips for bits) and elitism; then one batched
evaluation of the offspring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, ConfigError, Optimizer, SpaceKind
from optbench.evaluator import Evaluator
from optbench.optimizers.random_search import sample
from optbench.seeding import torch_generator


def _rate(name: str, value: object) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1):
        raise ConfigError(f"ga: {name} must be a number in [0, 1], got {value!r}")


@dataclass(frozen=True)
class GeneticAlgorithm(Optimizer):
    """Generational GA with tournament selection and elitism.

    Attributes:
        popsize: individuals per generation.
        tournament: contestants per tournament.
        crossover_rate: probability that a pair of parents is recombined.
        mutation_rate: per-coordinate mutation probability (``None``: ``1/d``).
        mutation_scale: Gaussian step as a fraction of the box width (reals only).
        elites: best individuals copied unchanged into the next generation.
    """

    name: ClassVar[str] = "ga"

    popsize: int = 50
    tournament: int = 3
    crossover_rate: float = 0.9
    mutation_rate: float | None = None
    mutation_scale: float = 0.1
    elites: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.popsize, int) or self.popsize < 2:
            raise ConfigError(f"ga: popsize must be an integer >= 2, got {self.popsize!r}")
        if not isinstance(self.tournament, int) or not 1 <= self.tournament <= self.popsize:
            raise ConfigError(f"ga: tournament must be an integer in [1, popsize], got {self.tournament!r}")
        if not isinstance(self.elites, int) or not 0 <= self.elites < self.popsize:
            raise ConfigError(f"ga: elites must be an integer in [0, popsize), got {self.elites!r}")
        _rate("crossover_rate", self.crossover_rate)
        if self.mutation_rate is not None:
            _rate("mutation_rate", self.mutation_rate)
        if not (isinstance(self.mutation_scale, int | float) and math.isfinite(self.mutation_scale)
                and self.mutation_scale > 0):
            raise ConfigError(f"ga: mutation_scale must be a positive number, got {self.mutation_scale!r}")

    def _select(self, fitness: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """Indices of ``n`` tournament winners (lowest value wins), shape ``(n,)``."""
        contestants = torch.randint(0, fitness.shape[0], (n, self.tournament), generator=gen, device=fitness.device)
        winner = fitness[contestants].argmin(dim=1)
        return contestants.gather(1, winner.unsqueeze(1)).squeeze(1)

    def _offspring(self, parents: torch.Tensor, evaluator: Evaluator, gen: torch.Generator) -> torch.Tensor:
        """Crossover and mutation of parents ``(2m, d)`` into ``2m`` children ``(2m, d)``."""
        m, d = parents.shape[0] // 2, parents.shape[1]
        a, b = parents[:m], parents[m:]
        device = parents.device
        cross = torch.rand(m, 1, generator=gen, device=device) < self.crossover_rate
        rate = self.mutation_rate if self.mutation_rate is not None else 1.0 / d
        if evaluator.space.kind is SpaceKind.BITS:
            mask = torch.rand(m, d, generator=gen, device=device) < 0.5
            swap = cross & mask
            children = torch.cat([torch.where(swap, b, a), torch.where(swap, a, b)])
            flips = torch.rand(children.shape, generator=gen, device=device) < rate
            return children ^ flips.to(children.dtype)
        # blend crossover (BLX-0.5 style arithmetic mix with extrapolation)
        alpha = torch.rand(m, d, generator=gen, device=device, dtype=parents.dtype) * 2.0 - 0.5
        alpha = torch.where(cross, alpha, torch.zeros_like(alpha))
        children = torch.cat([a + alpha * (b - a), b + alpha * (a - b)])
        lower, upper = evaluator.bounds()
        mutate = torch.rand(children.shape, generator=gen, device=device) < rate
        noise = torch.randn(children.shape, generator=gen, device=device, dtype=parents.dtype)
        children = children + mutate * noise * (self.mutation_scale * (upper - lower))
        return children.clamp(lower, upper) if evaluator.space.is_bounded else children

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        gen = torch_generator(rng, evaluator.device)
        space, device, dtype = evaluator.space, evaluator.device, evaluator.dtype
        population = sample(space, self.popsize, generator=gen, device=device, dtype=dtype)
        if space.kind is SpaceKind.PARAMS:  # start around the problem's own initialisation
            cpu_gen = torch_generator(rng, "cpu")
            population = torch.stack([evaluator.initial_point(cpu_gen) for _ in range(self.popsize)])
        try:
            fitness = evaluator.evaluate(population)
            n_children = 2 * math.ceil((self.popsize - self.elites) / 2)
            while True:
                fitness = torch.nan_to_num(fitness, nan=math.inf)
                parents = population[self._select(fitness, n_children, gen)]
                children = self._offspring(parents, evaluator, gen)[: self.popsize - self.elites]
                child_fitness = evaluator.evaluate(children)
                elite = torch.topk(fitness, self.elites, largest=False).indices
                population = torch.cat([population[elite], children])
                fitness = torch.cat([fitness[elite], child_fitness])
        except BudgetExhausted:
            pass
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before the GA evaluated its first population")
        return evaluator.best_x
