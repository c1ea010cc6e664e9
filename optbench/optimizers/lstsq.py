"""Closed-form linear least squares for problems that expose ``(A, b)``.

``method="auto"`` takes the fastest route that keeps the accuracy: Cholesky on the normal
equations (one Gram product, ``n d^2``, half the flops of a QR) when the Gram matrix is well
conditioned, Householder QR when it is not, the SVD when ``A`` is rank deficient. The
conditioning is never found by an SVD of the Gram matrix, which at ``d = 1000`` costs more than
the whole solve, but from the Cholesky factor itself:

* on the CPU in ``O(d^2)`` per step: power iteration for the largest eigenvalue, inverse iteration
  through the factor for the smallest (a few dozen small operations, each cheap on a CPU);
* on a GPU, where each small operation costs a kernel launch and triangular solves with a few
  right-hand sides run nearly serially, by repeated squaring: a guaranteed upper bound within a
  factor ``d^(1/8)`` from about ten large products (:func:`gram_cond_bound`).

A tall ``A`` (``n >= 80 d``) is first sampled: the Gram matrix of ``4 d`` evenly spaced rows costs
at most 5 % of the full one, and when even that is far too ill conditioned for the normal equations
the full Gram product, a third of the work of the QR that follows, is skipped. The sample only
ever sends a problem to the slower, accurate route, so a wrong guess costs time, never accuracy.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from optbench.api import Capability, ConfigError, Optimizer, SpaceKind
from optbench.evaluator import Evaluator

log = logging.getLogger(__name__)

METHODS = ("auto", "qr", "cholesky", "svd")
# Cholesky on the normal equations squares the condition number: its relative error is about
# cond(A^T A) * eps. `auto` accepts it while that stays below sqrt(eps) with a margin for the
# estimate, i.e. cond(A^T A) < 0.15 / sqrt(eps): 1e7 in float64 (about 1e-9 relative error).
CHOLESKY_COND_FACTOR = 0.15
ESTIMATE_STEPS = 8  # power / inverse iteration steps; each is O(d^2) on a block of a few vectors
ESTIMATE_VECTORS = 4  # independent random starts, so one unlucky start cannot hide an extreme eigenvalue
# From this width on, NumPy's `A.T @ A` (BLAS syrk: half the flops of a general product) beats
# torch's gemm on the CPU; measured on 2 cores at n = 1e5: d = 100: torch 16 ms, NumPy 27 ms;
# d = 400: 201 vs 165 ms; d = 1000: 1.23 vs 0.83 s.
SYRK_MIN_DIM = 256


def max_gram_cond(dtype: torch.dtype) -> float:
    """The largest ``cond(A^T A)`` for which ``auto`` trusts the normal equations in ``dtype``."""
    return CHOLESKY_COND_FACTOR / math.sqrt(torch.finfo(dtype).eps)


def gram(A: torch.Tensor) -> torch.Tensor:
    """``A^T A``, shape ``(d, d)``: the one ``n d^2`` product of the Cholesky route.

    On the CPU, wide matrices go through NumPy, which recognises ``A.T @ A`` and calls the
    symmetric rank-k update; ``A`` is shared with NumPy, not copied, and so is the result.
    """
    if A.device.type == "cpu" and A.dtype in (torch.float32, torch.float64) and A.shape[1] >= SYRK_MIN_DIM:
        array = A.detach().numpy()
        return torch.from_numpy(array.T @ array)
    return A.T @ A


def factor_normal_equations(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(G, L)``: the Gram matrix and its lower Cholesky factor; ``None`` when ``G`` is not SPD."""
    G = gram(A)
    L, info = torch.linalg.cholesky_ex(G)
    if int(info) != 0:
        return None
    return G, L


def estimate_gram_cond(G: torch.Tensor, L: torch.Tensor, *, steps: int = ESTIMATE_STEPS) -> float:
    """Estimate of the 2-norm condition number of ``G = L L^T`` in ``O(d^2)`` per step.

    Power iteration on ``G`` gives its largest eigenvalue and inverse iteration (two triangular
    solves with ``L``) its smallest, each from a block of random starts. Both Rayleigh-type
    estimates converge from below; an unconverged estimate is off by at most the gap to the next
    eigenvalue, so a badly conditioned Gram matrix cannot pass as a well conditioned one.

    Args:
        G: the symmetric positive definite Gram matrix, shape ``(d, d)``.
        L: its lower Cholesky factor, shape ``(d, d)``.
        steps: iterations of each method.
    """
    d = G.shape[0]
    gen = torch.Generator(device=G.device).manual_seed(d)  # deterministic: same route on every run
    V = torch.rand(d, ESTIMATE_VECTORS, generator=gen, device=G.device, dtype=G.dtype) - 0.5
    W = V.clone()
    largest = smallest_inverse = torch.zeros((), device=G.device, dtype=G.dtype)
    for _ in range(steps):
        V = V / torch.linalg.vector_norm(V, dim=0)
        GV = G @ V
        largest = (V * GV).sum(dim=0).max()  # Rayleigh quotient of G
        V = GV
        W = W / torch.linalg.vector_norm(W, dim=0)
        GiW = torch.cholesky_solve(W, L)
        smallest_inverse = (W * GiW).sum(dim=0).max()  # Rayleigh quotient of G^{-1}
        W = GiW
    estimate = float(largest * smallest_inverse)  # the only host sync of the estimate
    return estimate if math.isfinite(estimate) and estimate > 0 else math.inf


SQUARINGS = 3  # ||M||_2 <= ||M^8||_F^(1/8) <= d^(1/16) ||M||_2 for a symmetric positive semidefinite M
SAMPLE_ROWS_PER_COLUMN = 4  # rows of the conditioning sample per column of A
SAMPLE_MIN_RATIO = 80  # sample only when n >= 80 d: the sample's Gram costs at most 5 % of the full one
# ... and on a GPU only when the full Gram product is large (n d^2 multiply-adds): below this, the
# sample's own factorization, bound and host sync cost about as much as the product they might save (an
# H100 at n = 1e5, d = 100: the check took ~0.4 ms, the whole Cholesky solve 0.3 ms). On the CPU the
# check costs ~1 ms where the product it saves costs ~15 ms at that size.
SAMPLE_MIN_WORK = 1 << 33
SAMPLE_MARGIN = 100.0  # the sample must be this far beyond the limit to skip the normal equations


def largest_eigenvalue_bound(M: torch.Tensor, *, squarings: int = SQUARINGS) -> torch.Tensor:
    """An upper bound of the largest eigenvalue of symmetric positive semidefinite ``M``, shape ``M.shape[:-2]``.

    With ``p = 2^squarings``, ``M^p`` has eigenvalues ``lambda_i^p``, so
    ``lambda_max^p <= ||M^p||_F <= sqrt(d) lambda_max^p``: the bound ``||M^p||_F^(1/p)`` is within a
    factor ``d^(1/(2p))`` of ``lambda_max`` (1.54 at ``d = 1000`` with three squarings). ``M`` is
    scaled to unit Frobenius norm first, so no power overflows; its largest eigenvalue stays at or
    above ``1/sqrt(d)``, so none underflows either.

    Args:
        M: symmetric positive semidefinite, shape ``(..., d, d)`` (a batch is bounded matrix by matrix).
        squarings: matrix products, each ``d^3`` multiply-adds.
    """
    scale = torch.linalg.matrix_norm(M, keepdim=True)
    P = M / scale
    for _ in range(squarings):
        P = P @ P
    return (scale * torch.linalg.matrix_norm(P, keepdim=True) ** (0.5**squarings)).reshape(M.shape[:-2])


def gram_cond_bound(L: torch.Tensor, G: torch.Tensor | None = None, *, squarings: int = SQUARINGS) -> torch.Tensor:
    """An upper bound of ``cond(G)`` for ``G = L L^T``, within ``d^(1/(2p))`` squared; a 0-d tensor, no sync.

    ``cond(G) = lambda_max(G) lambda_max(G^-1)`` and ``G^-1 = L^-T L^-1``: one triangular solve for
    ``L^-1`` and ``2 + 2 squarings`` products, each a single large kernel on a GPU.

    Args:
        L: the lower Cholesky factor, shape ``(d, d)``.
        G: ``L L^T`` when at hand (saves a product).
        squarings: see :func:`largest_eigenvalue_bound`.
    """
    eye = torch.eye(L.shape[0], device=L.device, dtype=L.dtype)
    L_inv = torch.linalg.solve_triangular(L, eye, upper=False)
    G = L @ L.T if G is None else G
    # both matrices squared together: each step one batched product instead of two launches
    bounds = largest_eigenvalue_bound(torch.stack([G, L_inv.T @ L_inv]), squarings=squarings)
    return bounds[0] * bounds[1]


def _cond_and_info(G: torch.Tensor, L: torch.Tensor, info: torch.Tensor) -> tuple[float, int]:
    """``(estimate of cond(G), Cholesky info)`` with one host sync; ``inf`` when not SPD or not finite."""
    if G.device.type == "cpu":
        if int(info) != 0:
            return math.inf, int(info)
        return estimate_gram_cond(G, L), 0
    bound, status = torch.stack([gram_cond_bound(L, G), info.to(G.dtype)]).tolist()  # the one sync
    if status != 0 or not math.isfinite(bound) or bound <= 0:
        return math.inf, int(status)
    return bound, 0


def clearly_ill_conditioned(A: torch.Tensor) -> bool:
    """Whether ``4 d`` evenly spaced rows of a tall ``A`` are far too ill conditioned for the normal equations.

    ``False`` (nothing known) when ``A`` is not tall enough for the sample to be cheap. Evenly spaced
    rows, not random ones: deterministic, and a data set sorted by a category keeps every category.
    """
    n, d = A.shape
    if n < SAMPLE_MIN_RATIO * d or (A.device.type != "cpu" and n * d * d < SAMPLE_MIN_WORK):
        return False
    rows = SAMPLE_ROWS_PER_COLUMN * d
    sample = A[:: n // rows][:rows]
    G = sample.T @ sample
    L, info = torch.linalg.cholesky_ex(G)
    cond, status = _cond_and_info(G, L, info)
    return status != 0 or cond > SAMPLE_MARGIN * max_gram_cond(A.dtype)


def solve_cholesky(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """Normal equations ``(A^T A) x = A^T b`` by Cholesky; ``None`` when the Gram matrix is not SPD."""
    factored = factor_normal_equations(A)
    if factored is None:
        return None
    return torch.cholesky_solve((A.T @ b).unsqueeze(1), factored[1]).squeeze(1)


def solve_qr(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """Householder QR without forming ``Q`` (``Q^T b`` by reflections); ``None`` when ``R`` is singular."""
    d = A.shape[1]
    reflectors, tau = torch.geqrf(A)
    R = reflectors[:d].triu()
    diag = R.diagonal().abs()
    smallest, largest = torch.stack([diag.min(), diag.max()]).tolist()  # one host sync for both
    if smallest <= largest * A.shape[0] * torch.finfo(A.dtype).eps:
        return None
    Qtb = torch.ormqr(reflectors, tau, b.unsqueeze(1), left=True, transpose=True)[:d]
    return torch.linalg.solve_triangular(R, Qtb, upper=True).squeeze(1)


def solve_svd(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Minimum-norm solution via the SVD (robust to rank deficiency, on every device)."""
    if A.device.type == "cpu":
        return torch.linalg.lstsq(A, b.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    return torch.linalg.pinv(A) @ b


def solve_auto(A: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The fastest accurate route for ``min ||A x - b||``; returns ``(x, route)``.

    ``route`` is ``"cholesky"``, ``"qr"`` or ``"svd"``, the method that produced ``x``.
    """
    if A.shape[0] >= A.shape[1]:
        if clearly_ill_conditioned(A):
            log.debug("lstsq: a row sample is far too ill conditioned for the normal equations; using QR")
        else:
            G = gram(A)
            L, info = torch.linalg.cholesky_ex(G)
            # solved before the check is read: on a GPU the solve is queued behind the estimate instead of
            # waiting for the host to see it (discarded, d^2 + n d work, when the route is refused)
            x = torch.cholesky_solve((A.T @ b).unsqueeze(1), L).squeeze(1)
            cond, status = _cond_and_info(G, L, info)
            if status == 0 and cond < max_gram_cond(A.dtype):
                return x, "cholesky"
            log.debug("lstsq: cond(A^T A) ~ %.3g, too large for the normal equations; using QR", cond)
        x = solve_qr(A, b)
        if x is not None:
            return x, "qr"
    return solve_svd(A, b), "svd"


@dataclass(frozen=True)
class LeastSquares(Optimizer):
    """Exact minimizer of ``||A x - b||^2``.

    ``method="auto"`` uses Cholesky on the normal equations when the Gram matrix is well
    conditioned (fastest), QR otherwise, and the SVD when ``A`` is rank deficient.
    """

    name: ClassVar[str] = "lstsq"
    search_space: ClassVar[dict[str, Any]] = {}  # a closed form: its method changes cost, not the answer
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({SpaceKind.CONTINUOUS, SpaceKind.PARAMS})
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.LINEAR_LEAST_SQUARES})

    method: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"lstsq: method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def minimize(self, evaluator: Evaluator, *, rng: np.random.Generator) -> torch.Tensor:
        A, b = evaluator.least_squares()
        if self.method == "svd":
            return solve_svd(A, b)
        if self.method == "cholesky":
            x = solve_cholesky(A, b)
            return x if x is not None else solve_svd(A, b)
        if self.method == "qr":
            x = solve_qr(A, b) if A.shape[0] >= A.shape[1] else None
            return x if x is not None else solve_svd(A, b)
        return solve_auto(A, b)[0]
