"""Draw-and-evaluate: uniform points of a box made by a counter-based generator inside the kernel.

The generator is Philox4x32-10 (Salmon et al., SC'11; the Random123 constants), written out here
so its stream does not depend on the Triton version. Row ``q = offset + r`` of a draw keyed by
``seed`` uses the counters ``(g, q mod 2**32, q div 2**32, 0)`` for ``g = 0 .. ceil(d / P) - 1`` and
the key ``(seed mod 2**32, seed div 2**32)``: each call gives four 32-bit words, which make ``P = 4``
float32 coordinates (the top 24 bits of a word each) or ``P = 2`` float64 ones (53 bits from two
words, as NumPy builds its doubles). Coordinate ``P g + p`` of row ``q`` therefore depends on
``(seed, q)`` alone: rows never share counters, any row can be redrawn, and the batch split does
not matter. A coordinate is ``fma(upper - lower, u, lower)`` with ``u`` in ``[0, 1)`` on a grid of
``2**-24`` (float32) or ``2**-53`` (float64); since ``u <= 1 - 2**-24`` the point stays in
``[lower, upper]``.

:func:`evaluate_uniform` never stores a point: each program keeps ``BLOCK_R`` rows' running sums
in registers while it draws their coordinates group by group. :func:`uniform_points` runs the
same :func:`draw` and writes the coordinates instead, so the points are bit-identical.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import triton
import triton.language as tl

from optbench.kernels.fused_triton import GRIEWANK, finish, terms
from optbench.kernels.layout import split_int

if TYPE_CHECKING:
    from optbench.kernels.fused import ClassicSpec

BLOCK_R = 256  # rows per program; the loop runs over coordinate groups, so no lane idles on a ragged d


@triton.jit
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter ``(c0, c1, c2, c3)`` under the key ``(k0, k1)`` (all uint32)."""
    for _ in tl.static_range(10):
        h0 = tl.umulhi(c0, 0xD2511F53)
        h1 = tl.umulhi(c2, 0xCD9E8D57)
        l0 = c0 * 0xD2511F53
        l1 = c2 * 0xCD9E8D57
        c0 = h1 ^ c1 ^ k0
        c1 = l1
        c2 = h0 ^ c3 ^ k1
        c3 = l0
        k0 = k0 + 0x9E3779B9
        k1 = k1 + 0xBB67AE85
    return c0, c1, c2, c3


@triton.jit
def unit24(r):
    """A uint32 word's top 24 bits as a float32 in ``[0, 1)`` (exact: ``(r >> 8) * 2**-24``)."""
    return (r >> 8).to(tl.float32) * 5.9604644775390625e-08


@triton.jit
def unit53(a, b):
    """Two words as a float64 in ``[0, 1)``: ``((a >> 5) * 2**26 + (b >> 6)) * 2**-53`` (exact)."""
    hi = (a >> 5).to(tl.float64)
    lo = (b >> 6).to(tl.float64)
    return (hi * 67108864.0 + lo) * 1.1102230246251565e-16


@triton.jit
def keys(s0, s1, s2):
    """The 64-bit seed from its 31-bit pieces as the two key words (uint32)."""
    seed = s0.to(tl.int64) | (s1.to(tl.int64) << 31) | (s2.to(tl.int64) << 62)
    return (seed & 0xFFFFFFFF).to(tl.uint32), ((seed >> 32) & 0xFFFFFFFF).to(tl.uint32)


@triton.jit
def draw(g, q, k0, k1, IS_F64: tl.constexpr):
    """The ``u`` of coordinate group ``g`` for rows ``q`` (int64, shape ``(BLOCK_R,)``): P tensors."""
    qlo = (q & 0xFFFFFFFF).to(tl.uint32)
    qhi = (q >> 32).to(tl.uint32)
    zero = qlo * 0
    r0, r1, r2, r3 = philox(zero + g, qlo, qhi, zero, k0, k1)
    if IS_F64:
        u0 = unit53(r0, r1)
        u1 = unit53(r2, r3)
        u2 = u0
        u3 = u1
    else:
        u0 = unit24(r0)
        u1 = unit24(r1)
        u2 = unit24(r2)
        u3 = unit24(r3)
    return u0, u1, u2, u3


@triton.jit
def _accumulate(acc_a, acc_b, u, col, D, lo_ptr, w_ptr, shift_ptr, aux_ptr, c0, c1, FN: tl.constexpr):
    valid = col < D
    safe = tl.minimum(col, D - 1)
    x = tl.fma(tl.load(w_ptr + safe), u, tl.load(lo_ptr + safe))
    z = x - tl.load(shift_ptr + safe)
    a, b = terms(z, tl.load(aux_ptr + safe), c0, c1, FN)
    acc_a += tl.where(valid, a, 0)
    if FN == GRIEWANK:
        acc_b = acc_b * tl.where(valid, b, 1)
    else:
        acc_b += tl.where(valid, b, 0)
    return acc_a, acc_b


@triton.jit(do_not_specialize=["n", "o0", "o1", "s0", "s1", "s2"])
def _uniform_kernel(out_ptr, lo_ptr, w_ptr, shift_ptr, aux_ptr, cst_ptr, n, D, o0, o1, s0, s1, s2,
                    FN: tl.constexpr, IS_F64: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    q = (o0.to(tl.int64) | (o1.to(tl.int64) << 31)) + rows
    k0, k1 = keys(s0, s1, s2)
    c0 = tl.load(cst_ptr + 0)
    c1 = tl.load(cst_ptr + 1)
    dtype = out_ptr.dtype.element_ty
    acc_a = tl.zeros([BLOCK], dtype=dtype)
    acc_b = tl.full([BLOCK], 1, dtype=dtype) if FN == GRIEWANK else tl.zeros([BLOCK], dtype=dtype)
    P: tl.constexpr = 2 if IS_F64 else 4
    for g in range(0, tl.cdiv(D, P)):
        u0, u1, u2, u3 = draw(g, q, k0, k1, IS_F64)
        acc_a, acc_b = _accumulate(acc_a, acc_b, u0, P * g, D, lo_ptr, w_ptr, shift_ptr, aux_ptr, c0, c1, FN)
        acc_a, acc_b = _accumulate(acc_a, acc_b, u1, P * g + 1, D, lo_ptr, w_ptr, shift_ptr, aux_ptr, c0, c1, FN)
        if not IS_F64:
            acc_a, acc_b = _accumulate(acc_a, acc_b, u2, P * g + 2, D, lo_ptr, w_ptr, shift_ptr, aux_ptr, c0, c1,
                                       FN)
            acc_a, acc_b = _accumulate(acc_a, acc_b, u3, P * g + 3, D, lo_ptr, w_ptr, shift_ptr, aux_ptr, c0, c1,
                                       FN)
    f = finish(acc_a, acc_b, c0, c1, tl.load(cst_ptr + 2), tl.load(cst_ptr + 3), tl.load(cst_ptr + 4),
               tl.load(cst_ptr + 5), FN)
    tl.store(out_ptr + rows, f, mask=rows < n)


@triton.jit
def _store(out_ptr, index, u, col, D, lo_ptr, w_ptr, mask):
    valid = mask & (index * 0 + col < D)  # a tensor comparison: some Triton versions refuse a block mask & a scalar
    safe = tl.minimum(col, D - 1)
    x = tl.fma(tl.load(w_ptr + safe), u, tl.load(lo_ptr + safe))
    tl.store(out_ptr + index * D + col, x, mask=valid)


@triton.jit(do_not_specialize=["k", "o0", "o1", "s0", "s1", "s2"])
def _points_kernel(out_ptr, rows_ptr, lo_ptr, w_ptr, k, D, o0, o1, s0, s1, s2,
                   IS_F64: tl.constexpr, BLOCK: tl.constexpr):
    index = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = index < k
    q = (o0.to(tl.int64) | (o1.to(tl.int64) << 31)) + tl.load(rows_ptr + index, mask=mask, other=0)
    k0, k1 = keys(s0, s1, s2)
    P: tl.constexpr = 2 if IS_F64 else 4
    for g in range(0, tl.cdiv(D, P)):
        u0, u1, u2, u3 = draw(g, q, k0, k1, IS_F64)
        _store(out_ptr, index, u0, P * g, D, lo_ptr, w_ptr, mask)
        _store(out_ptr, index, u1, P * g + 1, D, lo_ptr, w_ptr, mask)
        if not IS_F64:
            _store(out_ptr, index, u2, P * g + 2, D, lo_ptr, w_ptr, mask)
            _store(out_ptr, index, u3, P * g + 3, D, lo_ptr, w_ptr, mask)


def _check(seed: int, offset: int) -> None:
    if not 0 <= seed < 2**64:
        raise ValueError(f"a uniform draw's seed must be in [0, 2**64), got {seed}")
    if not 0 <= offset < 2**62:
        raise ValueError(f"a uniform draw's offset must be in [0, 2**62), got {offset}")


def evaluate_uniform(spec: ClassicSpec, n: int, *, seed: int, offset: int, lower: torch.Tensor,
                     width: torch.Tensor) -> torch.Tensor:
    """Values of rows ``0 .. n-1`` of the draw ``(seed, offset)`` in the box ``lower + width * [0, 1)``.

    Args:
        spec: the function (its device and dtype are the draw's).
        n: rows.
        seed: the key, in ``[0, 2**64)``.
        offset: the first row's counter, in ``[0, 2**62)``.
        lower, width: shape ``(d,)``: ``lower`` and ``upper - lower`` in the dtype.

    Returns:
        Shape ``(n,)``.
    """
    _check(seed, offset)
    out = torch.empty(n, device=spec.shift.device, dtype=spec.shift.dtype)
    if n == 0:
        return out
    grid = (triton.cdiv(n, BLOCK_R),)
    _uniform_kernel[grid](out, lower, width, spec.shift, spec.aux, spec.consts, n, spec.dim,
                          *split_int(offset, 2), *split_int(seed, 3), FN=spec.code,
                          IS_F64=spec.shift.dtype == torch.float64, BLOCK=BLOCK_R)
    return out


def uniform_points(rows: torch.Tensor, *, dim: int, seed: int, offset: int, lower: torch.Tensor,
                   width: torch.Tensor) -> torch.Tensor:
    """Rows ``rows`` (int64, shape ``(k,)``) of the draw ``(seed, offset)``: shape ``(k, dim)``, as drawn."""
    _check(seed, offset)
    rows = rows.to(device=lower.device, dtype=torch.int64).contiguous()
    k = rows.numel()
    out = torch.empty(k, dim, device=lower.device, dtype=lower.dtype)
    if k == 0:
        return out
    grid = (triton.cdiv(k, BLOCK_R),)
    _points_kernel[grid](out, rows, lower, width, k, dim, *split_int(offset, 2), *split_int(seed, 3),
                         IS_F64=lower.dtype == torch.float64, BLOCK=BLOCK_R)
    return out
