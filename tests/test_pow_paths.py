"""The proof of work's CPU path (hashlib per candidate) and its batched torch path agree bit for bit."""

from __future__ import annotations

import pytest
import torch

from optbench.problems.crypto import leading_zero_bits
from optbench.registry import make_problem


@pytest.mark.parametrize(("n", "k"), [(8, 1), (64, 12), (64, 64), (312, 30)])
def test_hashlib_and_torch_paths_give_identical_values(n, k):
    problem = make_problem("pow", {"n": n, "k": k}, instance=3)
    X = torch.randint(0, 2, (3000, n), generator=torch.Generator().manual_seed(n + k), dtype=torch.uint8)
    torch_path = (k - leading_zero_bits(problem.digest(X), limit=k)).to(problem.dtype)
    cpu_path = problem.evaluate(X)  # on the CPU, evaluate takes the hashlib path
    assert torch.equal(cpu_path, torch_path)
    assert cpu_path.dtype == problem.dtype and cpu_path.shape == (3000,)
    assert len(set(cpu_path.tolist())) > 1 or k == 1  # values vary: the comparison is not vacuous


def test_leading_zeros64_counts_every_width():
    import numpy as np

    from optbench.problems.crypto import leading_zeros64

    gen = np.random.default_rng(0)
    heads = [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1] + [int(gen.integers(1, 2**63)) >> int(s) for s in range(64)]
    got = leading_zeros64(np.array(heads, dtype=np.uint64).astype(">u8"))
    assert got.tolist() == [64 - h.bit_length() for h in heads]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_path_equals_a_plain_hashlib_loop(dtype):
    import hashlib

    import numpy as np

    from optbench.problems.crypto import HASH_CHUNK, ProofOfWork

    problem = ProofOfWork(n=96, k=40, instance=2, dtype=dtype)
    X = torch.randint(0, 2, (2 * HASH_CHUNK + 5, 96), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    prefix = bytes(problem.prefix.tolist())
    heads = [int.from_bytes(hashlib.sha256(prefix + row.tobytes()).digest()[:8], "big")
             for row in np.packbits(X.numpy(), axis=1)]
    want = torch.tensor([max(40 - (64 - h.bit_length()), 0) for h in heads], dtype=dtype)
    got = problem.evaluate(X)
    assert got.dtype == dtype and torch.equal(got, want)
