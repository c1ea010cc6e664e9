"""The proof of work's SHA-256 on the CPU in C (``sha256_pow.c``): the batch hashed without Python objects.

``pow`` on the CPU calls :func:`pow_values` first and keeps its hashlib path where it returns ``None``
(no C compiler, ``OPTBENCH_KERNELS=eager``). Large batches are split between POSIX threads, as many as
torch may use (``torch.get_num_threads()``), each with at least :data:`ROWS_PER_THREAD` candidates;
ctypes releases the GIL for the call. The values equal hashlib's bit for bit (tests/test_native_sha256.py).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import torch

from optbench.kernels import native

ROWS_PER_THREAD = 8192  # below, starting a thread (~20-50 us) costs more than the hashes it takes over
_KINDS = {torch.float32: 1, torch.float64: 2}
_BOUND: dict[int, Callable[..., int]] = {}


def kernel() -> Callable[..., int] | None:
    """The C function, or ``None`` where it cannot be used."""
    if not native.enabled():
        return None
    lib = native.library("sha256_pow")
    if lib is None:
        return None
    if id(lib) not in _BOUND:
        fn = lib.pow_values
        p, i = ctypes.c_void_p, ctypes.c_int64
        fn.argtypes = [p, i, i, i, p, ctypes.c_int, ctypes.c_int, p, ctypes.c_int]
        fn.restype = ctypes.c_int
        _BOUND[id(lib)] = fn
    return _BOUND[id(lib)]


def digest_heads(bits: torch.Tensor, table: torch.Tensor) -> torch.Tensor | None:
    """The first 64 bits of each candidate's digest, as :func:`pow_values` computes it (int64 ``(m,)``
    holding the uint64 bits), or ``None``; what tests compare with known digests."""
    fn = kernel()
    if fn is None:
        return None
    bits = bits.to(torch.uint8).contiguous()
    out = torch.empty(bits.shape[0], dtype=torch.int64)
    fn(bits.data_ptr(), bits.shape[0], bits.shape[1], bits.shape[1], table.data_ptr(), 64, 3, out.data_ptr(), 1)
    return out


def pow_values(bits: torch.Tensor, table: torch.Tensor, *, k: int, dtype: torch.dtype,
               threads: int | None = None) -> torch.Tensor | None:
    """``max(k - leading zero bits of sha256(prefix || packbits(x)), 0)`` of CPU candidates, or ``None``.

    Args:
        bits: uint8 ``(m, n)``, ``n`` a multiple of 8 (nonzero is a one), on the CPU.
        table: :func:`optbench.kernels.sha256.pow_table` of the problem, on the CPU.
        k: the difficulty, ``1 <= k <= 64``.
        dtype: the values' dtype.
        threads: threads to hash on (default: torch's thread count, fewer for small batches).

    Returns:
        Values, shape ``(m,)``, ``dtype``; ``None`` where the C kernel is not available.
    """
    fn = kernel()
    if fn is None or bits.device.type != "cpu" or bits.dtype != torch.uint8:
        return None
    if bits.stride(1) != 1:
        bits = bits.contiguous()
    m, n = bits.shape
    if threads is None:
        threads = max(1, min(torch.get_num_threads(), m // ROWS_PER_THREAD))
    kind = _KINDS.get(dtype, 0)
    out = torch.empty(m, dtype=dtype if kind else torch.int32)
    args = (bits.data_ptr(), m, n, bits.stride(0), table.data_ptr(), k, kind, out.data_ptr())
    if fn(*args, threads) != 0:  # a thread could not start: all of it on this one
        fn(*args, 1)
    return out if kind else out.to(dtype)
