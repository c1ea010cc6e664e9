"""The GPU condition bound of ``lstsq`` (repeated squaring) and the row sample that skips the normal equations.

Bounds come from analysis: the squaring bound holds in exact arithmetic by the eigenvalue argument
in its docstring; rounding moves it by at most the error of ``squarings + 2`` matrix products and a
triangular inverse, bounded below with [H]'s ``gamma`` (tests/numerics.py). The tests run on the CPU
(the functions are device-agnostic) and, marked ``gpu``, on CUDA.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numerics import gamma, ls_backward_error, ls_backward_stable_bound

from optbench.optimizers import lstsq
from optbench.optimizers.lstsq import (
    SQUARINGS,
    clearly_ill_conditioned,
    gram_cond_bound,
    largest_eigenvalue_bound,
    max_gram_cond,
    solve_auto,
)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def _device(name: str) -> str:
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return name


def _spd(d: int, cond: float, *, dtype: torch.dtype, device: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """A symmetric positive definite matrix with eigenvalues log-spaced from 1 to 1/cond, and those eigenvalues."""
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    eigenvalues = torch.logspace(0, -math.log10(cond), d, dtype=torch.float64)
    M = (Q * eigenvalues) @ Q.T
    return ((M + M.T) / 2).to(device=device, dtype=dtype), eigenvalues.numpy()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("d", "cond"), [(1, 1.0), (7, 10.0), (64, 1e3), (300, 1e2)])
def test_largest_eigenvalue_bound_brackets_the_eigenvalue(device, dtype, d, cond):
    """``lambda_max <= bound <= d^(1/16) lambda_max``, each side widened by the products' rounding.

    Rounding the matrix to ``dtype`` moves eigenvalues by ``u ||M||_2`` (Weyl); each of the
    ``squarings`` products and the two Frobenius norms adds at most ``gamma(d)`` relative to the
    magnitudes involved, which for a positive semidefinite matrix scaled to unit norm are the
    entries of the powers themselves; the ``1/p``-th root shrinks all of it.
    """
    M, eigenvalues = _spd(d, cond, dtype=dtype, device=_device(device), seed=d)
    largest = float(eigenvalues.max())
    slack = (SQUARINGS + 3) * math.sqrt(d) * gamma(d, dtype)
    bound = float(largest_eigenvalue_bound(M))
    assert largest * (1 - slack) <= bound <= largest * d ** (0.5 ** (SQUARINGS + 1)) * (1 + slack)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("d", "cond"), [(5, 1.0), (50, 1e2), (200, 1e6), (120, 1e10)])
def test_gram_cond_bound_is_an_upper_bound_within_its_factor(device, d, cond):
    """``cond(G) <= bound <= d^(1/8) cond(G)`` up to rounding.

    The inverse of the Cholesky factor is computed with relative error about ``gamma(d) cond(L)``
    ([H, Thm 8.5], ``cond(L) = sqrt(cond(G))``): with ``cond(G) = 1e10`` that is still ``1e-9``.
    """
    G, eigenvalues = _spd(d, cond, dtype=torch.float64, device=_device(device), seed=d + 1)
    exact = float(eigenvalues.max() / eigenvalues.min())
    L = torch.linalg.cholesky(G)
    slack = (SQUARINGS + 3) * math.sqrt(d) * gamma(d) * (1 + math.sqrt(cond)) * 4
    bound = float(gram_cond_bound(L, G))
    assert exact * (1 - slack) <= bound <= exact * d ** (2 * 0.5 ** (SQUARINGS + 1)) * (1 + slack)
    assert float(gram_cond_bound(L)) == pytest.approx(bound, rel=slack)  # G rebuilt from L


def _tall(n: int, d: int, cond: float, *, device: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``A = Gaussian · diag(logspace) · V^T`` (cond(A) = ``cond`` up to the Gaussian's spread) and ``b``."""
    gen = torch.Generator().manual_seed(seed)
    V, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    scales = torch.logspace(0, -math.log10(cond), d, dtype=torch.float64)
    A = torch.randn(n, d, generator=gen, dtype=torch.float64) @ (scales[:, None] * V.T)
    b = A @ torch.randn(d, generator=gen, dtype=torch.float64) + torch.randn(n, generator=gen, dtype=torch.float64)
    return A.to(device), b.to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_the_row_sample_sends_only_clearly_ill_conditioned_problems_to_qr(device, monkeypatch):
    """cond(A) = 1e6 (Gram 1e12, 66,000 times the 1.5e7 limit) is caught by the sample; cond(A) = 10 and
    cond(A) = 3e3 (Gram 9e6, under the limit) are not; a matrix too short for a cheap sample never is.
    (Small matrices: the size from which the sample is taken at all is lowered for the test.)"""
    device = _device(device)
    monkeypatch.setattr(lstsq, "SAMPLE_MIN_WORK", 0)  # on a GPU these small matrices would not be sampled
    assert clearly_ill_conditioned(_tall(4000, 20, 1e6, device=device, seed=1)[0])
    assert not clearly_ill_conditioned(_tall(4000, 20, 10.0, device=device, seed=2)[0])
    assert not clearly_ill_conditioned(_tall(4000, 20, 3e3, device=device, seed=3)[0])
    assert not clearly_ill_conditioned(_tall(1000, 20, 1e6, device=device, seed=4)[0])  # n < 80 d
    assert max_gram_cond(torch.float64) < 1.6e7


@pytest.mark.gpu
def test_no_sample_on_a_gpu_where_the_gram_product_is_cheap():
    """On a GPU, below ``SAMPLE_MIN_WORK`` multiply-adds the Gram product costs less than the sample's check."""
    A, _ = _tall(4000, 20, 1e6, device=_device("cuda"), seed=1)
    assert 4000 * 20 * 20 < lstsq.SAMPLE_MIN_WORK
    assert not clearly_ill_conditioned(A)
    assert clearly_ill_conditioned(A.cpu())  # the CPU samples at any size where n >= 80 d


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("cond", "route"), [(10.0, "cholesky"), (1e6, "qr")])
def test_auto_routes_and_stays_backward_stable_through_the_sample(device, cond, route):
    """The route ``auto`` takes on tall problems, and its solution within the backward-stable bound."""
    A, b = _tall(800, 10, cond, device=_device(device), seed=5)  # small: the backward error takes an n x n SVD
    x, taken = solve_auto(A, b)
    assert taken == route
    A, b, x = A.cpu(), b.cpu(), x.cpu()
    if route == "qr":
        assert ls_backward_error(A, b, x) <= ls_backward_stable_bound(A, b, x)
    else:  # the normal equations: x within their forward bound of NumPy's solution
        reference = np.linalg.lstsq(A.numpy(), b.numpy(), rcond=None)[0]
        error = np.linalg.norm(x.numpy() - reference) / np.linalg.norm(reference)
        assert error <= 4 * gamma(A.shape[0] * A.shape[1]) * cond**2


def test_a_sparse_one_hot_design_is_solved_accurately_whatever_the_sample_sees():
    """Rare categories the evenly spaced sample can miss make the sample singular: the route may then
    be QR (slower), never a wrong answer."""
    gen = torch.Generator().manual_seed(7)
    n, d = 800, 10  # small: the backward error takes an n x n SVD
    categories = torch.randint(0, d - 2, (n,), generator=gen)
    categories[[13, 571]] = torch.tensor([d - 2, d - 1])  # two categories seen once each
    A = torch.nn.functional.one_hot(categories, d).to(torch.float64) + 1e-3 * torch.randn(n, d, generator=gen,
                                                                                          dtype=torch.float64)
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    x, taken = solve_auto(A, b)
    assert taken in ("cholesky", "qr")
    assert ls_backward_error(A, b, x) <= ls_backward_stable_bound(A, b, x) or taken == "cholesky"
    reference = np.linalg.lstsq(A.numpy(), b.numpy(), rcond=None)[0]
    cond_a = float(np.linalg.cond(A.numpy()))
    error = np.linalg.norm(x.numpy() - reference) / np.linalg.norm(reference)
    assert error <= 4 * gamma(n * d) * cond_a**2
