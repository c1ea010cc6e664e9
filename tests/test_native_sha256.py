"""The proof of work's C SHA-256 (optbench.kernels.sha256_native) against FIPS 180-4 digests, hashlib and
the torch rounds; and the hashlib path where the C kernel is off or cannot be built."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest
import torch

from optbench.kernels import native, sha256, sha256_native
from optbench.problems.crypto import ProofOfWork, leading_zero_bits
from optbench.registry import make_problem

NATIVE = pytest.mark.skipif(native.compiler() is None, reason="no C compiler")


def _table_for(message: bytes) -> torch.Tensor:
    """The kernel's table for one whole message of at most 55 bytes, hashed with no candidate bits."""
    block = message + b"\x80" + bytes(55 - len(message)) + (8 * len(message)).to_bytes(8, "big")
    words = [int.from_bytes(block[4 * i : 4 * i + 4], "big") for i in range(16)]
    table = words + sha256._rounds(list(sha256.H0), words[:4], 0) + list(sha256.K) + list(sha256.H0)
    return torch.tensor([w - (1 << 32) if w >= 1 << 31 else w for w in table], dtype=torch.int32)


def _head(bits: torch.Tensor, table: torch.Tensor) -> str:
    heads = sha256_native.digest_heads(bits, table)
    assert heads is not None
    return f"{int(heads[0]) & (2**64 - 1):016x}"


@NATIVE
@pytest.mark.parametrize(("message", "digest"), [
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),  # FIPS 180-4 example
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"The quick brown fox jumps over the lazy dog",
     "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
])
def test_known_digests_through_the_kernel(message, digest):
    assert _head(torch.zeros(1, 0, dtype=torch.uint8), _table_for(message)) == digest[:16]
    if len(message) >= 17:  # the same message as a 16-byte prefix and candidate bits: the kernel packs them
        bits = torch.from_numpy(np.unpackbits(np.frombuffer(message[16:], dtype=np.uint8))).reshape(1, -1)
        assert _head(bits * 7, sha256.pow_table(message[:16], bits.shape[1])) == digest[:16]  # nonzero is one


@NATIVE
@pytest.mark.parametrize(("n", "k", "dtype"), [(8, 1, torch.float64), (64, 20, torch.float32), (64, 64, torch.float64),
                                               (312, 33, torch.float32), (96, 40, torch.float16)])
def test_kernel_equals_hashlib_and_the_torch_rounds(n, k, dtype):
    problem = ProofOfWork(n=n, k=k, instance=4, dtype=dtype)
    X = torch.randint(0, 2, (2 * sha256_native.ROWS_PER_THREAD + 37, n), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(n))
    prefix = bytes(problem.prefix.tolist())
    heads = [int.from_bytes(hashlib.sha256(prefix + row.tobytes()).digest()[:8], "big")
             for row in np.packbits(X.numpy(), axis=1)]
    want = torch.tensor([max(k - (64 - h.bit_length()), 0) for h in heads], dtype=dtype)
    for threads in (1, 2, 3):
        got = sha256_native.pow_values(X, problem.cpu_table, k=k, dtype=dtype, threads=threads)
        assert got is not None and got.dtype == dtype and torch.equal(got, want)
    assert torch.equal(problem.evaluate(X), want)  # evaluate takes the kernel on the CPU
    small = X[:500]
    assert torch.equal((k - leading_zero_bits(problem.digest(small), limit=k)).to(dtype), want[:500])
    assert torch.equal(problem.evaluate(X[:, :].T.contiguous().T), want)  # column-major rows


def test_eager_and_a_missing_compiler_keep_the_hashlib_path(monkeypatch, tmp_path, caplog):
    problem = make_problem("pow", {"n": 64, "k": 16}, instance=2)
    X = torch.randint(0, 2, (3000, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    reference = problem._evaluate_hashlib(X)
    monkeypatch.setenv("OPTBENCH_KERNELS", "eager")
    assert sha256_native.kernel() is None and sha256_native.pow_values(X, problem.cpu_table, k=16,
                                                                       dtype=problem.dtype) is None
    assert torch.equal(problem.evaluate(X), reference)
    monkeypatch.setenv("OPTBENCH_KERNELS", "auto")
    monkeypatch.setenv(native.CACHE_ENV, str(tmp_path / "fresh"))
    monkeypatch.setenv(native.CC_ENV, str(tmp_path / "missing-cc"))
    with caplog.at_level(logging.DEBUG, logger="optbench.kernels.native"):
        assert sha256_native.kernel() is None
        assert torch.equal(problem.evaluate(X), reference)
    assert "no C compiler" in caplog.text and not (tmp_path / "fresh").exists()
