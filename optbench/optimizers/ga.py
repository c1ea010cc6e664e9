"""A genetic algorithm vectorized in torch: the whole population is one tensor on the problem's device.

Each generation is a handful of tensor operations: tournament selection, crossover suited to
the space (blend crossover for reals, uniform crossover for bits), mutation (Gaussian relative
to the box width for reals, independent bit flips for bits) and elitism; then one batched
evaluation of the offspring. On the CPU the arithmetic after torch's draws (selection, crossover,
mutation, the box) is one C pass (:mod:`optbench.kernels.ga_native`) with the same populations bit
for bit; the torch operations remain where it is not built and under ``OPTBENCH_KERNELS=eager``.

On CUDA a generation is ~20 small kernels, each a launch of 5 to 10 µs, where evaluating a
population of 1,000 takes ~20 µs; so there the making of offspring (everything between the
evaluated population and the next one) is captured once as a CUDA graph and replayed: a graph
launch (and torch's two small updates of the generator's seed and offset) per generation, with the
same random stream and so the same populations bit for bit as in eager mode.
``OPTBENCH_CUDA_GRAPHS=0`` keeps every run eager; ``1`` uses graphs on CUDA whatever the size;
unset, they are used where they pay (:func:`graphs_wanted`). A capture that fails (an operation
that syncs with the host, a torch without graph-safe generators) leaves the run eager.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, ConfigError, Optimizer, Space, SpaceKind
from optbench.evaluator import Evaluator
from optbench.kernels import ga_native
from optbench.optimizers.ga_graphs import GRAPH_MAX_ENTRIES as GRAPH_MAX_ENTRIES  # re-exported: the GA's settings
from optbench.optimizers.ga_graphs import GRAPH_MIN_GENERATIONS as GRAPH_MIN_GENERATIONS
from optbench.optimizers.ga_graphs import GRAPHS_ENV as GRAPHS_ENV
from optbench.optimizers.ga_graphs import GenerationGraph, graphs_wanted, try_capture
from optbench.optimizers.random_search import sample
from optbench.seeding import torch_generator
from optbench.tuning.space import Range, choice, int_loguniform, loguniform, uniform

log = logging.getLogger(__name__)

def _rate(name: str, value: object) -> None:
    if not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1):
        raise ConfigError(f"ga: {name} must be a number in [0, 1], got {value!r}")


def _bernoulli_sites(n: int, rate: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Flat indices where an i.i.d. Bernoulli(``rate``) mask over ``n`` entries is set, in ``O(n rate)``.

    Gaps between successive sites are Geometric(``rate``), so ``n rate`` plus a wide margin of
    draws (8 standard deviations and 32; never more than ``n``, which always suffices) covers
    all ``n`` entries except with negligible probability. Entries past the end come back as
    ``n`` rather than being dropped, so no host sync is needed; callers mask them or give
    index ``n`` a spare slot.
    """
    gaps = _geometric_gaps(n, rate, gen, device)
    if gaps is None:
        return torch.empty(0, dtype=torch.long, device=device)
    return gaps.cumsum_(0).sub_(1).clamp_(max=n)


def _geometric_gaps(n: int, rate: float, gen: torch.Generator, device: torch.device) -> torch.Tensor | None:
    """The Geometric(``rate``) gaps behind :func:`_bernoulli_sites` (``None``, and nothing drawn, at rate 0)."""
    if rate <= 0:
        return None
    expected = n * rate
    draws = min(int(expected + 8 * math.sqrt(expected) + 32), n)
    return torch.empty(draws, dtype=torch.long, device=device).geometric_(rate, generator=gen)  # on 1, 2, ...


def _random_fields(n: int, dtype: torch.dtype, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` independent uniform integers of ``dtype`` (all its values), flat, from 64-bit draws.

    torch's generator costs about the same per number whatever its width, so one 64-bit draw
    split into eight bytes or four 16-bit fields is 8 or 4 times cheaper than drawing each.
    """
    per_draw = 8 // dtype.itemsize
    draws = torch.empty(-(-n // per_draw), dtype=torch.int64, device=device)
    return draws.random_(-(2**63), None, generator=gen).view(dtype)[:n]


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
    # tournament <= popsize holds for every point (popsize >= 10 > 5)
    search_space: ClassVar[dict[str, Range]] = {
        "popsize": int_loguniform(10, 200), "tournament": choice(2, 3, 5), "crossover_rate": uniform(0.5, 1.0),
        "mutation_rate": loguniform(1e-3, 0.3), "mutation_scale": loguniform(0.01, 0.5)}

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

    def _mates(self, order: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        """Indices of ``n`` tournament winners, shape ``(n,)``, given the population sorted by fitness.

        With the population sorted, a tournament is the lowest of ``tournament`` random ranks: a
        pairwise minimum, where gathering the contestants' values and an ``argmin`` cost more.
        """
        ranks = torch.randint(0, order.shape[0], (self.tournament, n), generator=gen, device=order.device)
        best = ranks[0]
        for row in ranks[1:]:
            best = torch.minimum(best, row)
        return order.index_select(0, best)  # one kernel; `order[best]` goes through advanced indexing

    def _offspring(self, parents: torch.Tensor, space: Space, mutation: _Mutation, gen: torch.Generator,
                   out: torch.Tensor) -> None:
        """Crossover and mutation of the pairs ``parents[i], parents[m + i]`` into ``out``.

        A generation is a fixed, small number of tensor operations with no host sync, most of them
        in place: on the CPU each costs a few microseconds of dispatch whatever its size, and
        torch's CPU generator costs about 3 ns per number, so per-coordinate randomness comes
        from raw 64-bit draws split into 8 or 16-bit fields (4 to 8 fields per number drawn).

        Args:
            parents: ``(2m, d)``, the mates gathered from the population.
            space: the search space (bit strings or reals).
            mutation: the run's mutation settings.
            gen: the run's generator, on the parents' device.
            out: ``2m * d + 1`` entries, a contiguous slice of the next population's buffer; the
                children are ``out[:-1].view(2m, d)`` and the last entry absorbs mutation sites
                drawn past the end (so no mask and no host sync is needed).
        """
        m, d = parents.shape[0] // 2, parents.shape[1]
        a, b = parents[:m], parents[m:]
        children = out[:-1].view(2 * m, d)
        # 1.0 for the pairs that are recombined, 0.0 for those copied (one draw per pair)
        real = parents.dtype if parents.is_floating_point() else torch.float32
        crossed = torch.rand(m, 1, generator=gen, device=parents.device, dtype=real).lt_(self.crossover_rate)
        sites = _bernoulli_sites(children.numel(), mutation.rate, gen, parents.device)
        if space.kind is SpaceKind.BITS:  # uniform crossover, then independent bit flips
            swap = (_random_fields(m * d, torch.uint8, gen, parents.device).view(m, d) < 128) & crossed.bool()
            torch.where(swap, b, a, out=children[:m])
            torch.where(swap, a, b, out=children[m:])
            out[sites] = 1 - out[sites]
            return
        # blend crossover (BLX-0.5): each coordinate of the children is a + alpha (b - a) and
        # b - alpha (b - a), alpha ~ U(-0.5, 1.5) per coordinate at 16-bit resolution (steps of
        # 2^-15 of the parents' distance); alpha = 0 (the parents copied) for pairs not crossed
        fields = _random_fields(m * d, torch.int16, gen, parents.device).view(m, d)
        alpha = torch.addcmul(crossed * (0.5 + 2.0**-16), fields, crossed * 2.0**-15)
        torch.lerp(a, b, alpha, out=children[:m])
        torch.lerp(b, a, alpha, out=children[m:])
        # Gaussian mutation of each coordinate with probability `rate`, drawn only where it happens
        noise = torch.empty(sites.shape, device=parents.device, dtype=parents.dtype)
        if mutation.steps is None:
            noise.normal_(0.0, mutation.step, generator=gen)
        else:
            noise.normal_(generator=gen).mul_(mutation.steps[sites % d])
        out.index_add_(0, sites, noise)
        if mutation.bounds is not None:
            children.clamp_(*mutation.bounds)

    def _breed(self, population: torch.Tensor, fitness: torch.Tensor, buffer: torch.Tensor, space: Space,
               mutation: _Mutation, gen: torch.Generator) -> torch.Tensor:
        """One generation's offspring: the next population written into ``buffer``, which may hold ``population``.

        Everything read from ``population`` (elites, parents) is gathered before anything is
        written, so the population can be replaced in place. No host sync, fixed shapes: this is
        what a CUDA graph captures.

        Args:
            population: ``(n, d)``, the evaluated population.
            fitness: ``(n,)``, its values.
            buffer: ``rows * d + 1`` entries, ``rows = elites + 2m``: elites on top, children below
                them, one spare entry for mutation sites drawn past the end (see :meth:`_offspring`).
            space, mutation, gen: the run's space, mutation settings and generator.

        Returns:
            The elites' fitness, shape ``(elites,)``.
        """
        e, d = self.elites, population.shape[1]
        order = torch.argsort(fitness)  # NaN sorts last: it never wins a tournament
        elite = order[:e]
        elites = population.index_select(0, elite)
        parents = population.index_select(0, self._mates(order, (buffer.numel() - 1) // d - e, gen))
        self._offspring(parents, space, mutation, gen, buffer[e * d:])
        buffer[: e * d].view(e, d).copy_(elites)
        return fitness.index_select(0, elite)

    def _breed_native(self, fn: Callable[..., int], population: torch.Tensor, fitness: torch.Tensor,
                      buffer: torch.Tensor, space: Space, mutation: _Mutation, gen: torch.Generator) -> torch.Tensor:
        """:meth:`_breed` with the arithmetic in one C pass (:mod:`optbench.kernels.ga_native`); CPU only.

        The same draws from ``gen`` in the same order as :meth:`_breed` (tournament ranks, crossover
        uniforms, mutation gaps, crossover fields, noise), so the same next population bit for bit;
        ``buffer`` must not hold ``population`` (the pass reads parents while it writes children).
        """
        e, d = self.elites, population.shape[1]
        order = torch.argsort(fitness)  # as _breed: NaN sorts last
        rows = (buffer.numel() - 1) // d - e
        m = rows // 2
        ranks = torch.randint(0, order.shape[0], (self.tournament, rows), generator=gen)
        real = population.dtype if population.is_floating_point() else torch.float32
        crossed = torch.rand(m, generator=gen, dtype=real)  # the draws of _offspring's (m, 1)
        # lt_ compares with the rate rounded to the uniforms' dtype
        rate = float(np.float32(self.crossover_rate)) if real == torch.float32 else float(self.crossover_rate)
        gaps = _geometric_gaps(rows * d, mutation.rate, gen, population.device)
        noise = None
        if space.kind is SpaceKind.BITS:
            fields = _random_fields(m * d, torch.uint8, gen, population.device)
        else:
            fields = _random_fields(m * d, torch.int16, gen, population.device)
            if gaps is not None:
                noise = torch.empty(gaps.shape, dtype=population.dtype)
                noise.normal_(0.0, mutation.step, generator=gen) if mutation.steps is None \
                    else noise.normal_(generator=gen)
        ga_native.offspring(fn, population, order, ranks, crossed, rate, fields, gaps, noise, elites=e,
                            steps=mutation.steps, bounds=mutation.bounds, out=buffer)
        return fitness.index_select(0, order[:e])

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        gen = torch_generator(rng, evaluator.device)
        space, device, dtype = evaluator.space, evaluator.device, evaluator.dtype
        bounds = evaluator.bounds() if space.kind is not SpaceKind.BITS else None
        population = sample(space, self.popsize, generator=gen, device=device, dtype=dtype, bounds=bounds)
        if space.kind is SpaceKind.PARAMS:  # start around the problem's own initialisation
            cpu_gen = torch_generator(rng, "cpu")
            population = torch.stack([evaluator.initial_point(cpu_gen) for _ in range(self.popsize)])
        mutation = _Mutation.of(self, space, bounds)
        e, m, d = self.elites, math.ceil((self.popsize - self.elites) / 2), space.dim
        # the population lives in one buffer, replaced in place each generation: elites on top,
        # children below them, and one spare entry at the end for mutation sites drawn past the last child
        buffer = torch.empty((e + 2 * m) * d + 1, dtype=population.dtype, device=device)
        following = buffer[:-1].view(e + 2 * m, d)[: self.popsize]
        # on the CPU, one C pass per generation where it is built (same draws, same populations); it
        # reads the parents while writing the children, so generations alternate between two buffers
        fn = ga_native.kernel(population.dtype, device)
        buffers = (buffer, torch.empty_like(buffer)) if fn is not None else (buffer,)
        population = population.contiguous() if fn is not None else population
        graph: GenerationGraph | None = None
        try:
            fitness = evaluator.evaluate(population)
            left = getattr(evaluator, "remaining", math.inf) / (self.popsize - e)
            wanted = graphs_wanted(device, (e + 2 * m) * d, left) and fitness.shape == (self.popsize,)
            static = fitness  # the graph's fitness buffer
            for generation in itertools.count():
                if wanted and generation == 1:  # generation 0 ran every kernel once, eagerly: the warm-up
                    static = torch.empty_like(fitness)
                    step = functools.partial(self._breed, following, static, buffer, space, mutation)
                    graph = try_capture(step, gen)
                if graph is not None and fitness is not static:
                    if fitness.shape == static.shape:
                        static.copy_(fitness)
                    else:  # a short batch from an evaluator that did not raise: on eagerly, the same stream
                        gen.set_state(graph.generator.get_state())
                        graph = None
                if graph is not None:
                    elite_fitness = graph.replay()
                elif fn is not None:
                    target = buffers[1] if population.data_ptr() == buffers[0].data_ptr() else buffers[0]
                    elite_fitness = self._breed_native(fn, population, fitness, target, space, mutation, gen)
                    following = target[:-1].view(e + 2 * m, d)[: self.popsize]
                else:
                    elite_fitness = self._breed(population, fitness, buffer, space, mutation, gen)
                population = following
                child_fitness = evaluator.evaluate(population[e:])
                if graph is not None and child_fitness.shape[0] == self.popsize - e:
                    fitness = torch.cat([elite_fitness, child_fitness], out=static)
                else:
                    fitness = torch.cat([elite_fitness, child_fitness])
        except BudgetExhausted:
            pass
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before the GA evaluated its first population")
        return evaluator.best_x


@dataclass(frozen=True)
class _Mutation:
    """A run's mutation settings, computed once: per-coordinate rate and Gaussian step, and the box."""

    rate: float
    step: float  # the step of every coordinate, when all are equal
    steps: torch.Tensor | None  # per-coordinate steps otherwise
    bounds: tuple[torch.Tensor, torch.Tensor] | None  # the box to clamp children into, if bounded

    @staticmethod
    def of(ga: GeneticAlgorithm, space: Space, bounds: tuple[torch.Tensor, torch.Tensor] | None) -> _Mutation:
        rate = ga.mutation_rate if ga.mutation_rate is not None else 1.0 / space.dim
        if bounds is None:  # bit strings: flips only
            return _Mutation(rate, 0.0, None, None)
        steps = ga.mutation_scale * (bounds[1] - bounds[0])
        uniform = bool((steps == steps[0]).all())  # one host sync per run
        return _Mutation(rate, float(steps[0]) if uniform else 0.0, None if uniform else steps,
                         bounds if space.is_bounded else None)
