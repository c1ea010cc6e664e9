"""Problems against implementations no one here wrote: scipy, Nevergrad, hashlib, numpy, published formulas."""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pytest
import torch
from nevergrad.functions import corefuncs
from numerics import gamma, ls_backward_error, ls_backward_stable_bound, ls_forward_bound, ls_objective_bound
from scipy.optimize import minimize, rosen

from optbench.registry import make_problem


def _points(problem, count: int = 20, seed: int = 0) -> torch.Tensor:
    """Random points inside the problem's box, float64."""
    lo, hi = problem.space.bounds()
    gen = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(count, problem.space.dim, generator=gen, dtype=torch.float64)


def test_rosenbrock_matches_scipy():
    problem = make_problem("rosenbrock", {"dim": 7}, instance=3)
    X = _points(problem)
    ours = problem.evaluate(X).numpy()
    Z = X - problem.shift + 1.0  # our z = x - shift + 1, the same IEEE operations as inside the problem
    theirs = [rosen(z.numpy()) for z in Z]
    # Each side evaluates a polynomial in z with at most d + 5 roundings along any path, in any order
    # of summation: |error| <= gamma(d+5) times the polynomial with every term and difference made
    # nonnegative [H, Ch. 3]; the two sides differ by at most twice that.
    head, tail = Z[:, :-1].abs(), Z[:, 1:].abs()
    envelope = (100 * (tail + head**2) ** 2 + (1 + head) ** 2).sum(dim=1).numpy()
    assert np.all(np.abs(ours - theirs) <= 2 * gamma(problem.space.dim + 5) * envelope)


@pytest.mark.parametrize(("name", "params", "reference"), [
    ("sphere", {}, corefuncs.sphere),
    ("rastrigin", {}, corefuncs.rastrigin),
    ("ackley", {}, corefuncs.ackley),
    ("griewank", {}, corefuncs.griewank),
    ("ellipsoid", {"cond": 1e6, "rotate": False}, corefuncs.ellipsoid),
    ("rugged", {"amplitude": 0.0}, corefuncs.sphere),  # no ripples: the sphere
])
def test_classic_functions_match_nevergrad(name, params, reference):
    problem = make_problem(name, {"dim": 9, **params}, instance=2)
    X = _points(problem)
    ours = problem.evaluate(X).numpy()
    theirs = [reference((x - problem.shift).numpy()) for x in X]
    # Not a machine-dependent tolerance: each side is d = 9 terms of at most ~10 roundings and libm calls
    # of a few ulps on the same z (IEEE subtraction), values O(1..1e8) without cancellation at these
    # random points, so they agree to ~30 u = 3e-15 relative; 1e-10 only has to catch a wrong formula.
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_rotation_is_an_orthogonal_change_of_variables():
    plain = make_problem("rastrigin", {"dim": 6, "rotate": False}, instance=1)
    rotated = make_problem("rastrigin", {"dim": 6, "rotate": True}, instance=1)
    R = rotated.rotation
    d = R.shape[0]
    # Householder QR's Q is orthogonal to working accuracy [H, Thm 19.4]: |Q Q^T - I| <= 2 sqrt(d) gamma(d^2)
    # plus gamma(d) for forming the product, elementwise
    assert bool(((R @ R.T - torch.eye(d, dtype=R.dtype)).abs() <= 2 * math.sqrt(d) * gamma(d * d) + gamma(d)).all())
    X = _points(plain)
    z = (X - plain.shift) @ R.T
    ours = rotated.evaluate(X)
    theirs = torch.tensor([corefuncs.rastrigin(v.numpy()) for v in z], dtype=torch.float64)
    # The problem forms z with its own product (within gamma(d) |X - s| |R|^T of ours, in any kernel), which
    # moves f by |f'(z)| = |2 z + 20 pi sin(2 pi z)| per unit; then each side sums d terms of a few
    # roundings and a cos of a few ulps: gamma(d + 8) times the terms made nonnegative, twice.
    dz = 2 * gamma(d) * ((X - plain.shift).abs() @ R.abs().T)
    slope = 2 * z.abs() + 20 * math.pi
    envelope = (10 + z * z + 10 * torch.cos(2 * math.pi * z).abs()).sum(dim=1)
    assert bool(((ours - theirs).abs() <= (slope * dz).sum(dim=1) + 2 * gamma(d + 8) * envelope).all())


def test_weierstrass_matches_the_published_formula():
    # CEC 2005 F11: sum_i sum_k a^k cos(2 pi b^k (z_i + 0.5)) - d sum_k a^k cos(pi b^k), a=0.5, b=3, k<=20
    problem = make_problem("weierstrass", {"dim": 5}, instance=4)
    X = _points(problem, count=8)

    def published(z: np.ndarray) -> float:
        total = sum(0.5**k * math.cos(2 * math.pi * 3**k * (zi + 0.5)) for zi in z for k in range(21))
        return total - len(z) * sum(0.5**k * math.cos(math.pi * 3**k) for k in range(21))

    Z = X - problem.shift
    ours, theirs = problem.evaluate(X).numpy(), np.array([published(z.numpy()) for z in Z])
    # Term (i, k) is 0.5^k cos(t) with t = 2 pi 3^k (z_i + 0.5), t formed with at most 4 roundings on
    # either side (relative 4u each, so |dt| <= 8 u |t|) and cos accurate to a few ulps (4u): the two
    # sides differ by at most 0.5^k (8 u |t| + 8 u) per term, plus gamma(21 d + 2) on the sum of |terms|
    # in any order, and the same for the constant (d times a sum at z = 0 with t = pi 3^k).
    u, k = gamma(1), np.arange(21)
    t = 2 * math.pi * 3.0**k * np.abs(Z.numpy()[:, :, None] + 0.5)
    per_term = (0.5**k * (8 * u * t + 8 * u)).sum(axis=(1, 2))
    constant = Z.shape[1] * (0.5**k * (8 * u * math.pi * 3.0**k + 8 * u)).sum()
    summation = gamma(21 * Z.shape[1] + 2) * 2 * Z.shape[1] * (0.5**k).sum()
    assert np.all(np.abs(ours - theirs) <= per_term + constant + summation)


def test_schwefel_matches_the_published_formula_and_optimum():
    problem = make_problem("schwefel", {"dim": 4}, instance=0)
    X = _points(problem, count=10)
    z = (X * problem.signs).numpy()
    published = [418.9828872724338 * 4 - float(np.sum(v * np.sin(np.sqrt(np.abs(v))))) for v in z]
    np.testing.assert_allclose(problem.evaluate(X).numpy(), published, rtol=1e-9)
    # the published minimizer 420.9687 gives ~0 (the constant is rounded in the literature)
    assert abs(problem.optimal_value) < 1e-4


def test_sha256_is_bit_exact_with_hashlib():
    problem = make_problem("pow", {"n": 312, "k": 8}, instance=5)
    gen = torch.Generator().manual_seed(0)
    X = torch.randint(0, 2, (64, problem.n), generator=gen, dtype=torch.uint8)
    words = problem.digest(X)
    prefix = bytes(problem.prefix.tolist())
    for x, digest in zip(X, words, strict=True):
        message = prefix + bytes(np.packbits(x.numpy()).tolist())
        expected = hashlib.sha256(message).digest()
        assert b"".join(int(w).to_bytes(4, "big") for w in digest) == expected


def test_proof_of_work_objective_counts_leading_zero_bits_like_hashlib():
    problem = make_problem("pow", {"n": 64, "k": 12}, instance=1)
    gen = torch.Generator().manual_seed(1)
    X = torch.randint(0, 2, (2000, 64), generator=gen, dtype=torch.uint8)
    prefix = bytes(problem.prefix.tolist())
    expected = []
    for x in X:
        value = int.from_bytes(hashlib.sha256(prefix + bytes(np.packbits(x.numpy()).tolist())).digest(), "big")
        expected.append(max(12 - (256 - value.bit_length()), 0))
    assert problem.evaluate(X).tolist() == expected
    assert min(expected) < 12 - 4  # 2000 guesses find some leading zeros: the comparison is not vacuous


@pytest.mark.parametrize(("name", "params"), [
    ("linreg", {"n": 120, "d": 15, "cond": 1e4}),
    ("ridge", {"n": 60, "d": 40, "cond": 1e5, "l2": 0.1}),
    ("diabetes", {}),
])
def test_least_squares_optimum_matches_numpy(name, params):
    problem = make_problem(name, params, instance=2)
    A, b = problem.A.numpy(), problem.b.numpy()
    n, d = A.shape
    if problem.l2:  # ||Ax-b||^2/n + l2||x||^2 is the least-squares problem of [A; sqrt(n l2) I], [b; 0]
        A, b = np.vstack([A, math.sqrt(n * problem.l2) * np.eye(d)]), np.concatenate([b, np.zeros(d)])
    x_np, ours = np.linalg.lstsq(A, b, rcond=None)[0], problem.optimum.numpy()
    # Both are backward stable (torch's and NumPy's gelsd, different LAPACKs): each is within Wedin's
    # bound of the exact solution, so they differ by at most the sum (cond 1e4 makes it ~2e-7 here, a
    # fixed rtol=1e-7 would not be guaranteed); see tests/numerics.py.
    for x in (ours, x_np):
        assert ls_backward_error(A, b, x) <= ls_backward_stable_bound(A, b, x)
    forward = {id(x): ls_forward_bound(A, b, x_np, backward=ls_backward_stable_bound(A, b, x)) for x in (ours, x_np)}
    assert sum(forward.values()) < 1e-6
    assert np.linalg.norm(ours - x_np) <= sum(forward.values()) * np.linalg.norm(x_np)
    value = float(problem.evaluate(torch.as_tensor(x_np).unsqueeze(0))[0])
    slack = sum(ls_objective_bound(A, b, x, forward=forward[id(x)], rows=n) for x in (ours, x_np))
    assert abs(value - problem.optimal_value) <= slack


@pytest.mark.parametrize(("name", "params"), [("logreg", {"n": 300, "d": 12}), ("cancer", {})])
def test_logistic_optimum_matches_scipy(name, params):
    problem = make_problem(name, params, instance=1)
    A, y, l2 = problem.A.numpy(), problem.y.numpy(), problem.l2

    def objective(w):
        return np.mean(np.log1p(np.exp(-y * (A @ w)))) + 0.5 * l2 * w @ w

    result = minimize(objective, np.zeros(A.shape[1]), method="BFGS", options={"gtol": 1e-10})
    assert problem.optimal_value <= result.fun + 1e-12  # ours is at least as good as scipy's
    assert problem.optimal_value == pytest.approx(result.fun, rel=1e-7)
    np.testing.assert_allclose(problem.optimum.numpy(), result.x, atol=1e-3)


def test_bit_problems_match_their_textbook_definitions():
    gen = torch.Generator().manual_seed(3)
    X = torch.randint(0, 2, (200, 40), generator=gen, dtype=torch.uint8)
    onemax = make_problem("onemax", {"n": 40}, instance=0)  # instance 0: no mask
    leading = make_problem("leadingones", {"n": 40}, instance=0)
    trap = make_problem("trap", {"n": 40, "k": 4}, instance=0)
    for x, f_one, f_lead, f_trap in zip(X.tolist(), onemax.evaluate(X), leading.evaluate(X), trap.evaluate(X),
                                        strict=True):
        assert f_one == 40 - sum(x)
        assert f_lead == 40 - next((i for i, bit in enumerate(x) if bit == 0), 40)
        blocks = [sum(x[i : i + 4]) for i in range(0, 40, 4)]
        # Deb & Goldberg's k-trap, as a gap to the all-ones optimum: a block of u ones earns k if u = k, else k-1-u
        assert f_trap == sum(4 - (4 if u == 4 else 3 - u) for u in blocks)


def test_nk_optimum_is_the_brute_force_minimum():
    problem = make_problem("nk", {"n": 10, "K": 2}, instance=7)
    X = torch.tensor(list(itertools.product([0, 1], repeat=10)), dtype=torch.uint8)
    assert float(problem.evaluate(X).min()) == pytest.approx(problem.optimal_value, abs=1e-12)


def test_masked_instances_move_the_optimum_but_keep_the_landscape():
    plain = make_problem("trap", {"n": 20, "k": 5}, instance=0)
    masked = make_problem("trap", {"n": 20, "k": 5}, instance=3)
    assert not torch.equal(plain.optimum, masked.optimum)
    gen = torch.Generator().manual_seed(0)
    X = torch.randint(0, 2, (100, 20), generator=gen, dtype=torch.uint8)
    torch.testing.assert_close(masked.evaluate(X ^ masked.mask), plain.evaluate(X))
