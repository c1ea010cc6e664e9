"""Error bounds from rounding-error analysis, so a numeric test means the same on every machine.

A tolerance here is never a number one machine printed: it is a bound that holds for any correctly
rounded arithmetic, whatever the BLAS kernel, the SIMD width or the number of threads (which only
change the order of summation). References are N. J. Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed. (SIAM 2002), cited as [H]. ``u`` is the unit roundoff (``eps / 2``) and
``gamma(k) = k u / (1 - k u)`` bounds the relative error of ``k`` successive roundings [H, Lemma 3.1].
Every bound is taken with the constant 1 where [H] writes "a small constant". Observed errors are far
below these worst cases (in the least-squares tests, 1e-5 to 1e-4 of the bound: a few units of ``u``
where the bound has ``m n u``), so no kernel or thread count can make them fail by chance; a method that
is not backward stable still fails them (the normal equations at cond(A) = 1e8 exceed the
backward-error bound about 20-fold).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def unit_roundoff(dtype: torch.dtype | np.dtype | type) -> float:
    """``u = eps / 2`` of a float dtype (2**-24 for float32, 2**-53 for float64)."""
    if isinstance(dtype, torch.dtype):
        return torch.finfo(dtype).eps / 2
    return float(np.finfo(dtype).eps) / 2


def gamma(k: float, dtype: torch.dtype | np.dtype | type = np.float64) -> float:
    """``k u / (1 - k u)``: the bound on ``k`` roundings [H, Lemma 3.1]."""
    ku = k * unit_roundoff(dtype)
    assert ku < 0.5, f"gamma({k}) is meaningless in {dtype}"
    return ku / (1 - ku)


def gram_error_bound(A: torch.Tensor) -> torch.Tensor:
    """Elementwise bound on ``|fl(A^T A) - A^T A|``, shape ``(d, d)`` for ``A`` of shape ``(m, d)``.

    Each entry is a dot product of length ``m``: ``|fl(x^T y) - x^T y| <= gamma(m) |x|^T |y|`` for any
    order of summation [H, eq. (3.5)], so blocked, SIMD and multi-threaded kernels all obey it.
    """
    absA = A.abs().double()
    return gamma(A.shape[0], A.dtype) * (absA.T @ absA)


def _as_numpy(*arrays) -> list[np.ndarray]:
    return [t.detach().cpu().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)
            for t in arrays]


def ls_backward_error(A, b, x) -> float:
    """Normwise backward error of ``x`` as a solution of ``min ||A x - b||_2`` (float64).

    The smallest ``||[dA, theta db]||_F`` such that ``x`` solves the least-squares problem of
    ``(A + dA, b + db)``, with ``theta = ||A||_F / ||b||_2`` so that ``A`` and ``b`` weigh alike. By
    Walden, Karlson and Sun [H, Thm 20.5] it is ``min(phi, sigma_min([A, phi (I - r r^+)]))`` with
    ``r = b - A x``, ``mu = theta^2 ||x||^2 / (1 + theta^2 ||x||^2)`` and ``phi = sqrt(mu) ||r|| / ||x||``.
    The SVD form is used, not the eigenvalue form, which loses half the digits to cancellation.

    Args:
        A: shape ``(m, n)`` with ``m >= n``. b: shape ``(m,)``. x: shape ``(n,)``, nonzero.
    """
    A, b, x = _as_numpy(A, b, x)
    m = A.shape[0]
    r = b - A @ x
    norm_x, norm_r = float(np.linalg.norm(x)), float(np.linalg.norm(r))
    if norm_r == 0.0:
        return 0.0
    theta = float(np.linalg.norm(A)) / float(np.linalg.norm(b))
    mu = theta**2 * norm_x**2 / (1 + theta**2 * norm_x**2)
    phi = math.sqrt(mu) * norm_r / norm_x
    projector = np.eye(m) - np.outer(r, r) / norm_r**2
    sigma = np.linalg.svd(np.hstack([A, phi * projector]), compute_uv=False)
    return min(phi, float(sigma[m - 1]))


def ls_backward_stable_bound(A, b, x) -> float:
    """What a backward-stable solver (Householder QR, SVD, LAPACK gels/gelsd) guarantees for ``ls_backward_error``.

    [H, Thm 20.3]: ``x`` solves the problem of ``(A + dA, b + db)`` with ``||dA||_F <= gamma(mn) ||A||_F``
    and ``||db|| <= gamma(mn) ||b||``, so the backward error (with ``theta = ||A||_F / ||b||``) is at most
    ``2 gamma(mn) ||A||_F``. Evaluating it adds: the computed residual is off by at most
    ``gamma(n+1) (||b|| + sqrt(n) ||A||_2 ||x||)``, which moves the formula by three times that over
    ``||x||``, and the SVD by ``gamma(m) ||[A, phi P]||_2`` with ``phi <= ||b|| / ||x||``. Independent of cond(A).
    """
    A, b, x = _as_numpy(A, b, x)
    m, n = A.shape
    norm_A2, norm_AF = float(np.linalg.norm(A, 2)), float(np.linalg.norm(A))
    ratio = float(np.linalg.norm(b)) / float(np.linalg.norm(x))
    return (2 * gamma(m * n) * norm_AF + 3 * gamma(n + 1) * (ratio + math.sqrt(n) * norm_A2)
            + gamma(m) * (norm_A2 + ratio))


def ls_normal_residual(A, b, x) -> float:
    """``||A^T (b - A x)||_2`` in float64: zero exactly at a least-squares solution."""
    A, b, x = _as_numpy(A, b, x)
    return float(np.linalg.norm(A.T @ (b - A @ x)))


def ls_normal_residual_bound(A, b, x) -> float:
    """Bound on ``ls_normal_residual`` for any of the solvers (QR, SVD, Cholesky on ``A^T A``).

    Cholesky on the normal equations computes ``(A^T A + E) x = A^T b + e`` with ``||e|| <= gamma(m)
    ||A||_F ||b||`` (forming ``A^T b``) and ``||E||_2 <= gamma(m) ||A||_F^2`` (forming ``A^T A``) plus
    ``gamma(3n+1) ||A||_F^2`` (Cholesky and the two triangular solves, [H, Thm 10.4]; ``|R^T||R|`` has
    Frobenius norm at most ``trace(A^T A)``), so ``||A^T r|| <= ||e|| + ||E|| ||x||`` whatever cond(A).
    A backward-stable solver gives ``||A^T r|| <= gamma(mn) ||A||_F (2 ||b|| + ||A||_F ||x||)``.
    Evaluating ``A^T (b - A x)`` adds ``gamma(n+1) ||A||_2 (||b|| + ||A||_F ||x||)`` and
    ``gamma(m) ||A||_F ||r||``. The bound is the sum of all of these.
    """
    A, b, x = _as_numpy(A, b, x)
    m, n = A.shape
    norm_A2, norm_AF = float(np.linalg.norm(A, 2)), float(np.linalg.norm(A))
    norm_b, norm_x, norm_r = (float(np.linalg.norm(v)) for v in (b, x, b - A @ x))
    cholesky = gamma(m) * norm_AF * norm_b + (gamma(m) + gamma(3 * n + 1)) * norm_AF**2 * norm_x
    stable = gamma(m * n) * norm_AF * (2 * norm_b + norm_AF * norm_x)
    evaluation = gamma(n + 1) * norm_A2 * (norm_b + norm_AF * norm_x) + gamma(m) * norm_AF * norm_r
    return cholesky + stable + evaluation


def ls_forward_bound(A, b, x_ref, *, backward: float, rank: int | None = None) -> float:
    """Relative forward error ``||x - x*|| / ||x*||`` of a solution whose backward error is ``backward``.

    Wedin's bound [H, Thm 20.1]: perturbations ``||dA||_2 <= eps ||A||_2``, ``||db|| <= eps ||b||`` move
    the solution by at most ``k eps / (1 - k eps) (2 + (k + 1) ||r|| / (||A||_2 ||x||))``, ``k = cond_2(A)``
    (over the first ``rank`` singular values for the minimum-norm solution of a rank-deficient ``A``,
    under perturbations that keep the rank). ``eps = backward / ||A||_2`` covers both ``dA`` and
    ``db`` for the backward error of ``ls_backward_error``. ``x_ref`` stands in for ``x*`` in ``||x||``
    and ``||r||`` (a second-order change). ``inf`` when ``k eps >= 1``: then nothing is guaranteed.
    """
    A, b, x_ref = _as_numpy(A, b, x_ref)
    sigma = np.linalg.svd(A, compute_uv=False)
    k = float(sigma[0] / sigma[(rank or len(sigma)) - 1])
    eps = backward / float(sigma[0])
    if k * eps >= 1:
        return math.inf
    residual = float(np.linalg.norm(b - A @ x_ref)) / (float(sigma[0]) * float(np.linalg.norm(x_ref)))
    return k * eps / (1 - k * eps) * (2 + (k + 1) * residual)


def normal_equations_forward_bound(A, b, x_ref) -> float:
    """Relative forward error of Cholesky on the normal equations: ``cond_2(A)^2`` times rounding.

    From ``(A^T A + E) x = A^T b + e`` (see ``ls_normal_residual_bound``),
    ``x - x* = (A^T A + E)^{-1} (e - E x*)``, so ``||x - x*|| / ||x*|| <= s (||e|| / ||x*|| + ||E||)
    / (1 - s ||E||)`` with ``s = ||(A^T A)^{-1}||_2 = 1 / sigma_min^2``; ``inf`` when ``s ||E|| >= 1``.
    """
    A, b, x_ref = _as_numpy(A, b, x_ref)
    m, n = A.shape
    sigma_min = float(np.linalg.svd(A, compute_uv=False)[-1])
    norm_AF = float(np.linalg.norm(A))
    E = (gamma(m) + gamma(3 * n + 1)) * norm_AF**2
    e = gamma(m) * norm_AF * float(np.linalg.norm(b))
    s = 1 / sigma_min**2
    if s * E >= 1:
        return math.inf
    return s * (e / float(np.linalg.norm(x_ref)) + E) / (1 - s * E)


def ls_objective_bound(A, b, x, *, forward: float, rows: int) -> float:
    """Bound on ``|fl(f(x)) - f(x*)|`` for ``f(x) = ||A x - b||^2 / rows`` and ``||x - x*|| <= forward ||x||``.

    ``f(x) - f(x*) = ||A (x - x*)||^2 / rows <= (||A||_2 forward ||x||)^2 / rows`` (the residual of ``x*`` is
    orthogonal to the range of ``A``). Evaluating ``f`` in floating point moves each residual entry by at
    most ``gamma(n+1) (|A| |x| + |b|)`` and the sum of squares by ``gamma(m+n+2)`` relative, in any order.
    """
    A, b, x = _as_numpy(A, b, x)
    m, n = A.shape
    r = b - A @ x
    distance = float(np.linalg.norm(A, 2)) * forward * float(np.linalg.norm(x))
    spread = float(np.linalg.norm(np.abs(A) @ np.abs(x) + np.abs(b)))
    evaluation = 2 * float(np.linalg.norm(r)) * gamma(n + 1) * spread + gamma(m + n + 2) * float(r @ r)
    return (distance**2 + evaluation) / rows
