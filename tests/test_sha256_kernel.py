"""The proof of work's Triton kernels are bit-exact with hashlib, and its uniform draw is what it says.

The kernel checks are marked ``gpu`` and run on CUDA where there is one. Without a GPU,
:func:`test_kernels_under_the_interpreter` reruns them in a child process with ``TRITON_INTERPRET=1``
(set before anything imports triton; a pytest-xdist worker or a parent that already imported triton
cannot switch), where the same kernels run on CPU tensors through Triton's interpreter, on small
batches: it executes every kernel operation in NumPy, about a second per program of a few hundred rows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os

import numpy as np
import pytest
import sha256_probes
import torch
from interpreted import run_interpreted

from optbench.api import Capability, Unsupported
from optbench.kernels import sha256
from optbench.kernels.sha256 import H0 as _H0
from optbench.kernels.sha256 import K as _K
from optbench.problems.crypto import ProofOfWork, leading_zero_bits
from optbench.registry import make_optimizer, make_problem

HAVE_TRITON = importlib.util.find_spec("triton") is not None
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cpu" if INTERPRETED else ("cuda" if torch.cuda.is_available() else None)
ROWS = 256 if INTERPRETED else 50_000  # one program per launch under the interpreter
N_MAX = 8 * (55 - 16)
if INTERPRETED:  # every n and every k once, both one- and two-word leading-zero counts
    VALUE_CASES = [(8, 1), (64, 20), (N_MAX, 33), (64, 64)]
    UNIFORM_CASES = [(8, 64), (64, 33), (N_MAX, 20)]
else:
    VALUE_CASES = [(n, k) for n in (8, 64, N_MAX) for k in (1, 20, 33, 64)]
    UNIFORM_CASES = VALUE_CASES



def kernel_check(fn):
    """Mark a kernel check: ``gpu``, run on CUDA or, in the interpreter's child process, on the CPU."""
    fn = pytest.mark.skipif(DEVICE is None, reason="needs a CUDA GPU (without one, test_kernels_under_the_interpreter "
                                                   "runs these checks through Triton's interpreter)")(fn)
    fn = pytest.mark.skipif(not HAVE_TRITON, reason="triton is not installed (pip install 'optbench[test]')")(fn)
    return pytest.mark.gpu(fn)


def on_cuda(fn):
    """Mark a check that only means something on CUDA (the interpreter's child leaves it out by name)."""
    fn = pytest.mark.skipif(DEVICE != "cuda" or not HAVE_TRITON, reason="needs a CUDA GPU and triton")(fn)
    return pytest.mark.gpu(fn)


def hashlib_words(prefix: bytes, X: torch.Tensor) -> torch.Tensor:
    """SHA-256 of ``prefix || packbits(x)`` for each row by hashlib, as eight big-endian words; int64 ``(m, 8)``."""
    digests = b"".join(hashlib.sha256(prefix + row.tobytes()).digest() for row in np.packbits(X.cpu().numpy(), axis=1))
    return torch.from_numpy(np.frombuffer(digests, dtype=">u4").astype(np.int64).reshape(-1, 8))


def hashlib_values(prefix: bytes, X: torch.Tensor, k: int) -> torch.Tensor:
    """``max(k - leading zero bits, 0)`` from hashlib's digests, counted on Python ints; int64 ``(m,)``."""
    words = hashlib_words(prefix, X)
    heads = [(int(a) << 32) | int(b) for a, b in words[:, :2].tolist()]
    return torch.tensor([k - min(64 - h.bit_length(), k) for h in heads], dtype=torch.int64)


def bits(rows: int, n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 2, (rows, n), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


# ------------------------------------------------------------------ host side (no triton needed)


@pytest.mark.parametrize("n", [8, 64, N_MAX])
def test_the_table_finishes_into_hashlibs_digest(n):
    """The kernels' constants are right: 60 more rounds from the table's midstate over its message words
    (the candidate all zero) give hashlib's digest of ``prefix || zeros``, here in plain Python."""
    problem = ProofOfWork(n=n, k=1, instance=2)
    prefix = bytes(problem.prefix.tolist())
    table = [w & 0xFFFFFFFF for w in sha256.pow_table(prefix, n).tolist()]
    words, state = table[:16], table[16:24]
    assert table[24:88] == list(_K) and table[88:96] == list(_H0)
    for t in range(16, 64):
        s0 = sha256._rotr(words[t - 15], 7) ^ sha256._rotr(words[t - 15], 18) ^ (words[t - 15] >> 3)
        s1 = sha256._rotr(words[t - 2], 17) ^ sha256._rotr(words[t - 2], 19) ^ (words[t - 2] >> 10)
        words.append((words[t - 16] + s0 + words[t - 7] + s1) & 0xFFFFFFFF)
    state = sha256._rounds(state, words[4:], 4)
    digest = b"".join(((h + s) & 0xFFFFFFFF).to_bytes(4, "big") for h, s in zip(_H0, state, strict=True))
    assert digest == hashlib.sha256(prefix + bytes(n // 8)).digest()


def test_a_cpu_problem_offers_no_uniform_kernel():
    problem = make_problem("pow", {"n": 64, "k": 8})
    assert Capability.UNIFORM_KERNEL not in problem.capabilities
    if not sha256.runs_on(problem.device):
        with pytest.raises(Unsupported, match="no fused uniform kernel"):
            problem.evaluate_uniform(4, seed=0, offset=0)


@pytest.mark.skipif(INTERPRETED, reason="this is the child process")
def test_kernels_under_the_interpreter():
    """Rerun this file's kernel checks in a child with ``TRITON_INTERPRET=1``: the kernels on CPU tensors."""
    if not HAVE_TRITON:
        pytest.skip("triton is not installed (pip install 'optbench[test]')")
    summary = run_interpreted(__file__, "-m", "gpu", "-k", "not on_cuda", timeout=1200)
    assert "deselected" in summary  # the CUDA-only checks stay out


# ------------------------------------------------------------------ kernel checks (CUDA, or the interpreter)


@kernel_check
@pytest.mark.parametrize("n", [8, 64, N_MAX])
def test_digests_equal_hashlib(n):
    problem = ProofOfWork(n=n, k=1, instance=5, device=DEVICE)
    X = bits(ROWS, n, seed=n)
    got = sha256_probes.pow_digests(X.to(DEVICE), problem.kernel_table).cpu()
    assert torch.equal(got, hashlib_words(bytes(problem.prefix.tolist()), X))


@kernel_check
@pytest.mark.parametrize(("n", "k"), VALUE_CASES)
def test_values_equal_hashlib(n, k):
    problem = ProofOfWork(n=n, k=k, instance=1, device=DEVICE)
    X = bits(ROWS, n, seed=1000 * n + k)
    got = sha256.pow_values(X.to(DEVICE), problem.kernel_table, k=k, dtype=problem.dtype)
    want = hashlib_values(bytes(problem.prefix.tolist()), X, k)
    assert got.dtype == problem.dtype and got.shape == (ROWS,)
    assert torch.equal(got.cpu(), want.to(problem.dtype))
    assert k == 1 or len(set(want.tolist())) > 1  # values vary: the comparison is not vacuous


@kernel_check
@pytest.mark.parametrize("k", [1, 20, 32, 33, 64])
def test_leading_zero_count_crosses_the_word_boundary(k):
    """Digests with 0 .. 64 leading zeros (no search finds those beyond ~40): counted as the torch path does."""
    gen = torch.Generator().manual_seed(k)
    top = torch.randint(0, 2**32, (65, 2), generator=gen, dtype=torch.int64) | (1 << 31)  # each word's top bit set
    zeros = torch.arange(65)  # row z: z leading zero bits, then a one, then random bits
    heads = [(((int(a) << 32) | int(b)) >> int(z)) for (a, b), z in zip(top.tolist(), zeros.tolist(), strict=True)]
    words = torch.tensor([[h >> 32, h & 0xFFFFFFFF] for h in heads], dtype=torch.int64)
    got = sha256_probes.leading_zero_values(words.to(DEVICE), k=k).cpu()
    padded = torch.cat([words, torch.zeros(65, 6, dtype=torch.int64)], dim=1)
    assert torch.equal(got, k - leading_zero_bits(padded, limit=k))
    assert torch.equal(got, (k - zeros.clamp(max=k)))


@kernel_check
@pytest.mark.parametrize(("n", "k"), UNIFORM_CASES)
def test_uniform_values_are_those_of_the_redrawn_points(n, k):
    """``evaluate(uniform_points(rows)) == evaluate_uniform(...)[rows]``, with rows crossing 2^32 in the counter."""
    problem = ProofOfWork(n=n, k=k, instance=3, device=DEVICE, dtype=torch.float32 if n == 64 else None)
    seed, offset = 2**63 + 12345, 2**32 - ROWS // 2
    values = problem.evaluate_uniform(ROWS, seed=seed, offset=offset)
    assert values.shape == (ROWS,) and values.dtype == problem.dtype and values.device.type == DEVICE
    rows = torch.randperm(ROWS, generator=torch.Generator().manual_seed(n))[: ROWS // 2]
    points = problem.uniform_points(rows, seed=seed, offset=offset)
    assert points.shape == (ROWS // 2, n) and points.dtype == torch.uint8
    assert torch.equal(problem.evaluate(points).cpu(), values.cpu()[rows])
    every = problem.uniform_points(torch.arange(ROWS), seed=seed, offset=offset).cpu()
    want = hashlib_values(bytes(problem.prefix.tolist()), every, k)
    assert torch.equal(values.cpu(), want.to(problem.dtype))  # and hashlib agrees, whatever the device's evaluate
    assert k == 1 or len(set(want.tolist())) > 1


@kernel_check
@pytest.mark.parametrize("n", [8, 64, N_MAX])
def test_a_row_depends_on_the_seed_and_its_counter_alone(n):
    problem = ProofOfWork(n=n, k=4, device=DEVICE)
    rows = torch.arange(64)
    base = problem.uniform_points(rows + 1, seed=7, offset=2**32 - 33).cpu()
    assert torch.equal(problem.uniform_points(rows, seed=7, offset=2**32 - 32).cpu(), base)  # same counters
    assert not torch.equal(problem.uniform_points(rows, seed=7, offset=2**32 - 33).cpu(), base)
    assert not torch.equal(problem.uniform_points(rows + 1, seed=8, offset=2**32 - 33).cpu(), base)
    if n >= 64:  # 64 rows of >= 64 random bits: a repeat would be a broken counter, not chance (p < 2^-52)
        assert len({tuple(row) for row in base.tolist()}) == 64


@kernel_check
@pytest.mark.parametrize("n", [8, N_MAX])
def test_the_drawn_bits_are_balanced(n):
    """Over ``R`` rows each bit is Binomial(R, 1/2) if the draw is uniform: every position, and all bits
    together, within 6 standard deviations (a false alarm has probability below n * 2e-9)."""
    R = 2048 if n == 8 else 256
    drawn = ProofOfWork(n=n, k=4, device=DEVICE).uniform_points(torch.arange(R), seed=11, offset=5).cpu()
    assert set(drawn.unique().tolist()) <= {0, 1}
    per_position = drawn.sum(dim=0, dtype=torch.int64).double()
    assert bool(((per_position - R / 2).abs() <= 6 * (R / 4) ** 0.5).all()), per_position
    total = float(per_position.sum())
    assert abs(total - R * n / 2) <= 6 * (R * n / 4) ** 0.5


@kernel_check
def test_random_search_draws_and_hashes_in_the_kernel(monkeypatch):
    """End to end: random search on ``pow`` takes the fused draw (two launches for two batches), and the
    point the evaluator redrew for the best row scores that value, by hashlib too."""
    from optbench.api import Budget
    from optbench.evaluator import Evaluator

    monkeypatch.setenv("OPTBENCH_KERNELS", "triton" if INTERPRETED else "auto")  # the interpreter: offered on request
    problem = make_problem("pow", {"n": 64, "k": 12}, instance=4, device=DEVICE)
    assert Capability.UNIFORM_KERNEL in problem.capabilities
    launches = []
    original = sha256.pow_uniform_values
    monkeypatch.setattr(sha256, "pow_uniform_values", lambda count, *a, **kw: launches.append(count) or
                        original(count, *a, **kw))
    evaluator = Evaluator(problem, Budget(evaluations=2 * ROWS))
    x = make_optimizer("random", {"batch_size": ROWS}).minimize(evaluator, rng=np.random.default_rng(0))
    assert launches == [ROWS, ROWS] and evaluator.points == 2 * ROWS
    assert x.shape == (64,) and x.dtype == torch.uint8
    assert float(problem.evaluate(x.unsqueeze(0))[0]) == evaluator.best_value
    assert float(hashlib_values(bytes(problem.prefix.tolist()), x.unsqueeze(0), 12)[0]) == evaluator.best_value


# ------------------------------------------------------------------ CUDA only


@on_cuda
def test_pow_on_cuda_takes_the_kernel_and_matches_the_torch_path():
    problem = make_problem("pow", {"n": 64, "k": 24}, instance=1, device="cuda")
    assert Capability.UNIFORM_KERNEL in problem.capabilities and problem.kernel_table is not None
    X = bits(200_000, 64, seed=3).cuda()
    assert torch.equal(problem.evaluate(X), problem.evaluate_torch(X))
    for config in sha256.CONFIGS:
        got = sha256.pow_values(X, problem.kernel_table, k=24, dtype=problem.dtype, config=config)
        assert torch.equal(got, problem.evaluate_torch(X)), config


@on_cuda
def test_eager_mode_turns_the_kernels_off_on_cuda(monkeypatch):
    monkeypatch.setenv("OPTBENCH_KERNELS", "eager")
    problem = make_problem("pow", {"n": 64, "k": 12}, device="cuda")
    assert problem.kernel_table is None and Capability.UNIFORM_KERNEL not in problem.capabilities
    X = bits(1000, 64, seed=4)
    assert torch.equal(problem.evaluate(X.cuda()).cpu(), make_problem("pow", {"n": 64, "k": 12}).evaluate(X))
