"""How the kernels lay out their work: block sizes, tiles, integer arguments, input strides."""

from __future__ import annotations

from typing import Any

import torch


def next_pow2(value: int) -> int:
    return 1 << max(value - 1, 0).bit_length()


def tile(dim: int, *, elements: int = 4096, widest: int = 128) -> tuple[int, int]:
    """``(BLOCK_R, BLOCK_D)`` for rows of ``dim`` coordinates: ~``elements`` per tile, at least 16 wide."""
    block_d = min(max(next_pow2(dim), 16), widest)
    return max(elements // block_d, 1), block_d


def split_int(value: int, pieces: int) -> list[int]:
    """``value`` as ``pieces`` 31-bit kernel arguments (always int32: no recompilation by magnitude)."""
    return [(value >> (31 * i)) & 0x7FFFFFFF for i in range(pieces)]


def as_kernel_input(X: torch.Tensor) -> Any:
    """``X`` with unit column stride (the kernels index ``row * stride + col``)."""
    return X if X.stride(1) == 1 else X.contiguous()
