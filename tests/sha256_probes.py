"""Launchers of the SHA-256 kernels that only the tests use: full digests and the leading-zero count alone.

They check the kernels' pieces against hashlib; the package itself launches only what
:mod:`optbench.kernels.sha256` offers.
"""

from __future__ import annotations

import torch

from optbench.kernels.sha256 import DEFAULT_CONFIG, as_int64_rows, check_rows, kwords


def pow_digests(bits: torch.Tensor, table: torch.Tensor, *, config: tuple[int, int] = DEFAULT_CONFIG) -> torch.Tensor:
    """The full SHA-256 digests of stored candidates as eight words each, int64 ``(m, 8)`` (tests compare them)."""
    from optbench.kernels import sha256_triton as kernels

    m, n = bits.shape
    check_rows(m)
    out = torch.empty(m, 8, dtype=torch.int64, device=bits.device)
    if m:
        block, warps = config
        kernels.pow_bits_kernel[(-(-m // block),)](as_int64_rows(bits), table, out, m, 1, NBITS=n, KWORDS=1,
                                                    DIGEST=True, BLOCK=block, num_warps=warps)
    return out


def leading_zero_values(words: torch.Tensor, *, k: int, block: int = 256) -> torch.Tensor:
    """The kernels' ``k - min(leading zeros, k)`` of digests given by their first two words.

    Args:
        words: int64 ``(m, 2)`` holding uint32 values.
        k: the difficulty, ``1 <= k <= 64``.

    Returns:
        int64 ``(m,)``.
    """
    from optbench.kernels import sha256_triton as kernels

    words = words.to(torch.int64).contiguous()
    m = words.shape[0]
    out = torch.empty(m, dtype=torch.int64, device=words.device)
    if m:
        kernels.leading_zeros_kernel[(-(-m // block),)](words, out, m, k, KWORDS=kwords(k), BLOCK=block)
    return out
