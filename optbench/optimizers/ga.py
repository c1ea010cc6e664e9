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

from optbench.api import BudgetExhausted, ConfigError, Optimizer, Space, SpaceKind
from optbench.evaluator import Evaluator
from optbench.optimizers.random_search import sample
from optbench.seeding import torch_generator

_SPARSE_BELOW = 0.05  # mutation rates below this draw only the sites that mutate


def _rate(name: str, value: object) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1):
        raise ConfigError(f"ga: {name} must be a number in [0, 1], got {value!r}")


def _bernoulli_sites(n: int, rate: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Flat indices where an i.i.d. Bernoulli(``rate``) mask over ``n`` entries is set, in ``O(n rate)``.

    Gaps between successive sites are geometric, so ``n rate`` plus a wide margin of draws
    covers all ``n`` entries except with negligible probability (the margin is 8 standard
    deviations and 32). Entries past the end come back as ``n`` rather than being dropped, so
    no host sync is needed; callers mask them. At high rates a dense draw is cheaper.
    """
    if rate <= 0:
        return torch.empty(0, dtype=torch.long, device=device)
    if rate >= _SPARSE_BELOW:
        mask = torch.rand(n, generator=gen, device=device) < rate
        return torch.where(mask, torch.arange(n, device=device), n)
    expected = n * rate
    draws = int(expected + 8 * math.sqrt(expected) + 32)
    u = torch.rand(draws, generator=gen, device=device, dtype=torch.float64)
    gaps = torch.floor(torch.log1p(-u) / math.log1p(-rate)) + 1  # Geometric(rate) on 1, 2, ...
    return (gaps.cumsum_(0) - 1).clamp_(max=n).to(torch.long)


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

    def _offspring(self, a: torch.Tensor, b: torch.Tensor, space: Space,
                   bounds: tuple[torch.Tensor, torch.Tensor] | None, gen: torch.Generator, out: torch.Tensor) -> None:
        """Crossover and mutation of parent pairs ``a[i], b[i]`` (each ``(m, d)``) into ``out`` ``(2m, d)``.

        A generation is a fixed, small number of tensor operations with no host sync, most of them
        in place: on the CPU each costs a few microseconds of dispatch whatever its size.

        Args:
            a, b: the mates, gathered rows of the population.
            space: the search space (bit strings or reals).
            bounds: ``(lower, upper)`` of shape ``(d,)`` for reals, computed once per run.
            gen: the run's generator, on the parents' device.
            out: where the children go, a contiguous slice of the next population (no copy).
        """
        m, d = a.shape
        device = a.device
        cross = torch.rand(m, 1, generator=gen, device=device) < self.crossover_rate
        rate = self.mutation_rate if self.mutation_rate is not None else 1.0 / d
        flat = out.view(-1)
        if space.kind is SpaceKind.BITS:
            mask = torch.rand(m, d, generator=gen, device=device) < 0.5
            swap = cross & mask
            torch.where(swap, b, a, out=out[:m])
            torch.where(swap, a, b, out=out[m:])
            flips = torch.zeros(flat.numel() + 1, dtype=out.dtype, device=device)
            flips[_bernoulli_sites(flat.numel(), rate, gen, device)] = 1
            out.bitwise_xor_(flips[:-1].view_as(out))
            return
        assert bounds is not None
        lower, upper = bounds
        # blend crossover (BLX-0.5 style arithmetic mix with extrapolation): alpha ~ U(-0.5, 1.5)
        alpha = torch.empty(m, d, device=device, dtype=a.dtype).uniform_(-0.5, 1.5, generator=gen)
        step = alpha.mul_(cross).mul_(b - a)
        torch.add(a, step, out=out[:m])
        torch.sub(b, step, out=out[m:])
        # Gaussian mutation of each coordinate with probability `rate`, drawn only where it happens
        sites = _bernoulli_sites(flat.numel(), rate, gen, device)
        valid = sites < flat.numel()
        sites = sites.clamp_(max=flat.numel() - 1)
        noise = torch.randn(sites.shape, generator=gen, device=device, dtype=a.dtype)
        noise.mul_(valid).mul_((self.mutation_scale * (upper - lower))[sites % d])
        flat.index_add_(0, sites, noise)
        if space.is_bounded:
            out.clamp_(lower, upper)

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        gen = torch_generator(rng, evaluator.device)
        space, device, dtype = evaluator.space, evaluator.device, evaluator.dtype
        bounds = evaluator.bounds() if space.kind is not SpaceKind.BITS else None
        population = sample(space, self.popsize, generator=gen, device=device, dtype=dtype, bounds=bounds)
        if space.kind is SpaceKind.PARAMS:  # start around the problem's own initialisation
            cpu_gen = torch_generator(rng, "cpu")
            population = torch.stack([evaluator.initial_point(cpu_gen) for _ in range(self.popsize)])
        e, m = self.elites, math.ceil((self.popsize - self.elites) / 2)
        try:
            fitness = evaluator.evaluate(population)
            while True:
                fitness = torch.nan_to_num(fitness, nan=math.inf)
                mates = self._select(fitness, 2 * m, gen)
                # the next population is one buffer: elites on top, children written below them
                following = torch.empty((e + 2 * m, population.shape[1]), dtype=population.dtype, device=device)
                elite = torch.topk(fitness, e, largest=False).indices
                torch.index_select(population, 0, elite, out=following[:e])
                self._offspring(population.index_select(0, mates[:m]), population.index_select(0, mates[m:]),
                                space, bounds, gen, following[e:])
                population = following[: self.popsize]
                child_fitness = evaluator.evaluate(population[e:])
                fitness = torch.cat([fitness[elite], child_fitness])
        except BudgetExhausted:
            pass
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before the GA evaluated its first population")
        return evaluator.best_x
