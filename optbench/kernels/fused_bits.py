"""Fused Triton kernels for the simple bit-string functions: OneMax, LeadingOnes, Needle, traps.

Each reads a tile of the ``(n, d)`` uint8 population once, XORs the instance mask, reduces every
row in int32 registers and writes the value in the problem dtype. Integer counts up to ``d`` are
exact in any float dtype here (``d < 2**24``), so the kernels equal the eager path bit for bit.
Imported only when a kernel runs (it imports triton); :func:`optbench.kernels.fused.use_kernel`
decides.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from optbench.kernels.layout import as_kernel_input, next_pow2, tile

ONEMAX, LEADINGONES, NEEDLE = 0, 1, 2
CODES = {"onemax": ONEMAX, "leadingones": LEADINGONES, "needle": NEEDLE}


@triton.jit(do_not_specialize=["n"])
def _bits_kernel(x_ptr, out_ptr, mask_ptr, n, D, stride,
                 FN: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < n
    # LeadingOnes: the first column holding a zero (d when none); OneMax: ones; Needle: columns off the needle
    acc = tl.zeros([BLOCK_R, BLOCK_D], dtype=tl.int32) + (D if FN == 1 else 0)
    base = x_ptr + rows[:, None] * stride
    for d0 in range(0, D, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        cmask = cols < D
        valid = rmask[:, None] & cmask[None, :]
        x = tl.load(base + cols[None, :], mask=valid, other=0).to(tl.int32)
        m = tl.load(mask_ptr + cols, mask=cmask, other=0).to(tl.int32)[None, :]
        if FN == 0:
            acc += tl.where(valid, x ^ m, 0)
        elif FN == 1:
            acc = tl.minimum(acc, tl.where(valid & ((x ^ m) == 0), cols[None, :], D))
        else:
            acc = tl.maximum(acc, tl.where(valid & (x != m), 1, 0))
    if FN == 0:
        value = D - tl.sum(acc, axis=1)
    elif FN == 1:
        value = D - tl.min(acc, axis=1)
    else:
        value = tl.max(acc, axis=1)
    tl.store(out_ptr + rows, value.to(out_ptr.dtype.element_ty), mask=rmask)


@triton.jit(do_not_specialize=["n"])
def _trap_kernel(x_ptr, out_ptr, mask_ptr, n, D, stride, K, BLOCKS,
                 BLOCK_R: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_K: tl.constexpr):
    # f = d - sum_b payoff(ones_b), payoff(o) = k if o == k else k - 1 - o
    #   = d - (blocks (k - 1) - ones + (k + 1) * full blocks)
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < n
    j = tl.arange(0, BLOCK_K)
    ones = tl.zeros([BLOCK_R, BLOCK_B], dtype=tl.int32)
    full = tl.zeros([BLOCK_R, BLOCK_B], dtype=tl.int32)
    for b0 in range(0, BLOCKS, BLOCK_B):
        b = b0 + tl.arange(0, BLOCK_B)
        bmask = b < BLOCKS
        cols = b[:, None] * K + j[None, :]  # (BLOCK_B, BLOCK_K)
        cmask = bmask[:, None] & (j[None, :] < K)
        valid = rmask[:, None, None] & cmask[None, :, :]
        x = tl.load(x_ptr + rows[:, None, None] * stride + cols[None, :, :], mask=valid, other=0).to(tl.int32)
        m = tl.load(mask_ptr + cols, mask=cmask, other=0).to(tl.int32)[None, :, :]
        bit = tl.where(valid, x ^ m, 0)
        block_ones = tl.sum(bit, axis=2)
        ones += block_ones
        full += tl.where(bmask[None, :] & (block_ones == K), 1, 0)
    value = D - (BLOCKS * (K - 1) - tl.sum(ones, axis=1) + (K + 1) * tl.sum(full, axis=1))
    tl.store(out_ptr + rows, value.to(out_ptr.dtype.element_ty), mask=rmask)


def evaluate_bits(family: str, X: torch.Tensor, mask: torch.Tensor | None, *, dtype: torch.dtype,
                  k: int | None = None) -> torch.Tensor:
    """A bit-string function over ``X`` (uint8, shape ``(n, d)``) -> shape ``(n,)`` in ``dtype``.

    Args:
        family: ``onemax``, ``leadingones``, ``needle`` or ``trap``.
        X: the population, 0/1 values.
        mask: shape ``(d,)`` uint8: the instance's XOR mask (``None``: none); for Needle, the needle.
        dtype: the values' dtype (the problem's).
        k: the trap's block length.
    """
    X = as_kernel_input(X)
    n, d = X.shape
    out = torch.empty(n, device=X.device, dtype=dtype)
    if n == 0:
        return out
    if mask is None:
        mask = torch.zeros(d, device=X.device, dtype=torch.uint8)
    if family == "trap":
        assert k is not None
        block_k = next_pow2(k)
        block_b = max(min(next_pow2(d // k), 128 // block_k), 1)
        block_r = max(1024 // (block_b * block_k), 1)
        _trap_kernel[(triton.cdiv(n, block_r),)](X, out, mask, n, d, X.stride(0), k, d // k,
                                                 BLOCK_R=block_r, BLOCK_B=block_b, BLOCK_K=block_k)
        return out
    block_r, block_d = tile(d, elements=1024, widest=128)  # 8 a thread (ptxas: 8192 needed 255 registers)
    _bits_kernel[(triton.cdiv(n, block_r),)](X, out, mask, n, d, X.stride(0),
                                             FN=CODES[family], BLOCK_R=block_r, BLOCK_D=block_d)
    return out
