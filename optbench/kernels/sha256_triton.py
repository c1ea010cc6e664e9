"""Triton kernels of the proof of work (``pow``): SHA-256 of one 64-byte block per candidate.

The message of a candidate is ``prefix (16 bytes) || x (n/8 bytes) || 0x80 || 0 ... || length``,
sixteen big-endian 32-bit words: words 0-3 are the prefix, words 4 .. 4+ceil(n/32)-1 carry the
candidate's bits (bit ``j`` of ``x`` is bit ``31 - j % 32`` of word ``4 + j // 32``), and the rest
are the padding and the length. Everything but the candidate's bits is the same for every
candidate, so the host passes it once per problem in a small table (:func:`optbench.kernels.sha256.pow_table`):

* ``table[0:16]``: the message words with the candidate's bits zero;
* ``table[16:24]``: the state after the first four rounds, which read only the prefix words;
* ``table[24:88]``: the round constants ``K``; ``table[88:96]``: the initial hash ``H0``.

Rounds 4-63 are unrolled at compile time (``tl.static_range``) over a sliding window of the
sixteen most recent schedule words, in uint32 arithmetic: additions wrap, rotations are shifts
and ors. Nothing is approximated, so a kernel is bit-exact with ``hashlib`` or wrong; the tests
compare them candidate by candidate.

Uniform draws (:func:`pow_uniform_kernel`, :func:`uniform_bits_kernel`) take the candidate words from
Philox-4x32-10 keyed by the 64-bit ``seed``, counter ``(row lo, row hi, group, 0)`` with
``row = offset + r``: four words per call, so row ``r`` depends on ``(seed, offset + r)`` alone.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _u32(table_ptr, i: tl.constexpr):
    return tl.load(table_ptr + i).to(tl.uint32, bitcast=True)


@triton.jit
def _rotr(x, n: tl.constexpr):
    return (x >> n) | (x << (32 - n))


@triton.jit
def _clz(x):
    """Leading zero bits of uint32 ``x`` (32 for 0), by halving the window five times."""
    n = tl.zeros(x.shape, tl.int32)
    for s in tl.static_range(5):  # windows of 16, 8, 4, 2, 1 bits
        top = (x >> (32 - (16 >> s))) == 0
        n += tl.where(top, 16 >> s, 0)
        x = tl.where(top, x << (16 >> s), x)
    return n + (x == 0).to(tl.int32)


@triton.jit
def _values(d0, d1, k, KWORDS: tl.constexpr):
    """``k - min(leading zero bits of the digest, k)`` from its first two words (int32)."""
    zeros = _clz(d0)
    if KWORDS == 2:
        zeros += tl.where(d0 == 0, _clz(d1), 0)
    return k - tl.minimum(zeros, k)


@triton.jit
def _compress(w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15, table_ptr):
    """Rounds 4-63 from the table's midstate over the message words ``w0 .. w15``; the digest's 8 words."""
    a = _u32(table_ptr, 16)
    b = _u32(table_ptr, 17)
    c = _u32(table_ptr, 18)
    d = _u32(table_ptr, 19)
    e = _u32(table_ptr, 20)
    f = _u32(table_ptr, 21)
    g = _u32(table_ptr, 22)
    h = _u32(table_ptr, 23)
    for t in tl.static_range(64):
        if t >= 4:  # rounds 0-3 read only the prefix: the midstate holds them
            t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + (g ^ (e & (f ^ g))) + _u32(table_ptr, 24 + t) + w0
            t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) | (c & (a | b)))
            h = g
            g = f
            f = e
            e = d + t1
            d = c
            c = b
            b = a
            a = t1 + t2
        if t < 48:  # the window slides on: w0 becomes W[t + 1], w15 the new W[t + 16]
            s0 = _rotr(w1, 7) ^ _rotr(w1, 18) ^ (w1 >> 3)
            s1 = _rotr(w14, 17) ^ _rotr(w14, 19) ^ (w14 >> 10)
            new = w0 + s0 + w9 + s1
        else:
            new = w0
        w0, w1, w2, w3, w4, w5, w6, w7 = w1, w2, w3, w4, w5, w6, w7, w8
        w8, w9, w10, w11, w12, w13, w14, w15 = w9, w10, w11, w12, w13, w14, w15, new
    return (a + _u32(table_ptr, 88), b + _u32(table_ptr, 89), c + _u32(table_ptr, 90), d + _u32(table_ptr, 91),
            e + _u32(table_ptr, 92), f + _u32(table_ptr, 93), g + _u32(table_ptr, 94), h + _u32(table_ptr, 95))


# ------------------------------------------------------------------ stored bit strings


@triton.jit
def _bits_word(row_ptr, live, table_ptr, i: tl.constexpr, NBITS: tl.constexpr):
    """Message word ``i``: the table's word, or'ed with the candidate's bits where word ``i`` holds some.

    ``row_ptr`` points at each candidate's bits read as int64 (8 bits, one per byte, per load):
    ``(v & 0x01..01) * 0x8040201008040201 >> 56`` packs the 8 bytes into one byte, first bit highest
    (the product's partial sums fall on distinct bit positions, so nothing carries into the top byte).
    """
    word = _u32(table_ptr, i) + tl.zeros(live.shape, tl.uint32)
    q: tl.constexpr = i - 4
    if q >= 0:
        for part in tl.static_range(4):
            if 4 * q + part < NBITS // 8:
                v = tl.load(row_ptr + (4 * q + part), mask=live, other=0).to(tl.uint64, bitcast=True)
                v = v & tl.full([], 0x0101010101010101, tl.uint64)
                byte = ((v * tl.full([], 0x8040201008040201, tl.uint64)) >> 56).to(tl.uint32)
                word = word | (byte << (24 - 8 * part))
    return word


@triton.jit
def pow_bits_kernel(x_ptr, table_ptr, out_ptr, m, k, NBITS: tl.constexpr, KWORDS: tl.constexpr,
                    DIGEST: tl.constexpr, BLOCK: tl.constexpr):
    """Values (or, with ``DIGEST``, the 8 digest words) of ``m`` stored candidates.

    Args:
        x_ptr: the candidates' bits as int64, ``NBITS // 8`` per row (a uint8 ``(m, NBITS)`` tensor viewed).
        table_ptr: the problem's table, int32 ``(96,)``.
        out_ptr: ``(m,)`` values in the problem dtype, or int64 ``(m, 8)`` digest words with ``DIGEST``.
    """
    r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = r < m
    row_ptr = x_ptr + r.to(tl.int64) * (NBITS // 8)
    w0 = _bits_word(row_ptr, live, table_ptr, 0, NBITS)
    w1 = _bits_word(row_ptr, live, table_ptr, 1, NBITS)
    w2 = _bits_word(row_ptr, live, table_ptr, 2, NBITS)
    w3 = _bits_word(row_ptr, live, table_ptr, 3, NBITS)
    w4 = _bits_word(row_ptr, live, table_ptr, 4, NBITS)
    w5 = _bits_word(row_ptr, live, table_ptr, 5, NBITS)
    w6 = _bits_word(row_ptr, live, table_ptr, 6, NBITS)
    w7 = _bits_word(row_ptr, live, table_ptr, 7, NBITS)
    w8 = _bits_word(row_ptr, live, table_ptr, 8, NBITS)
    w9 = _bits_word(row_ptr, live, table_ptr, 9, NBITS)
    w10 = _bits_word(row_ptr, live, table_ptr, 10, NBITS)
    w11 = _bits_word(row_ptr, live, table_ptr, 11, NBITS)
    w12 = _bits_word(row_ptr, live, table_ptr, 12, NBITS)
    w13 = _bits_word(row_ptr, live, table_ptr, 13, NBITS)
    w14 = _bits_word(row_ptr, live, table_ptr, 14, NBITS)
    w15 = _bits_word(row_ptr, live, table_ptr, 15, NBITS)
    d0, d1, d2, d3, d4, d5, d6, d7 = _compress(w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13,
                                               w14, w15, table_ptr)
    if DIGEST:
        out = out_ptr + r.to(tl.int64) * 8
        tl.store(out + 0, d0.to(tl.int64), mask=live)
        tl.store(out + 1, d1.to(tl.int64), mask=live)
        tl.store(out + 2, d2.to(tl.int64), mask=live)
        tl.store(out + 3, d3.to(tl.int64), mask=live)
        tl.store(out + 4, d4.to(tl.int64), mask=live)
        tl.store(out + 5, d5.to(tl.int64), mask=live)
        tl.store(out + 6, d6.to(tl.int64), mask=live)
        tl.store(out + 7, d7.to(tl.int64), mask=live)
    else:
        values = _values(d0, d1, k, KWORDS)
        tl.store(out_ptr + r, values.to(out_ptr.dtype.element_ty), mask=live)


@triton.jit
def leading_zeros_kernel(words_ptr, out_ptr, m, k, KWORDS: tl.constexpr, BLOCK: tl.constexpr):
    """``k - min(leading zeros, k)`` of ``m`` digests given by their first two words (int64 ``(m, 2)``)."""
    r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = r < m
    d0 = tl.load(words_ptr + 2 * r, mask=live, other=0).to(tl.uint32)
    d1 = tl.load(words_ptr + 2 * r + 1, mask=live, other=0).to(tl.uint32)
    tl.store(out_ptr + r, _values(d0, d1, k, KWORDS).to(tl.int64), mask=live)


# ------------------------------------------------------------------ uniform draws


@triton.jit
def _trim(word, q: tl.constexpr, NBITS: tl.constexpr):
    """Candidate word ``q`` of a draw: all 32 bits inside ``x``, the top ones of a last partial word, or 0."""
    if 32 * (q + 1) <= NBITS:
        return word
    elif 32 * q < NBITS:
        shift: tl.constexpr = 32 * (q + 1) - NBITS
        return (word >> shift) << shift
    else:
        return tl.zeros_like(word)


@triton.jit
def _random_words(seed, offset, r, NBITS: tl.constexpr):
    """The ten candidate words (unused ones 0) of rows ``r`` of the draw ``(seed, offset)``."""
    counter = r.to(tl.uint64) + offset.to(tl.uint64)
    lo = (counter & 0xFFFFFFFF).to(tl.uint32)
    hi = (counter >> 32).to(tl.uint32)
    z = tl.zeros_like(lo)
    q0, q1, q2, q3 = tl.philox(seed, lo, hi, z, z)
    if NBITS > 128:
        q4, q5, q6, q7 = tl.philox(seed, lo, hi, z + 1, z)
    else:
        q4, q5, q6, q7 = z, z, z, z
    if NBITS > 256:
        q8, q9, _, _ = tl.philox(seed, lo, hi, z + 2, z)
    else:
        q8, q9 = z, z
    return (_trim(q0, 0, NBITS), _trim(q1, 1, NBITS), _trim(q2, 2, NBITS), _trim(q3, 3, NBITS),
            _trim(q4, 4, NBITS), _trim(q5, 5, NBITS), _trim(q6, 6, NBITS), _trim(q7, 7, NBITS),
            _trim(q8, 8, NBITS), _trim(q9, 9, NBITS))


@triton.jit(do_not_specialize=["count", "seed", "offset"])
def pow_uniform_kernel(table_ptr, out_ptr, count, seed, offset, k, NBITS: tl.constexpr, KWORDS: tl.constexpr,
                       BLOCK: tl.constexpr):
    """Values of rows ``0 .. count-1`` of the draw ``(seed, offset)``, drawn and hashed in registers."""
    r = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = r < count
    q0, q1, q2, q3, q4, q5, q6, q7, q8, q9 = _random_words(seed, offset, r, NBITS)
    d0, d1, _, _, _, _, _, _ = _compress(
        _u32(table_ptr, 0) + tl.zeros_like(q0), _u32(table_ptr, 1) + tl.zeros_like(q0),
        _u32(table_ptr, 2) + tl.zeros_like(q0), _u32(table_ptr, 3) + tl.zeros_like(q0),
        _u32(table_ptr, 4) | q0, _u32(table_ptr, 5) | q1, _u32(table_ptr, 6) | q2, _u32(table_ptr, 7) | q3,
        _u32(table_ptr, 8) | q4, _u32(table_ptr, 9) | q5, _u32(table_ptr, 10) | q6, _u32(table_ptr, 11) | q7,
        _u32(table_ptr, 12) | q8, _u32(table_ptr, 13) | q9,
        _u32(table_ptr, 14) + tl.zeros_like(q0), _u32(table_ptr, 15) + tl.zeros_like(q0), table_ptr)
    tl.store(out_ptr + r, _values(d0, d1, k, KWORDS).to(out_ptr.dtype.element_ty), mask=live)


@triton.jit
def _store_bits(out_row, live, word, q: tl.constexpr, NBITS: tl.constexpr):
    """Candidate word ``q`` as 32 bits, one uint8 0/1 each, first bit from the top, into the rows' columns."""
    if 32 * q < NBITS:
        col = tl.arange(0, 32)
        bits = ((word[:, None] >> (31 - col)[None, :]) & 1).to(tl.uint8)
        tl.store(out_row[:, None] + (32 * q + col)[None, :], bits, mask=live[:, None] & (32 * q + col < NBITS)[None, :])


@triton.jit(do_not_specialize=["count", "seed", "offset"])
def uniform_bits_kernel(rows_ptr, out_ptr, count, seed, offset, NBITS: tl.constexpr, BLOCK: tl.constexpr):
    """The bits (uint8 ``(count, NBITS)``) of the rows ``rows_ptr[0 .. count-1]`` (int64) of the draw."""
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = i < count
    r = tl.load(rows_ptr + i, mask=live, other=0)
    q0, q1, q2, q3, q4, q5, q6, q7, q8, q9 = _random_words(seed, offset, r, NBITS)
    out_row = out_ptr + i.to(tl.int64) * NBITS
    _store_bits(out_row, live, q0, 0, NBITS)
    _store_bits(out_row, live, q1, 1, NBITS)
    _store_bits(out_row, live, q2, 2, NBITS)
    _store_bits(out_row, live, q3, 3, NBITS)
    _store_bits(out_row, live, q4, 4, NBITS)
    _store_bits(out_row, live, q5, 5, NBITS)
    _store_bits(out_row, live, q6, 6, NBITS)
    _store_bits(out_row, live, q7, 7, NBITS)
    _store_bits(out_row, live, q8, 8, NBITS)
    _store_bits(out_row, live, q9, 9, NBITS)
