"""Least-squares systems with a prescribed condition number, and the solvers the crossover study times.

``f(x) = ||X x - b||^2 / n``; its Hessian is ``H = 2 X^T X / n`` with extreme eigenvalues ``L`` and
``mu``, so ``kappa = L / mu = cond(X)^2``. Accuracy is the relative suboptimality
``(f(x) - f*) / f* = ||X (x - x*)||^2 / ||r*||^2`` (exact for least squares, since ``r*`` is
orthogonal to the range of ``X``), evaluated without the cancellation of ``f(x) - f*``.

The iterative methods are generators that yield their iterate after each step (or every few
minibatch steps), so the driver times the steps and checks the accuracy with the clock paused.
The same code runs on dense torch tensors (CPU or GPU) and on SciPy sparse matrices with NumPy
vectors: it only uses ``@``, ``*``, ``+`` and sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from optbench.studies.crossover.catalog import (  # noqa: F401 (the names the study's modules read from here too)
    BATCH,
    CLOSED_FORMS,
    ESTIMATED,
    FAMILY,
    ITERATIVE,
    METHODS,
    NOISE,
    ORACLE,
    POWER_ITERATIONS,
    SPARSE_METHODS,
)


@dataclass
class System:
    """One least-squares system and what the methods and the accuracy check need.

    Attributes:
        X: design, ``(n, d)``: a dense tensor, or a SciPy CSR matrix for the sparse case.
        XT: its transpose (for sparse: CSR too, so both products are fast).
        b: targets ``(n,)``; x_star: the minimizer ``(d,)``; r_norm2: ``||X x* - b||^2``.
        L, mu: extreme eigenvalues of the Hessian ``2 X^T X / n``.
    """

    X: Any
    XT: Any
    b: Any
    x_star: Any
    r_norm2: float
    L: float
    mu: float
    sparse: bool

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    gram: Any = None  # X^T X, formed on the first accuracy check of a tall system (outside every timed region)

    def suboptimality(self, x: Any) -> float:
        """``(f(x) - f*) / f*`` of an iterate ``x`` ``(d,)``.

        On a tall system (``n >= 4 d``) as ``e^T (X^T X) e`` with ``e = x - x*``: ``d^2`` work per check instead of
        ``n d``, which halved the wall time of iterative runs whose every step is checked. Its relative error,
        about ``n eps cond(X)^2`` (1e-8 at n = 1e4, cond = 100), is far below any target's resolution.
        """
        e = x - self.x_star
        if self.n < 4 * self.d:
            r = self.X @ e
            return float((r * r).sum()) / self.r_norm2
        if self.gram is None:
            self.gram = (self.XT @ self.X).toarray() if self.sparse else self.XT @ self.X
        return float((e * (self.gram @ e)).sum()) / self.r_norm2


def _seed(*words: float) -> int:
    state = np.random.SeedSequence([int(w) if float(w).is_integer() else int(w * 1e6) for w in words])
    return int(state.generate_state(1, np.uint64)[0] >> 1)


@lru_cache(maxsize=2)  # consecutive tasks time different methods on the same system
def dense_system(n: int, d: int, cond: float, seed: int, device: str = "cpu") -> System:
    """``X = sqrt(n) U diag(s) V^T`` with orthonormal ``U`` ``(n, d)``, ``V`` ``(d, d)`` and ``s`` log-spaced
    from 1 to ``1/cond``: ``cond(X) = cond`` exactly; ``b = X x_true + 0.1 * noise``."""
    gen = torch.Generator().manual_seed(_seed(n, d, cond, seed))
    f64 = torch.float64
    U, _ = torch.linalg.qr(torch.randn(n, d, generator=gen, dtype=f64))
    V, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=f64))
    s = torch.logspace(0, -math.log10(cond), d, dtype=f64) if d > 1 else torch.ones(1, dtype=f64)
    X = math.sqrt(n) * (U * s) @ V.T
    b = X @ torch.randn(d, generator=gen, dtype=f64) + NOISE * torch.randn(n, generator=gen, dtype=f64)
    x_star = V @ ((U.T @ b) / (s * math.sqrt(n)))  # from the known SVD: no cond^2 error
    r = X @ x_star - b
    dev = torch.device(device)
    return System(X=X.to(dev), XT=X.to(dev).T, b=b.to(dev), x_star=x_star.to(dev), r_norm2=float(r @ r),
                  L=2 * float(s.max()) ** 2, mu=2 * float(s.min()) ** 2, sparse=False)


@lru_cache(maxsize=2)
def sparse_system(n: int, d: int, cond: float, seed: int, density: float) -> System:
    """A random sparse ``X`` (SciPy CSR, ``density`` non-zeros) with columns scaled log-spaced from 1
    to ``1/cond`` (its condition number is then about ``cond``; ``L`` and ``mu`` are computed)."""
    import scipy.linalg as sla
    import scipy.sparse as sp

    rng = np.random.default_rng(_seed(n, d, cond, seed, density))
    X = sp.random(n, d, density=density, format="csr", random_state=rng, data_rvs=rng.standard_normal)
    X = (X @ sp.diags(np.logspace(0, -math.log10(cond), d) * math.sqrt(1 / density))).tocsr()
    b = X @ rng.standard_normal(d) + NOISE * rng.standard_normal(n)
    G = (X.T @ X).toarray()
    eig = np.linalg.eigvalsh(G)
    factor = sla.cho_factor(G)
    x_star = sla.cho_solve(factor, X.T @ b)
    x_star = x_star + sla.cho_solve(factor, X.T @ (b - X @ x_star))  # one step of iterative refinement
    r = X @ x_star - b
    return System(X=X, XT=X.T.tocsr(), b=b, x_star=x_star, r_norm2=float(r @ r), L=2 * eig[-1] / n,
                  mu=2 * eig[0] / n, sparse=True)


# ---------------------------------------------------------------------- closed forms


def closed_form(system: System, method: str) -> Any:
    """The minimizer by ``cholesky`` (normal equations), ``qr`` (Householder) or ``svd`` (``gelsd``)."""
    if system.sparse:
        import scipy.linalg as sla

        if method != "cholesky":
            raise ValueError(f"{method} would densify the sparse design; only cholesky runs on it")
        G = (system.XT @ system.X).toarray()  # d x d: the Gram matrix of a sparse X is formed sparsely
        return sla.cho_solve(sla.cho_factor(G), system.XT @ system.b)
    from optbench.optimizers.lstsq import solve_cholesky, solve_qr, solve_svd

    solve = {"cholesky": solve_cholesky, "qr": solve_qr, "svd": solve_svd}[method]
    x = solve(system.X, system.b)
    return x if x is not None else solve_svd(system.X, system.b)


# ---------------------------------------------------------------------- iterative methods


def _zeros(system: System) -> Any:
    if system.sparse:
        return np.zeros(system.d)
    return torch.zeros(system.d, dtype=system.X.dtype, device=system.X.device)


def power_iteration(system: System, iterations: int, *, seed: int = 0) -> float:
    """An estimate of ``L`` from ``iterations`` power iterations on ``X^T X`` (2 products each) from a seeded
    random start: the last Rayleigh quotient, so ``L_hat <= L``, and close to ``L`` once the top
    eigenvalues dominate (they do within a few dozen iterations for the spectra built here)."""
    gen = torch.Generator().manual_seed(seed)
    v0 = torch.randn(system.d, generator=gen, dtype=torch.float64)
    v: Any = v0.numpy() if system.sparse else v0.to(system.X.device)
    v = v / float((v * v).sum()) ** 0.5
    quotient = 0.0
    for _ in range(max(iterations, 1)):
        w = system.XT @ (system.X @ v)
        quotient = (v * w).sum()  # v has unit length; stays on the device until the end
        v = w / (w * w).sum() ** 0.5
    return 2.0 * float(quotient) / system.n


def gradient_descent_estimated(system: System, *, power_iterations: int = POWER_ITERATIONS,
                               seed: int = 0) -> Iterator[Any]:
    """GD without the known spectrum: step ``1 / L_hat`` from :func:`power_iteration` (``mu`` unknown, so not
    ``2 / (L + mu)``), the power iteration inside the first step, so its time and products are counted."""
    X, XT, b, n = system.X, system.XT, system.b, system.n
    step = 1.0 / power_iteration(system, power_iterations, seed=seed) * 2.0 / n
    x = _zeros(system)
    while True:
        x = x - step * (XT @ (X @ x - b))
        yield x


def nesterov_estimated(system: System, *, power_iterations: int = POWER_ITERATIONS, seed: int = 0) -> Iterator[Any]:
    """Nesterov without the known spectrum: step ``1 / L_hat`` (power iteration, counted) and the momentum
    ``(t_k - 1) / t_{k+1}`` of the convex case, restarted whenever the gradient points along the last move
    (O'Donoghue & Candes 2015's gradient restart, which recovers the linear rate without knowing ``mu``).
    The restart test is computed without a branch on the device (no synchronization on a GPU)."""
    X, XT, b, n = system.X, system.XT, system.b, system.n
    step = 1.0 / power_iteration(system, power_iterations, seed=seed) * 2.0 / n
    x = y = _zeros(system)
    t: Any = 1.0
    while True:
        g = XT @ (X @ y - b)
        x_next = y - step * g
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        keep = (g * (x_next - x)).sum() <= 0  # False: the gradient opposes progress, drop the momentum
        keep = float(keep) if system.sparse else keep.to(x_next.dtype)
        y = x_next + keep * ((t - 1) / t_next) * (x_next - x)
        t = keep * t_next + (1 - keep) * 1.0
        x = x_next
        yield x


def gradient_descent(system: System) -> Iterator[Any]:
    """Full-batch GD with the optimal fixed step ``2 / (L + mu)``: error contracts by ``(kappa-1)/(kappa+1)``."""
    X, XT, b, n = system.X, system.XT, system.b, system.n
    step = 2.0 / (system.L + system.mu) * 2.0 / n  # gradient = (2/n) X^T (X x - b)
    x = _zeros(system)
    while True:
        x = x - step * (XT @ (X @ x - b))
        yield x


def nesterov(system: System) -> Iterator[Any]:
    """Nesterov's accelerated gradient for strongly convex ``f``: step ``1/L``, momentum
    ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``."""
    X, XT, b, n = system.X, system.XT, system.b, system.n
    step = 1.0 / system.L * 2.0 / n
    q = math.sqrt(system.L / system.mu)
    beta = (q - 1) / (q + 1)
    x = y = _zeros(system)
    while True:
        x_next = y - step * (XT @ (X @ y - b))
        y = x_next + beta * (x_next - x)
        x = x_next
        yield x


def conjugate_gradients(system: System) -> Iterator[Any]:
    """CG on the normal equations without forming ``X^T X`` (CGLS: one product with ``X`` and one with
    ``X^T`` per step); scalars stay on the device."""
    X, XT, b = system.X, system.XT, system.b
    x = _zeros(system)
    r = b - X @ x
    s = XT @ r
    p = s
    gamma = (s * s).sum()
    while True:
        q = X @ p
        alpha = gamma / (q * q).sum()
        x = x + alpha * p
        r = r - alpha * q
        s = XT @ r
        gamma_next = (s * s).sum()
        p = s + (gamma_next / gamma) * p
        gamma = gamma_next
        yield x


def minibatch(system: System, *, lr: float, adam: bool, seed: int = 0) -> Iterator[Any]:
    """SGD or Adam on minibatches of :data:`BATCH` rows (a fresh permutation each epoch); yields
    about ten times per epoch."""
    X, b, n = system.X, system.b, system.n
    gen = torch.Generator().manual_seed(seed)
    x = _zeros(system)
    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    beta1, beta2, t = 0.9, 0.999, 0
    per_epoch = max(1, n // BATCH)
    every = max(1, per_epoch // 10)
    while True:
        order = torch.randperm(n, generator=gen).to(X.device)
        for i in range(per_epoch):
            rows = order[i * BATCH : (i + 1) * BATCH]
            Xb = X[rows]
            g = (2.0 / len(rows)) * (Xb.T @ (Xb @ x - b[rows]))
            if adam:
                t += 1
                m = beta1 * m + (1 - beta1) * g
                v = beta2 * v + (1 - beta2) * g * g
                x = x - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + 1e-12)
            else:
                x = x - lr * g
            if (i + 1) % every == 0:
                yield x


def learning_rates(system: System, method: str) -> tuple[float, ...]:
    """The small tuning grid: SGD steps as shares of ``1/L`` (stable for minibatches), Adam steps absolute."""
    if method == "sgd":
        return tuple(c / system.L for c in (0.5, 0.1, 0.02))
    return (1e-1, 1e-2, 1e-3)


def iterations(system: System, method: str, *, power_iterations: int = POWER_ITERATIONS) -> Iterator[Any]:
    """The iterate sequence of an iterative method (not LSQR: SciPy runs it as one call)."""
    if method == "gd_est":
        return gradient_descent_estimated(system, power_iterations=power_iterations)
    if method == "nesterov_est":
        return nesterov_estimated(system, power_iterations=power_iterations)
    return {"gd": gradient_descent, "nesterov": nesterov, "cg": conjugate_gradients}[method](system)


def matvec_cost(system: System, method: str, *, power_iterations: int = POWER_ITERATIONS) -> tuple[float, float]:
    """``(setup, per_step)``: products with ``X`` or ``X^T`` (full-size equivalents) before the first step and
    per yielded step, so a run of ``k`` steps costs ``setup + k * per_step``. LSQR: one ``X^T b`` first, then
    one product with each per step. Minibatch methods: ``2 * BATCH / n`` per minibatch step."""
    if method in ("gd_est", "nesterov_est"):
        return 2.0 * max(power_iterations, 1), 2.0
    if method == "cg":
        return 2.0, 2.0
    if method == "lsqr":
        return 1.0, 2.0
    if method in ("sgd", "adam"):
        per_epoch = max(1, system.n // BATCH)
        return 0.0, 2.0 * BATCH * max(1, per_epoch // 10) / system.n
    return 0.0, 2.0


def lsqr(system: System, iterations_limit: int) -> Any:
    """SciPy's LSQR run for exactly ``iterations_limit`` steps (tolerances off); CPU arrays only."""
    from scipy.sparse.linalg import lsqr as scipy_lsqr

    X = system.X if system.sparse else system.X.cpu().numpy()
    b = system.b if system.sparse else system.b.cpu().numpy()
    x = scipy_lsqr(X, b, atol=0.0, btol=0.0, conlim=0.0, iter_lim=iterations_limit)[0]
    return x if system.sparse else torch.from_numpy(x).to(system.X.device)


def timed(fn: Callable[[], Any], sync: Callable[[], None]) -> tuple[float, Any]:
    """Wall time of ``fn()`` (synchronized on GPU) and its result."""
    import time

    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out
