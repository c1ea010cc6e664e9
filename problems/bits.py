"""Pseudo-Boolean problems over bit strings: OneMax, LeadingOnes, deceptive traps, NK, needle.

Instances follow IOHprofiler's convention: instance 0 is the textbook function, every other
instance XORs the input with a seeded mask (same landscape, optimum moved), so an optimizer
cannot profit from a bias towards all-ones strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from optbench.api import ConfigError, Problem, Space
from optbench.kernels import fused
from optbench.seeding import instance_generator


def positive_int(family: str, name: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{family}: {name} must be an integer >= {minimum}, got {value!r}")
    return value


class BitProblem(Problem):
    """Base for bit-string problems: the seeded XOR mask and the known optimal string.

    Families with ``fused_kernel`` evaluate large batches on CUDA in one fused pass
    (:mod:`optbench.kernels.fused_bits`, bit-exact with the eager path) where
    :func:`optbench.kernels.fused.use_kernel` says so.
    """

    fused_kernel: ClassVar[bool] = False

    def __init__(self, *, n: int, instance: int, device: Any, dtype: Any) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        self.n = positive_int(self.family, "n", n)
        self.space = Space.bits(self.n)
        gen = instance_generator(self.family, instance)
        mask = torch.randint(0, 2, (self.n,), generator=gen, dtype=torch.uint8) if instance else None
        self.mask = None if mask is None else mask.to(self.device)

    def params(self) -> dict[str, Any]:
        return {"n": self.n}

    def _unmask(self, X: torch.Tensor) -> torch.Tensor:
        return X if self.mask is None else X ^ self.mask

    def _fused(self, X: torch.Tensor, mask: torch.Tensor | None, k: int | None = None) -> torch.Tensor | None:
        """The fused kernel's values of ``X`` (uint8, shape ``(n, d)``), or ``None`` where the eager path runs."""
        if not (self.fused_kernel and fused.use_kernel(X)):
            return None
        from optbench.kernels import fused_bits

        return fused_bits.evaluate_bits(self.family, X, mask, dtype=self.dtype, k=k)

    def _masked_optimum(self, plain: torch.Tensor) -> torch.Tensor:
        """The optimal input given the optimal string of the unmasked function, shape ``(n,)``."""
        plain = plain.to(device=self.device, dtype=torch.uint8)
        return plain if self.mask is None else plain ^ self.mask


class OneMax(BitProblem):
    """``f(x) = n - sum x_i``: count the wrong bits; optimum 0."""

    family = "onemax"
    landscape = "deceptive"
    fused_kernel = True
    target = 0.0

    def __init__(self, *, n: int = 64, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(n=n, instance=instance, device=device, dtype=dtype)
        self.optimal_value = 0.0

    @property
    def optimum(self) -> torch.Tensor:
        return self._masked_optimum(torch.ones(self.n, dtype=torch.uint8))

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        values = self._fused(X, self.mask)
        if values is not None:
            return values
        return (self.n - self._unmask(X).sum(dim=1, dtype=torch.int64)).to(self.dtype)


class LeadingOnes(BitProblem):
    """``f(x) = n - (number of leading ones)``: only the first wrong bit matters; optimum 0."""

    family = "leadingones"
    landscape = "deceptive"
    fused_kernel = True
    target = 0.0

    def __init__(self, *, n: int = 64, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(n=n, instance=instance, device=device, dtype=dtype)
        self.optimal_value = 0.0

    @property
    def optimum(self) -> torch.Tensor:
        return self._masked_optimum(torch.ones(self.n, dtype=torch.uint8))

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        values = self._fused(X, self.mask)
        if values is not None:
            return values
        leading = torch.cumprod(self._unmask(X).to(torch.int64), dim=1).sum(dim=1)
        return (self.n - leading).to(self.dtype)


class Trap(BitProblem):
    """Concatenated deceptive ``k``-traps: each block pays ``k`` when all ones, else ``k-1-ones``.

    Every block's gradient of ones points away from the optimum (towards all zeros), which
    misleads hill climbers; ``f = n - sum of block payoffs``, optimum 0 at all ones.
    """

    family = "trap"
    landscape = "deceptive"
    fused_kernel = True
    target = 0.0

    def __init__(self, *, n: int = 40, k: int = 4, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(n=n, instance=instance, device=device, dtype=dtype)
        self.k = positive_int("trap", "k", k, 2)
        if self.n % self.k:
            raise ConfigError(f"trap: n must be a multiple of k, got n={self.n}, k={self.k}")
        self.optimal_value = 0.0

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k}

    @property
    def optimum(self) -> torch.Tensor:
        return self._masked_optimum(torch.ones(self.n, dtype=torch.uint8))

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        values = self._fused(X, self.mask, self.k)
        if values is not None:
            return values
        ones = self._unmask(X).reshape(X.shape[0], -1, self.k).sum(dim=2, dtype=torch.int64)
        payoff = torch.where(ones == self.k, self.k, self.k - 1 - ones)
        return (self.n - payoff.sum(dim=1)).to(self.dtype)


class Needle(BitProblem):
    """Needle in a haystack: 0 at one seeded string, 1 everywhere else. No search beats blind search."""

    family = "needle"
    landscape = "deceptive"
    fused_kernel = True
    target = 0.0

    def __init__(self, *, n: int = 16, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(n=n, instance=instance, device=device, dtype=dtype)
        gen = instance_generator("needle-position", instance)
        self.needle = torch.randint(0, 2, (self.n,), generator=gen, dtype=torch.uint8).to(self.device)
        self.optimal_value = 0.0
        self.blind_search_evaluations = 2.0**self.n  # expected cost of blind search

    @property
    def optimum(self) -> torch.Tensor:
        return self.needle

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        values = self._fused(X, self.needle)
        if values is not None:
            return values
        return (X != self.needle).any(dim=1).to(self.dtype)


class NKLandscape(BitProblem):
    """Kauffman's NK landscape: bit ``i`` contributes a seeded random table value of itself and
    ``K`` random other bits; ``f = -mean contribution``. ``K = 0`` is smooth, ``K = n-1`` random.

    The optimum is computed exactly by enumeration when ``n <= 20`` and is unknown otherwise.
    """

    family = "nk"
    landscape = "deceptive"
    target = 1e-9

    @classmethod
    def memory_need(cls, params: Mapping[str, Any]) -> float | None:
        n, K = params.get("n"), params.get("K")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, K)) or K > 64:
            return None if not isinstance(K, int) or K <= 64 else math.inf
        return 8.0 * n * 2 ** (K + 1) + 64.0 * n * (K + 1)  # one table of 2^(K+1) values per bit

    def __init__(self, *, n: int = 16, K: int = 3, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(n=n, instance=instance, device=device, dtype=dtype)
        self.K = positive_int("nk", "K", K, 0)
        if self.K >= self.n:
            raise ConfigError(f"nk: K must be below n, got n={self.n}, K={self.K}")
        gen = instance_generator(self.family, instance)
        others = torch.stack([torch.randperm(self.n - 1, generator=gen)[: self.K] for _ in range(self.n)])
        others = others + (others >= torch.arange(self.n).unsqueeze(1))  # skip bit i itself
        self.neighbours = torch.cat([torch.arange(self.n).unsqueeze(1), others], dim=1).to(self.device)
        self.tables = torch.rand(self.n, 2 ** (self.K + 1), generator=gen, dtype=torch.float64).to(
            device=self.device, dtype=self.dtype)
        self.weights = (2 ** torch.arange(self.K, -1, -1)).to(self.device)
        self.optimal_value = self._enumerate() if self.n <= 20 else None

    def params(self) -> dict[str, Any]:
        return {"n": self.n, "K": self.K}

    @property
    def optimum(self) -> torch.Tensor | None:
        """A minimizing string, shape ``(n,)``, found by enumeration (``n <= 20``); ``None`` above."""
        if self.n > 20:
            return None
        best_value, best = float("inf"), None
        for start in range(0, 2**self.n, 2**16):
            codes = torch.arange(start, min(start + 2**16, 2**self.n), device=self.device)
            X = ((codes.unsqueeze(1) >> torch.arange(self.n, device=self.device)) & 1).to(torch.uint8)
            values = self._evaluate(self._unmask(X))  # X is the unmasked string, as in _enumerate
            i = int(values.argmin())
            if float(values[i]) < best_value:
                best_value, best = float(values[i]), X[i]
        return self._masked_optimum(best)

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        bits = self._unmask(X).to(torch.int64)[:, self.neighbours]  # (m, n, K+1)
        index = (bits * self.weights).sum(dim=2)  # (m, n)
        contributions = self.tables.gather(1, index.T).T  # (m, n)
        return -contributions.mean(dim=1)

    def _enumerate(self) -> float:
        best = float("inf")
        for start in range(0, 2**self.n, 2**16):
            codes = torch.arange(start, min(start + 2**16, 2**self.n), device=self.device)
            X = ((codes.unsqueeze(1) >> torch.arange(self.n, device=self.device)) & 1).to(torch.uint8)
            values = self._evaluate(self._unmask(X))  # enumerate unmasked strings: same minimum
            best = min(best, float(values.min()))
        return best
