"""``torch.compile`` (inductor's C++ backend) of a classic function's eager path on the CPU, once it pays.

Measured on the shared two-core machine (one torch thread, best of 5-30, D=100; eager vs compiled):

=============  =====  ================  ================
function       dtype  1,000 rows        100,000 rows
=============  =====  ================  ================
rastrigin      f64    2980 / 826 us     590 / 52 ms
rastrigin      f32     234 / 117 us     370 / 12 ms
sphere         f64      62 / 99 us      166 / 12 ms
sphere         f32      57 / 70 us       96 / 7 ms
ackley         f64     697 / 715 us     605 / 96 ms
rosenbrock     f64     339 / 162 us    1169 / 24 ms
=============  =====  ================  ================

One fused loop without temporaries wins 6-50x on large batches and loses on small cheap ones (the
compiled call's guards cost ~40 us). Compiling costs 0.2-0.7 s per function with inductor's disk
cache warm and ~7 s cold (its first use in a process), so compiling up front would make every short
trial slower. The eager path therefore runs first, and an instance compiles only after it has
evaluated :data:`AMORTIZE` coordinates in batches of at least :data:`MIN_ELEMENTS` (the ski-rental
rule: by then eager evaluation has cost about as much as a cold compile, so a trial is at most about
twice as slow as its best choice, and a long one gains the full speed-up). The switch is counted in
coordinates, not seconds, so a trial's results stay a function of its spec; the compiled code
evaluates the same expression in one loop (possibly other vectorized math functions, another
summation order), equal to the eager values within the bound tests/test_fused.py derives. Any
compilation error leaves the instance on the eager path for good. ``OPTBENCH_KERNELS=compile``
compiles at once, for every batch (tests); ``eager`` never compiles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from optbench.kernels import fused

log = logging.getLogger(__name__)

MIN_ELEMENTS = 10**6  # a batch's coordinates; below, eager costs < ~10 ms a call and compiled gains little
AMORTIZE = 2 * 10**8  # coordinates evaluated eagerly in large batches before an instance compiles


def eager_only(X: torch.Tensor) -> bool:
    """Whether ``X`` certainly takes a classic function's eager path, decided with one read of the switch:
    off CUDA, below :data:`MIN_ELEMENTS`, in the default mode. Off CUDA a fused kernel runs only when
    ``OPTBENCH_KERNELS=triton`` asks for it (:func:`optbench.kernels.fused.use_kernel`), and in ``auto`` the
    compiled path neither runs nor counts a batch this small (:meth:`CompiledPath.__call__`). The full dispatch
    costs ~5 us a call, a quarter of a CMA-ES generation's evaluation of a small problem."""
    return not X.is_cuda and X.numel() < MIN_ELEMENTS and fused.mode() == "auto"


class CompiledPath:
    """An instance's eager function and, once it pays, its compiled twin.

    Args:
        eager: ``X (n, d) -> (n,)``, the eager path of one problem instance.
    """

    def __init__(self, eager: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self._eager = eager
        self._compiled: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._failed = False
        self.eager_elements = 0  # coordinates the eager path evaluated in large batches

    def __getstate__(self) -> dict[str, object]:
        """A copy (pickled for another process, deep-copied) starts uncompiled: compiled code does not travel."""
        return {**self.__dict__, "_compiled": None}

    def __call__(self, X: torch.Tensor) -> torch.Tensor | None:
        """The compiled values of ``X`` where compilation is chosen, else ``None`` (the caller runs eager)."""
        if self._failed or X.device.type != "cpu" or X.requires_grad:
            return None
        current = fused.mode()
        if current == "compile":
            return self._run(X)
        if current != "auto" or X.numel() < MIN_ELEMENTS:
            return None
        if self._compiled is None and self.eager_elements < AMORTIZE:
            self.eager_elements += X.numel()
            return None
        return self._run(X)

    def _run(self, X: torch.Tensor) -> torch.Tensor | None:
        try:
            if self._compiled is None:
                self._compiled = torch.compile(self._eager, dynamic=True)
            return self._compiled(X)
        except Exception as error:
            log.warning("torch.compile failed (%s); evaluating eagerly", error)
            self._failed = True
            return None
