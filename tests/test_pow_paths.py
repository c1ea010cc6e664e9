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
