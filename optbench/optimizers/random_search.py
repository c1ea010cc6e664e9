"""Batched random search: uniform in the box, uniform bits, or uniform in a module's sampling range.

On the CPU, drawing the points costs more than evaluating most problems, so random search draws
them from the trial's NumPy generator, handed to torch without a copy: NumPy's PCG64 fills a
``(1000, 100)`` float32 batch in 158 µs against 256 µs for torch's CPU generator (float64: 189
vs 366 µs), and bit strings come eight to a random byte (16 µs against 296 µs). On CUDA the
points are drawn on the device by torch -- or, on a problem with ``Capability.UNIFORM_KERNEL``
(the classic functions where a fused kernel runs), drawn *inside* the problem's kernel and never
stored: one 64-bit key from the trial's generator, and batch after batch of consecutive rows of
that draw (:meth:`optbench.evaluator.Evaluator.evaluate_uniform`). That is a different stream of
points from the torch path's, so a trial's result depends on whether the kernel ran, as it already
depends on the device.

``batch_size`` stays 1000 by default (it is part of a trial's identity, and changing the default
would change every stored result); on a GPU pass ``batch_size=1_000_000``: a smaller batch leaves a
fused pass launch-bound (a 1000-point batch is 100k coordinates, microseconds of GPU work).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from optbench.api import BudgetExhausted, Capability, ConfigError, Optimizer, Space, SpaceKind
from optbench.evaluator import Evaluator
from optbench.seeding import torch_generator


def sample(space: Space, n: int, *, generator: torch.Generator, device: torch.device, dtype: torch.dtype,
           bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """``n`` uniform points of ``space``, shape ``(n, d)``, drawn on ``device`` in one call.

    ``bounds`` (``space.bounds`` on ``device``) can be passed by a caller that samples every
    generation, so they are not rebuilt from Python floats each time.
    """
    if space.kind is SpaceKind.BITS:
        return torch.randint(0, 2, (n, space.dim), generator=generator, device=device, dtype=torch.uint8)
    lower, upper = bounds if bounds is not None else space.bounds(device=device, dtype=dtype)
    # in place: the same arithmetic as `rand * (upper - lower) + lower` without two temporaries
    return torch.rand(n, space.dim, generator=generator, device=device, dtype=dtype).mul_(upper - lower).add_(lower)


_NUMPY_FLOATS = {torch.float32: np.float32, torch.float64: np.float64}


def numpy_sampler(space: Space, rng: np.random.Generator, *, dtype: torch.dtype,
                  bounds: tuple[torch.Tensor, torch.Tensor] | None, most: int) -> Callable[[int], torch.Tensor]:
    """``draw(n)``: ``n <= most`` uniform points ``(n, d)`` of ``space`` on the CPU from NumPy's ``rng``.

    Points are drawn into one buffer that NumPy and torch share (no copy) and that every call
    overwrites: a 400 kB batch allocated afresh each call costs page faults as large as the
    evaluation of a cheap problem. The evaluator keeps copies of what it keeps (the best point).
    """
    d = space.dim
    if space.kind is SpaceKind.BITS:
        def draw_bits(n: int) -> torch.Tensor:
            packed = np.frombuffer(rng.bytes(math.ceil(n * d / 8)), dtype=np.uint8)
            return torch.from_numpy(np.unpackbits(packed, count=n * d).reshape(n, d))

        return draw_bits
    assert bounds is not None
    lower, width = bounds[0], bounds[1] - bounds[0]
    np_dtype = _NUMPY_FLOATS.get(dtype)
    if np_dtype is None:  # a dtype NumPy cannot draw: draw float64 and convert
        def draw_converted(n: int) -> torch.Tensor:
            return torch.from_numpy(rng.random((n, d))).to(dtype).mul_(width).add_(lower)

        return draw_converted
    buffer = np.empty((most, d), dtype=np_dtype)
    shared = torch.from_numpy(buffer)

    def draw(n: int) -> torch.Tensor:
        rng.random(out=buffer[:n], dtype=np_dtype)
        X = shared[:n]
        return torch.addcmul(lower, X, width, out=X)  # lower + u * width, in place

    return draw


BATCH_BYTES = 2**28  # of one batch of points (256 MiB)


@dataclass(frozen=True)
class RandomSearch(Optimizer):
    """Blind search: ``batch_size`` uniform points per evaluation call until the budget is spent."""

    name: ClassVar[str] = "random"
    search_space: ClassVar[dict[str, Any]] = {}  # nothing changes what blind search finds (batch_size is speed)

    batch_size: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ConfigError(f"random: batch_size must be a positive integer, got {self.batch_size!r}")

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        if Capability.UNIFORM_KERNEL in evaluator.capabilities:
            return self._fused(evaluator, rng)
        space, device, dtype = evaluator.space, evaluator.device, evaluator.dtype
        bounds = None if space.kind is SpaceKind.BITS else evaluator.bounds()
        # a batch stays within BATCH_BYTES: a 10^6-dimensional point is 8 MB, so batches shrink with the dimension
        rows = max(1, min(self.batch_size, BATCH_BYTES // (8 * max(space.dim, 1))))
        if device.type == "cpu":
            draw = numpy_sampler(space, rng, dtype=dtype, bounds=bounds, most=rows)
        else:
            gen = torch_generator(rng, device)

            def draw(n: int) -> torch.Tensor:
                return sample(space, n, generator=gen, device=device, dtype=dtype, bounds=bounds)
        try:
            while True:
                n = int(min(rows, max(evaluator.remaining, 1)))
                evaluator.evaluate(draw(n))
        except BudgetExhausted:
            pass
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before random search evaluated a point")
        return evaluator.best_x

    def _fused(self, evaluator: Evaluator, rng: np.random.Generator) -> torch.Tensor:
        """Draw and evaluate in the problem's kernel: rows ``offset .. offset + n - 1`` of one keyed draw per batch."""
        seed = int(rng.integers(0, 2**64, dtype=np.uint64))
        offset = 0
        try:
            while True:
                n = int(min(self.batch_size, max(evaluator.remaining, 1)))
                evaluator.evaluate_uniform(n, seed=seed, offset=offset)
                offset += n
        except BudgetExhausted:
            pass
        if evaluator.best_x is None:
            raise BudgetExhausted("the budget ran out before random search evaluated a point")
        return evaluator.best_x
