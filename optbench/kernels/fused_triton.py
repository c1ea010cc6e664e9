"""Triton code of the classic-function kernels (imported only when a kernel runs: it imports triton).

:func:`terms` and :func:`finish` are the functions' arithmetic, shared by the stored-population
kernel here and the draw-and-evaluate kernel in :mod:`optbench.kernels.fused_uniform`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import triton
import triton.language as tl

from optbench.kernels.layout import as_kernel_input, next_pow2

if TYPE_CHECKING:
    from optbench.kernels.fused import ClassicSpec

CHUNK = 32  # columns per full chunk of a row
# Coordinates per program (4 warps). ptxas for sm_90: with 1024 float32 (8 a thread) Rastrigin needs 56
# registers (9 programs, 36 warps an SM, 36 kB of loads in flight); with 4096 it needed 245 (8 warps);
# float64 at 2048 spilled (255 registers), at 512 it needs 72.
TILE = {torch.float32: 1024, torch.float64: 512}

# family codes (optbench.kernels.fused.CODES), as constexprs for the kernels' static branches
SPHERE = tl.constexpr(0)
RASTRIGIN = tl.constexpr(1)
ELLIPSOID = tl.constexpr(2)
ACKLEY = tl.constexpr(3)
GRIEWANK = tl.constexpr(4)
SCHWEFEL = tl.constexpr(5)
ROSENBROCK = tl.constexpr(6)


@triton.jit
def _multiply(a, b):
    return a * b


@triton.jit
def div(a, b):
    """Correctly rounded ``a / b`` (float32 ``/`` is an approximate division in Triton; float64's is not)."""
    q = tl.div_rn(a, b) if a.dtype == tl.float32 else a / b
    return q


@triton.jit
def sqrt(a):
    """Correctly rounded square root (float32 ``tl.sqrt`` is approximate; float64's is not)."""
    r = tl.sqrt_rn(a) if a.dtype == tl.float32 else tl.sqrt(a)
    return r


@triton.jit
def terms(z, aux, c0, c1, FN: tl.constexpr):
    """One coordinate's contributions ``(a, b)`` to the row's sum ``A`` and its sum or product ``B``.

    ``z = x - shift``; ``aux`` is the coordinate's weight, ``sqrt(i)`` or sign; ``c0, c1`` the family's
    first constants. The operations are those of the eager ``_f``, in its order.
    """
    if FN == RASTRIGIN:
        a = z * z - c1 * tl.cos(c0 * z)
        b = a * 0
    elif FN == ELLIPSOID:
        a = (z * z) * aux
        b = a * 0
    elif FN == ACKLEY:
        a = z * z
        b = tl.cos(c0 * z)
    elif FN == GRIEWANK:
        a = z * z
        b = tl.cos(div(z, aux))
    elif FN == SCHWEFEL:
        s = z * aux  # x * signs (the shift is zero)
        a = s * tl.sin(sqrt(tl.abs(s)))
        b = a * 0
    else:  # SPHERE
        a = z * z
        b = a * 0
    return a, b


@triton.jit
def finish(A, B, c0, c1, c2, c3, c4, c5, FN: tl.constexpr):
    """The row's value from its accumulated ``A`` and ``B`` (the eager ``_f`` after its reductions)."""
    if FN == RASTRIGIN:
        f = c2 + A
    elif FN == ACKLEY:
        rms = sqrt(div(A, c1))
        f = c2 * tl.exp(c3 * rms) - tl.exp(div(B, c1)) + c4 + c5
    elif FN == GRIEWANK:
        f = c1 + div(A, c0) - B
    elif FN == SCHWEFEL:
        f = c0 - A
    else:  # SPHERE, ELLIPSOID, ROSENBROCK: the sum itself
        f = A
    return f


@triton.jit
def reduce_rows(acc_a, acc_b, FN: tl.constexpr):
    """Row sums of the ``(BLOCK_R, BLOCK)`` accumulators (a product for Griewank's ``B``)."""
    A = tl.sum(acc_a, axis=1)
    B = tl.reduce(acc_b, 1, _multiply) if FN == GRIEWANK else tl.sum(acc_b, axis=1)
    return A, B


@triton.jit
def _chunk(acc_a, acc_b, base, rmask, cols, D, shift_ptr, aux_ptr, c0, c1, FN: tl.constexpr):
    """Add the terms of columns ``cols`` (shape ``(BLOCK,)``) of the tile's rows to the accumulators."""
    cmask = cols < D
    valid = rmask[:, None] & cmask[None, :]
    x = tl.load(base + cols[None, :], mask=valid, other=0)
    shift = tl.load(shift_ptr + cols, mask=cmask, other=0)
    z = x - shift[None, :]
    if FN == ROSENBROCK:  # pairs (z_i, z_{i+1}) of z = x - shift + 1
        pair = rmask[:, None] & (cols[None, :] + 1 < D)
        x1 = tl.load(base + cols[None, :] + 1, mask=pair, other=0)
        shift1 = tl.load(shift_ptr + cols + 1, mask=cols + 1 < D, other=0)
        head = z + c1
        tail = (x1 - shift1[None, :]) + c1
        t = tail - head * head
        u = c1 - head
        acc_a += tl.where(pair, c0 * (t * t) + u * u, 0)
    else:
        aux = tl.load(aux_ptr + cols, mask=cmask, other=1)
        a, b = terms(z, aux[None, :], c0, c1, FN)
        acc_a += tl.where(valid, a, 0)
        acc_b = acc_b * tl.where(valid, b, 1) if FN == GRIEWANK else acc_b + tl.where(valid, b, 0)
    return acc_a, acc_b


@triton.jit
def _accumulators(like, BLOCK_R: tl.constexpr, BLOCK: tl.constexpr, FN: tl.constexpr):
    """Zeroed ``(BLOCK_R, BLOCK)`` accumulators in ``like``'s dtype (Griewank's product starts at one)."""
    acc_a = tl.zeros([BLOCK_R, BLOCK], dtype=like.dtype)
    acc_b = tl.zeros([BLOCK_R, BLOCK], dtype=like.dtype) + (1 if FN == GRIEWANK else 0)
    return acc_a, acc_b


@triton.jit(do_not_specialize=["n"])  # a last, smaller batch must not compile another variant
def _classic_kernel(x_ptr, out_ptr, shift_ptr, aux_ptr, cst_ptr, n, D, stride, D_MAIN,
                    FN: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr, TAIL: tl.constexpr):
    # full chunks of BLOCK_D columns up to D_MAIN, then one tail of TAIL >= D - D_MAIN columns: a row of
    # d = 100 is 3 x 32 + 4 lanes, not 128 lanes of which 28 idle (the terms cost as much as the load)
    pid = tl.program_id(0)
    rows = pid.to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < n
    c0 = tl.load(cst_ptr + 0)
    c1 = tl.load(cst_ptr + 1)
    base = x_ptr + rows[:, None] * stride
    acc_a, acc_b = _accumulators(c0, BLOCK_R, BLOCK_D, FN)
    for d0 in range(0, D_MAIN, BLOCK_D):
        acc_a, acc_b = _chunk(acc_a, acc_b, base, rmask, d0 + tl.arange(0, BLOCK_D), D, shift_ptr, aux_ptr, c0, c1,
                              FN)
    A, B = reduce_rows(acc_a, acc_b, FN)
    if TAIL > 0:
        tail_a, tail_b = _accumulators(c0, BLOCK_R, TAIL, FN)
        tail_a, tail_b = _chunk(tail_a, tail_b, base, rmask, D_MAIN + tl.arange(0, TAIL), D, shift_ptr, aux_ptr,
                                c0, c1, FN)
        A2, B2 = reduce_rows(tail_a, tail_b, FN)
        A += A2
        B = B * B2 if FN == GRIEWANK else B + B2
    f = finish(A, B, c0, c1, tl.load(cst_ptr + 2), tl.load(cst_ptr + 3), tl.load(cst_ptr + 4),
               tl.load(cst_ptr + 5), FN)
    tl.store(out_ptr + rows, f, mask=rmask)


def evaluate_classic(spec: ClassicSpec, X: torch.Tensor) -> torch.Tensor:
    """The fused kernel over ``X`` (shape ``(n, d)``, the spec's device and dtype) -> shape ``(n,)``."""
    X = as_kernel_input(X)
    n, d = X.shape
    out = torch.empty(n, device=X.device, dtype=X.dtype)
    if n == 0:
        return out
    block_d = CHUNK if d >= CHUNK else 0
    main = d - d % CHUNK if block_d else 0
    tail = next_pow2(max(d - main, 2)) if d > main else 0
    block_r = TILE[X.dtype] // max(block_d, tail)
    grid = (triton.cdiv(n, block_r),)
    _classic_kernel[grid](X, out, spec.shift, spec.aux, spec.consts, n, d, X.stride(0), main,
                          FN=spec.code, BLOCK_R=block_r, BLOCK_D=max(block_d, 2), TAIL=tail)
    return out
