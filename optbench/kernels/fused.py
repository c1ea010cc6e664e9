"""Fused Triton kernels for the classic (unrotated) continuous functions over a stored population.

One program reads a tile of ``BLOCK_R`` rows by ``BLOCK_D`` coordinates, computes each
coordinate's term and reduces every row in registers, so the population is read once and only
the ``n`` values are written: a memory-bound pass where the eager path runs five to eight
kernels, each reading and writing the whole ``(n, d)`` population.

The terms repeat the eager path's arithmetic operation by operation, with its constants rounded
to the problem dtype as torch rounds a Python scalar (they come from a small tensor of that
dtype: a float literal in a Triton kernel is a float32 constant, which would round 2*pi in a
float64 kernel). What may differ is the order of the row's sum (a tree here, torch's order
there), fused multiply-adds, and the last bits of ``cos``/``exp`` (both sides use accurate library
functions). The tests bound the difference from that analysis.

Whether a kernel runs is decided per call (:func:`use_kernel`): ``OPTBENCH_KERNELS=eager`` never,
``triton`` wherever Triton runs (a CUDA device, or the CPU under ``TRITON_INTERPRET=1``: the
tests), and ``auto`` (the default) on CUDA for batches of at least :data:`MIN_ELEMENTS` coordinates.
On the CPU, ``auto`` may compile the eager path with ``torch.compile`` once that pays
(:mod:`optbench.kernels.compiled`); ``compile`` forces that and no Triton.
Rotated instances stay on the eager path: ``(x - shift) @ R.T`` is a matmul that reads and writes
the population once more and does ``2 d`` flops per coordinate, so fusing the few elementwise
passes behind it would save at most half the traffic; computing ``x @ R.T - R shift`` instead
(one matmul into the kernel) loses ``z``'s relative accuracy near the optimum, where the
subtraction ``x - shift`` is exact.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass

import torch

from optbench.kernels import switches

ENV = switches.KERNELS
MODES = switches.KERNEL_MODES
# Below this many coordinates a batch stays eager in ``auto``. Reasoning: launching a Triton kernel
# costs ~10-20 us of Python; the eager Rastrigin launches six torch kernels (~4 us each) whose GPU time
# is a few us at 2**15 float32 coordinates (128 kB), so below this both are launch-bound and the eager
# path (no first-call compilation, autograd) is as good; above, the eager passes over the population
# grow with it and the one fused pass wins. The GPU benchmark times both sides of this threshold.
MIN_ELEMENTS = 2**15

# family codes shared with the uniform kernel (optbench.kernels.fused_uniform)
SPHERE, RASTRIGIN, ELLIPSOID, ACKLEY, GRIEWANK, SCHWEFEL, ROSENBROCK = range(7)
CODES = {"sphere": SPHERE, "rastrigin": RASTRIGIN, "ellipsoid": ELLIPSOID, "ackley": ACKLEY,
         "griewank": GRIEWANK, "schwefel": SCHWEFEL, "rosenbrock": ROSENBROCK}
PRODUCT = (GRIEWANK,)  # families whose second accumulator is a product


def mode() -> str:
    """``OPTBENCH_KERNELS``: ``auto`` (default), ``eager``, ``triton`` or ``compile`` (read at every call)."""
    return switches.kernel_mode()


@functools.cache
def triton_installed() -> bool:
    """Whether Triton can be imported (looked up once: the search costs ~35 us, and every evaluation asks)."""
    return importlib.util.find_spec("triton") is not None


def triton_runs_on(device: torch.device) -> bool:
    """Whether Triton kernels can run on ``device``: CUDA, or the CPU through Triton's interpreter."""
    on_device = device.type == "cuda" or (device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1")
    return on_device and triton_installed()


def kernels_offered(device: torch.device) -> bool:
    """Whether a problem on ``device`` built now offers kernels (e.g. the UNIFORM_KERNEL capability)."""
    current = mode()
    if current in ("eager", "compile") or not triton_runs_on(device):
        return False
    return current == "triton" or device.type == "cuda"


def use_kernel(X: torch.Tensor) -> bool:
    """Whether the batch ``X`` (shape ``(n, d)``) is evaluated by a fused kernel rather than eagerly."""
    # kernels have no backward: gradients always take the eager path; the device first, the cheapest test (a
    # bad OPTBENCH_KERNELS is still refused: mode() is read below on a kernel device, and on the CPU by the
    # compiled path, optbench.kernels.compiled)
    if X.requires_grad or not triton_runs_on(X.device):
        return False
    current = mode()
    if current in ("eager", "compile"):
        return False
    return current == "triton" or (X.device.type == "cuda" and X.numel() >= MIN_ELEMENTS)


@dataclass(frozen=True)
class ClassicSpec:
    """What the kernels need of a classic function instance (all on its device, in its dtype).

    Attributes:
        code: the family code (:data:`CODES`).
        dim: ``d``.
        shift: shape ``(d,)``; ``z = x - shift``.
        aux: shape ``(d,)``: Ellipsoid's weights, Griewank's ``sqrt(i)``, Schwefel's signs; else zeros.
        consts: the family's scalars rounded to the dtype, shape ``(8,)`` (see :func:`classic_spec`).
    """

    code: int
    dim: int
    shift: torch.Tensor
    aux: torch.Tensor
    consts: torch.Tensor

    def evaluate(self, X: torch.Tensor) -> torch.Tensor:
        """Values of a stored population ``X`` (shape ``(n, d)``, contiguous rows) -> shape ``(n,)``."""
        from optbench.kernels import fused_triton

        return fused_triton.evaluate_classic(self, X)


def classic_spec(family: str, *, dim: int, shift: torch.Tensor, aux: torch.Tensor | None = None) -> ClassicSpec:
    """The kernel description of a classic function; constants as the eager ``_f`` writes them.

    ``consts`` holds, by family (unused slots 0): Rastrigin ``[2 pi, 10, 10 d]``, Ackley
    ``[2 pi, d, -20, -0.2, 20, e]``, Griewank ``[4000, 1]``, Schwefel ``[418.98.. d]``, Rosenbrock
    ``[100, 1]`` -- each Python float rounded to the dtype once, as torch rounds a scalar operand.
    """
    code = CODES[family]
    d = float(dim)
    values = {
        RASTRIGIN: [2 * math.pi, 10.0, 10.0 * dim],
        ACKLEY: [2 * math.pi, d, -20.0, -0.2, 20.0, math.e],
        GRIEWANK: [4000.0, 1.0],
        SCHWEFEL: [418.9828872724339 * dim],
        ROSENBROCK: [100.0, 1.0],
    }.get(code, [])
    consts = torch.zeros(8, dtype=torch.float64)
    consts[: len(values)] = torch.tensor(values, dtype=torch.float64)
    if aux is None:
        aux = torch.zeros_like(shift)
    return ClassicSpec(code, dim, shift.contiguous(), aux.to(shift).contiguous(),
                       consts.to(device=shift.device, dtype=shift.dtype))
