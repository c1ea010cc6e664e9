"""The proof of work's SHA-256 on a device: the host side of :mod:`optbench.kernels.sha256_triton`.

``pow`` builds its :func:`pow_table` once; :func:`pow_values` hashes stored candidates,
:func:`pow_uniform_values` draws and hashes in one pass, :func:`uniform_bits` redraws any rows of
such a draw. Triton is imported only when a kernel is launched, so this module costs nothing
where Triton is missing; :func:`runs_on` says whether a kernel can run on a device (CUDA, or the
CPU under Triton's interpreter, ``TRITON_INTERPRET=1``, which is how the tests run it without a GPU).
``OPTBENCH_KERNELS=eager`` (see :mod:`optbench.kernels.fused`) turns the kernels off.

Launch configuration: ``BLOCK`` candidates per program and ``num_warps``; the default (256, 4)
gives each thread two independent hashes to interleave. The GPU benchmark times the alternatives.
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
TABLE_SIZE = 96
PREFIX_WORDS = 4  # the 16-byte prefix: the first four rounds are the same for every candidate
DEFAULT_CONFIG = (256, 4)  # (BLOCK, num_warps)
CONFIGS = ((128, 4), (256, 4), (1024, 8))  # what the GPU benchmark compares

# SHA-256's round constants and initial hash value (FIPS 180-4, sections 4.2.2 and 5.3.3)
K = [
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
]
H0 = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]


def runs_on(device: torch.device) -> bool:
    """Whether the kernels can run on ``device``: Triton installed and not turned off, and a CUDA
    device or the CPU under ``TRITON_INTERPRET=1``."""
    from optbench.kernels.fused import mode, triton_runs_on

    # OPTBENCH_KERNELS is shared with the fused kernels (a bad value is a ConfigError)
    return mode() != "eager" and triton_runs_on(device)


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & MASK32


def _rounds(state: list[int], words: list[int], first: int) -> list[int]:
    """SHA-256 rounds ``first .. first+len(words)-1`` on Python ints (the host's midstate)."""
    a, b, c, d, e, f, g, h = state
    for t, w in enumerate(words, start=first):
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w) & MASK32
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & MASK32
        a, b, c, d, e, f, g, h = (t1 + t2) & MASK32, a, b, c, (d + t1) & MASK32, e, f, g
    return [a, b, c, d, e, f, g, h]


def pow_table(prefix: bytes, n_bits: int, *, device: torch.device | str = "cpu") -> torch.Tensor:
    """What every candidate's hash shares, as the kernels read it.

    Args:
        prefix: the problem's 16-byte prefix.
        n_bits: the candidate's length ``n`` in bits (a multiple of 8, at most ``8 * (55 - 16)``).
        device: where the kernels run.

    Returns:
        int32 tensor of shape ``(96,)`` holding uint32 words: the message words with the
        candidate's bits zero (16), the state after the four prefix rounds (8), ``K`` (64), ``H0`` (8).
    """
    if len(prefix) != 4 * PREFIX_WORDS or n_bits % 8 or not 8 <= n_bits <= 8 * (55 - len(prefix)):
        raise ValueError(f"pow_table needs a 16-byte prefix and 8 <= n_bits <= {8 * 39}, a multiple of 8")
    length = len(prefix) + n_bits // 8
    block = prefix + bytes(n_bits // 8) + b"\x80" + bytes(55 - length) + (8 * length).to_bytes(8, "big")
    words = [int.from_bytes(block[4 * i : 4 * i + 4], "big") for i in range(16)]
    midstate = _rounds(list(H0), words[:PREFIX_WORDS], 0)
    table = words + midstate + list(K) + list(H0)
    signed = [w - (1 << 32) if w >= 1 << 31 else w for w in table]
    return torch.tensor(signed, dtype=torch.int32, device=device)


def kwords(k: int) -> int:
    if not 1 <= k <= 64:
        raise ValueError(f"k must be between 1 and 64, got {k}")
    return 1 if k <= 32 else 2


def as_int64_rows(bits: torch.Tensor) -> torch.Tensor:
    """uint8 ``(m, n)`` bits as int64 ``(m, n/8)``: 8 bits per load (the kernel packs them)."""
    bits = bits.to(torch.uint8).contiguous()
    if bits.storage_offset() % 8:
        bits = bits.clone()
    return bits.view(torch.int64)


def pow_values(bits: torch.Tensor, table: torch.Tensor, *, k: int, dtype: torch.dtype,
               config: tuple[int, int] = DEFAULT_CONFIG) -> torch.Tensor:
    """``max(k - leading zero bits of sha256(prefix || bytes(x)), 0)`` of stored candidates.

    Args:
        bits: candidates, 0/1, shape ``(m, n)`` with ``n`` a multiple of 8, on the table's device.
        table: :func:`pow_table` of the problem.
        k: the difficulty, ``1 <= k <= 64``.
        dtype: the values' dtype.
        config: ``(BLOCK, num_warps)``.

    Returns:
        Values, shape ``(m,)``, ``dtype``.
    """
    from optbench.kernels import sha256_triton as kernels

    m, n = bits.shape
    out = torch.empty(m, dtype=dtype, device=bits.device)
    rows, (block, warps) = as_int64_rows(bits), config
    for lo in range(0, m, MAX_ROWS):  # one launch unless the batch outgrows int32 row numbers
        size = min(MAX_ROWS, m - lo)
        kernels.pow_bits_kernel[(-(-size // block),)](rows[lo:], table, out[lo:], size, k, NBITS=n,
                                                      KWORDS=kwords(k), DIGEST=False, BLOCK=block, num_warps=warps)
    return out


MAX_ROWS = (1 << 31) - (1 << 16)  # a kernel numbers its rows in int32


def check_rows(count: int) -> None:
    if count > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} candidates per kernel call, got {count}: split the batch")


def _check_draw(count: int, seed: int, offset: int) -> None:
    if count < 0 or not 0 <= seed < 1 << 64 or offset < 0 or offset + count > 1 << 64:
        raise ValueError(f"a draw needs count >= 0, 0 <= seed < 2^64 and 0 <= offset <= 2^64 - count, "
                         f"got count={count}, seed={seed}, offset={offset}")


def pow_uniform_values(count: int, table: torch.Tensor, *, n_bits: int, k: int, seed: int, offset: int,
                       dtype: torch.dtype, config: tuple[int, int] = DEFAULT_CONFIG) -> torch.Tensor:
    """Values of rows ``0 .. count-1`` of the uniform draw ``(seed, offset)``, never stored.

    Args:
        count: how many candidates.
        table: :func:`pow_table` of the problem (its device is where the kernel runs).
        n_bits: ``n``.
        k: the difficulty.
        seed: the Philox key, ``0 <= seed < 2^64``.
        offset: the first row's counter; row ``r`` is counter ``offset + r``.
        dtype: the values' dtype.
        config: ``(BLOCK, num_warps)``.

    Returns:
        Values, shape ``(count,)``, equal to :func:`pow_values` of :func:`uniform_bits` of the same rows.
    """
    from optbench.kernels import sha256_triton as kernels

    _check_draw(count, seed, offset)
    out = torch.empty(count, dtype=dtype, device=table.device)
    block, warps = config
    for lo in range(0, count, MAX_ROWS):  # one launch unless the draw outgrows int32 row numbers
        size = min(MAX_ROWS, count - lo)
        kernels.pow_uniform_kernel[(-(-size // block),)](table, out[lo:], size, seed, offset + lo, k, NBITS=n_bits,
                                                         KWORDS=kwords(k), BLOCK=block, num_warps=warps)
    return out


def uniform_bits(rows: torch.Tensor, *, n_bits: int, seed: int, offset: int, block: int = 128) -> torch.Tensor:
    """The candidates of rows ``rows`` of the draw ``(seed, offset)``.

    Args:
        rows: int64 ``(r,)``, each ``>= 0``, on the device where the kernel runs.
        n_bits: ``n``.
        seed, offset: the draw (see :func:`pow_uniform_values`).

    Returns:
        uint8 0/1, shape ``(r, n_bits)``.
    """
    from optbench.kernels import sha256_triton as kernels

    rows = rows.to(torch.int64).contiguous()
    count = rows.shape[0]
    check_rows(count)
    _check_draw(0, seed, offset)
    out = torch.empty(count, n_bits, dtype=torch.uint8, device=rows.device)
    if count:
        kernels.uniform_bits_kernel[(-(-count // block),)](rows, out, count, seed, offset, NBITS=n_bits, BLOCK=block)
    return out
