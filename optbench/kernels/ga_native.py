"""The GA's offspring pass in C (``ga_pass.c``): selection, crossover, mutation and the box in one sweep.

The GA draws every random number with torch, as its torch path does, and hands the draws to
:func:`offspring`, which writes the next population; the arithmetic repeats torch's operation by
operation (see ``ga_pass.c``), so both paths give the same populations bit for bit, which
tests/test_native_ga.py checks. Used on the CPU for float32 and float64 reals and uint8 bits;
:func:`kernel` is ``None`` elsewhere, without a C compiler, or under ``OPTBENCH_KERNELS=eager``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import torch

from optbench.kernels import native

_P, _I = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {
    torch.float32: ("ga_real_f32", ctypes.c_float),
    torch.float64: ("ga_real_f64", ctypes.c_double),
}
_BOUND: dict[tuple[int, torch.dtype], Callable[..., int]] = {}


def kernel(dtype: torch.dtype, device: torch.device) -> Callable[..., int] | None:
    """The C pass for a population of ``dtype`` on ``device``, or ``None`` (the torch path runs)."""
    if device.type != "cpu" or (dtype not in _SIGNATURES and dtype != torch.uint8) or not native.enabled():
        return None
    if dtype != torch.uint8 and not fused_lerp():
        return None  # torch's lerp is not fused here: the C pass's fma() would differ in the last bit
    lib = native.library("ga_pass")
    if lib is None:
        return None
    key = (id(lib), dtype)
    if key not in _BOUND:
        if dtype == torch.uint8:
            fn = lib.ga_bits_u8
            fn.argtypes = [_P, _I, _P, _I, _P, _I, _I, _P, ctypes.c_float, _P, _P, _I, _P, _P]
        else:
            name, real = _SIGNATURES[dtype]
            fn = getattr(lib, name)
            fn.argtypes = [_P, _I, _P, _I, _P, _I, _I, _P, real, _P, _P, _I, _P, _P, _P, _P, _P, _P]
        fn.restype = ctypes.c_int
        _BOUND[key] = fn
    return _BOUND[key]


def fused_lerp() -> bool:
    """Whether torch's vectorized CPU lerp fuses its multiply-add, as the C pass's ``fma()`` does: on x86-64
    where its CPU capability is AVX2 or AVX-512. Elsewhere (the DEFAULT capability computes ``a * b + c``
    in two roundings; other architectures are not verified) real-valued populations keep the torch path,
    so a run's populations never depend on which path made them."""
    return native.flags() != native.BASE_FLAGS


def _ptr(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def offspring(fn: Callable[..., int], population: torch.Tensor, order: torch.Tensor, ranks: torch.Tensor,
              crossed: torch.Tensor, rate: float, fields: torch.Tensor, gaps: torch.Tensor | None,
              noise: torch.Tensor | None, *, elites: int, steps: torch.Tensor | None,
              bounds: tuple[torch.Tensor, torch.Tensor] | None, out: torch.Tensor) -> None:
    """Write the next population into ``out`` from the torch draws (all contiguous CPU tensors).

    Args:
        fn: :func:`kernel` of the population's dtype.
        population: ``(n, d)``, the evaluated population; not aliased by ``out``.
        order: int64 ``(n,)``, the population's indices sorted by fitness.
        ranks: int64 ``(tournament, 2m)``, the drawn contestants' ranks.
        crossed: ``(m,)`` uniforms in the crossover's real dtype (a pair is crossed where below ``rate``).
        rate: the crossover rate, already rounded to that dtype.
        fields: int16 ``(m, d)`` (reals) or uint8 ``(m, d)`` (bits), the drawn crossover fields.
        gaps: int64 geometric gaps between mutation sites, or ``None`` (no mutation).
        noise: the Gaussian draws, one per gap (reals), scaled unless ``steps`` is given.
        elites: ``e``, copied first.
        steps: ``(d,)`` per-coordinate steps multiplying the noise, or ``None``.
        bounds: ``(lower, upper)``, each ``(d,)``, to clamp the children into, or ``None``.
        out: ``(e + 2m) * d + 1`` entries: elites, children, one spare entry for sites past the end.
    """
    d, m = population.shape[1], crossed.shape[0]
    count = 0 if gaps is None else gaps.shape[0]
    parent = torch.empty(2 * m, dtype=torch.int64)
    head = (population.data_ptr(), d, order.data_ptr(), elites, ranks.data_ptr(), ranks.shape[0], m,
            crossed.data_ptr(), rate, fields.data_ptr(), _ptr(gaps), count)
    if population.dtype == torch.uint8:
        fn(*head, out.data_ptr(), parent.data_ptr())
        return
    lower, upper = bounds if bounds is not None else (None, None)
    fn(*head, _ptr(noise), _ptr(steps), _ptr(lower), _ptr(upper), out.data_ptr(), parent.data_ptr())
