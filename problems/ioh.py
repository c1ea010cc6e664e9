"""IOHexperimenter's PBO suite through its own ``ioh`` package: ``pbo(fid=2, dim=64)``.

Every value comes from ``ioh`` (its C++ problems, one call per batch). PBO functions are
maximized; optbench minimizes, so the objective is ``-f(x)`` and the optimum ``-f*`` (unknown for
LABS and NK landscapes, whose optimum ``ioh`` reports as infinite). optbench numbers instances from 0,
IOH from 1, so optbench's instance ``i`` is IOH's ``i + 1``: 0 is the plain function (IOH's 1, as
optbench's own bit problems), 1–49 XOR the input and scale and shift the value, 50–99 permute it.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from optbench.api import ConfigError, Problem, Space
from optbench.extras import require

N_FUNCTIONS = 25
ENUMERATE_BITS = 16  # up to this many bits the optimum is found by evaluating every bit string


@functools.cache
def _enumerated(fid: int, dim: int, instance: int) -> float:
    """The maximum of IOH's function over all ``2^dim`` bit strings (``dim <= ENUMERATE_BITS``)."""
    import numpy as np

    ioh = require("ioh", needed_by="pbo")
    f = ioh.get_problem(fid, instance=instance + 1, dimension=dim, problem_class=ioh.ProblemClass.PBO)
    codes = np.arange(2**dim, dtype=np.int64)
    bits = ((codes[:, None] >> np.arange(dim)[None, :]) & 1).astype(np.int32)
    return float(np.max(np.asarray(f(np.ascontiguousarray(bits)), dtype=np.float64)))


def _checked_optimum(f: Any, fid: int, dim: int, instance: int) -> tuple[float | None, str]:
    """The maximum to measure gaps against, and how it is known, never taken from ``ioh`` unchecked.

    Up to :data:`ENUMERATE_BITS` bits, by enumeration (ioh's value is wrong for some functions and sizes,
    e.g. fid 24 at 16 bits, and carries its value transform twice for fid 22 at instances >= 1); above, ioh's
    declared value only when its declared maximizer evaluates to it; else unknown (no gap, no success rate).
    """
    if dim <= ENUMERATE_BITS:
        return _enumerated(fid, dim, instance), "enumerated"
    declared = float(f.optimum.y)
    x = [int(v) for v in getattr(f.optimum, "x", ())]
    if not math.isfinite(declared) or len(x) != dim:
        return None, "unknown"
    import numpy as np

    value = float(np.asarray(f(np.array([x], dtype=np.int32)), dtype=np.float64).reshape(-1)[0])
    if abs(value - declared) <= 1e-9 * max(1.0, abs(declared)):
        return declared, "ioh's maximizer, checked"
    return None, "unknown"


class PBO(Problem):
    """One of IOH's 25 pseudo-Boolean functions (OneMax, LeadingOnes, LABS, Ising, MIS, N-queens, …)."""

    family = "pbo"
    landscape = "deceptive"
    target = 0.0  # the optimum itself: PBO values are sums of integer or scaled terms

    def __init__(self, *, fid: int = 1, dim: int = 64, instance: int = 0, device: Any = "cpu",
                 dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        if not isinstance(fid, int) or isinstance(fid, bool) or not 1 <= fid <= N_FUNCTIONS:
            raise ConfigError(f"pbo: fid must be an integer from 1 to {N_FUNCTIONS}, got {fid!r}")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"pbo: dim must be an integer >= 1, got {dim!r}")
        if not 0 <= self.instance <= 99:
            raise ConfigError(f"pbo: the instance must be from 0 to 99 (IOH's instances 1-100), got {self.instance}")
        self.fid, self.dim = fid, dim
        self._f = self._build()
        meta = self._f.meta_data
        if meta.n_variables != dim:
            raise ConfigError(f"pbo: function {fid} ({meta.name}) has no {dim}-bit version; IOH gives it "
                              f"{meta.n_variables} bits (some need a square number or a multiple of a block size)")
        self.name = str(meta.name)
        self.space = Space.bits(dim)
        best, self.optimum_source = _checked_optimum(self._f, fid, dim, self.instance)
        self.optimal_value = None if best is None else -best

    def _build(self) -> Any:
        ioh = require("ioh", needed_by="pbo")
        try:
            return ioh.get_problem(self.fid, instance=self.instance + 1, dimension=self.dim,
                                   problem_class=ioh.ProblemClass.PBO)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(f"pbo: ioh cannot build function {self.fid} in {self.dim} bits: {exc}") from None

    def params(self) -> dict[str, Any]:
        return {"fid": self.fid, "dim": self.dim}

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        """``-f`` of the bit strings ``X`` of shape ``(n, dim)``; returns shape ``(n,)``."""
        import numpy as np

        bits = np.array(X.detach().cpu().numpy(), dtype=np.int32, order="C")  # a writable copy for ioh
        values = np.asarray(self._f(bits), dtype=np.float64).reshape(X.shape[0])
        return torch.from_numpy(-values).to(device=self.device, dtype=self.dtype)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_f"]  # a C++ object: rebuilt from (fid, dim, instance) on the other side
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._f = self._build()
