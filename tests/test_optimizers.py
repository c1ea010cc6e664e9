"""Each built-in optimizer through its real library, budget discipline, determinism, validation."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch
from numerics import (
    gram_error_bound,
    ls_backward_error,
    ls_backward_stable_bound,
    ls_forward_bound,
    ls_normal_residual,
    ls_normal_residual_bound,
    normal_equations_forward_bound,
)

from optbench.api import Budget, BudgetExhausted, ConfigError
from optbench.evaluator import Evaluator
from optbench.registry import make_optimizer, make_problem

BUILT_IN = ("sgd", "adam", "cmaes", "ga", "random", "lstsq")


class CountingProblem:
    """Wraps a problem instance and counts what it really computes."""

    def __init__(self, problem):
        self.problem, self.points, self.examples, self._in_loss = problem, 0, 0, False
        evaluate, loss = problem._evaluate, problem.loss

        def counted_evaluate(X):
            if not self._in_loss:  # a loss may be computed through _evaluate
                self.points += X.shape[0]
            return evaluate(X)

        def counted_loss(x, *, batch=None):
            self.examples += (problem.n_examples or 1) if batch is None else int(batch.numel())
            self._in_loss = True
            try:
                return loss(x, batch=batch)
            finally:
                self._in_loss = False

        problem._evaluate, problem.loss = counted_evaluate, counted_loss


def minimize(name, problem, budget, params=None, seed=0):
    evaluator = Evaluator(problem, Budget(evaluations=budget))
    x = make_optimizer(name, params or {}).minimize(evaluator, rng=np.random.default_rng(seed))
    return x, evaluator


@pytest.mark.parametrize(("name", "problem", "params", "factor"), [
    ("sgd", "sphere", {"lr": 0.1}, 1e-6),
    ("sgd", "linreg", {"lr": 0.05}, 0.1),
    ("adam", "sphere", {"lr": 0.1}, 1e-3),
    ("adam", "linreg", {"lr": 0.05}, 0.1),
    ("cmaes", "sphere", {}, 1e-3),
    ("cmaes", "rosenbrock", {}, 0.1),
    ("ga", "rastrigin", {}, 0.5),
    ("ga", "onemax", {}, 0.2),
    ("random", "sphere", {}, 0.7),
    ("random", "onemax", {}, 0.8),
])
def test_each_optimizer_improves_on_its_starting_point(name, problem, params, factor):
    """The median final value is below ``factor`` times the mean value of random starting points."""
    prob = make_problem(problem, {})
    gen = torch.Generator().manual_seed(0)
    if prob.space.kind == "bits":
        start = float(prob.evaluate(torch.randint(0, 2, (64, prob.space.dim), generator=gen)).mean())
    else:
        start = float(prob.evaluate(torch.stack([prob.initial_point(gen) for _ in range(64)])).mean())
    finals = []
    for seed in range(3):  # the median of three seeds: one unlucky seed does not decide
        x, ev = minimize(name, prob, 600, params, seed=seed)
        finals.append(float(prob.evaluate(x.reshape(1, -1))[0]))
        assert ev.evaluations <= 600
    assert float(np.median(finals)) - prob.optimal_value < factor * (start - prob.optimal_value)


def test_cmaes_solves_the_sphere_and_keeps_candidates_in_bounds():
    prob = make_problem("sphere", {"dim": 5})
    lower, upper = prob.space.bounds()
    seen = []
    original = prob._evaluate
    prob._evaluate = lambda X: (seen.append(X.clone()), original(X))[1]
    _, ev = minimize("cmaes", prob, 3000, {"sigma0": 0.9})
    X = torch.cat(seen)
    assert ev.best_value < 1e-8
    assert bool(((X >= lower) & (X <= upper)).all())
    popsize = seen[1].shape[0]
    assert all(batch.shape[0] == popsize for batch in seen[1:-1])  # one evaluate per generation


def _check_least_squares(A, b, x, *, stable: bool):
    """``x`` solves ``min ||A x - b||`` as well as rounding allows, and agrees with NumPy's gelsd within
    what the two backward errors imply (bounds derived in tests/numerics.py, not fitted to a machine).

    ``stable``: ``x`` came from a backward-stable route (QR, SVD); otherwise from the normal equations.
    """
    reference = np.linalg.lstsq(A.numpy(), b.numpy(), rcond=None)[0]
    # NumPy's gelsd is backward stable: the reference is checked against the same bound
    assert ls_backward_error(A, b, reference) <= ls_backward_stable_bound(A, b, reference)
    assert ls_normal_residual(A, b, x) <= ls_normal_residual_bound(A, b, x)
    if stable:
        assert ls_backward_error(A, b, x) <= ls_backward_stable_bound(A, b, x)
        ours = ls_forward_bound(A, b, reference, backward=ls_backward_stable_bound(A, b, x))
    else:
        ours = normal_equations_forward_bound(A, b, reference)
    theirs = ls_forward_bound(A, b, reference, backward=ls_backward_stable_bound(A, b, reference))
    tolerance = ours + theirs
    if math.isfinite(tolerance):
        assert np.linalg.norm(x.numpy() - reference) <= tolerance * np.linalg.norm(reference)
    return tolerance


@pytest.mark.parametrize("method", ["auto", "qr", "cholesky", "svd"])
@pytest.mark.parametrize("cond", [10.0, 1e8])
def test_lstsq_matches_numpy(method, cond):
    from optbench.optimizers.lstsq import solve_auto

    prob = make_problem("linreg", {"n": 300, "d": 40, "cond": cond, "noise": 0.5}, instance=3)
    x, ev = minimize("lstsq", prob, 5, {"method": method})
    A, b = prob.least_squares()
    route = solve_auto(A, b)[1] if method == "auto" else method
    tolerance = _check_least_squares(A, b, x, stable=route != "cholesky")
    # At cond 1e8 forced normal equations square the condition to ~1e16 = 1/u: x itself is lost along
    # the small singular directions (no forward bound; which is why `auto` avoids them), and only the
    # normal-equations residual is guaranteed. Every other case has a forward bound below 1.
    assert (tolerance < 1) == (route != "cholesky" or cond < 1e4)
    assert ev.evaluations == 1


def test_lstsq_auto_avoids_the_normal_equations_when_ill_conditioned():
    """At cond(A) = 1e9 the normal equations' backward error is ~1e6 times the stable bound."""
    prob = make_problem("linreg", {"n": 200, "d": 30, "cond": 1e9})
    x, _ = minimize("lstsq", prob, 1)
    A, b = prob.least_squares()
    _check_least_squares(A, b, x, stable=True)


@pytest.mark.parametrize(("cond", "route"), [(1.0, "cholesky"), (1e3, "cholesky"), (1e5, "qr"), (1e9, "qr")])
def test_lstsq_auto_takes_cholesky_only_when_well_conditioned(cond, route):
    """cond(A)^2 is the Gram condition: 1e6 passes the 1e7 float64 limit, 1e10 does not.

    The solution is checked by its backward error, not against NumPy's x at a fixed tolerance: at
    cond(A) = 1e9 the forward error bound is cond * u * (2 + cond * ||r|| / (||A|| ||x||)), about 1e-2
    here, so two correct solvers legitimately differ far beyond 1e-7 depending on the BLAS kernel.
    """
    from optbench.optimizers.lstsq import solve_auto

    prob = make_problem("linreg", {"n": 400, "d": 50, "cond": cond, "noise": 0.5}, instance=1)
    A, b = prob.least_squares()
    x, taken = solve_auto(A, b)
    assert taken == route
    _check_least_squares(A, b, x, stable=route != "cholesky")


@pytest.mark.parametrize(("d", "cond"), [(20, 1.0), (60, 1e2), (60, 3e3), (200, 1e3)])
def test_lstsq_gram_condition_estimate_is_close_to_the_svd(d, cond):
    """The O(d^2) estimate is within 15% of the exact 2-norm condition of the Gram matrix."""
    from optbench.optimizers.lstsq import estimate_gram_cond, factor_normal_equations

    A, _ = make_problem("linreg", {"n": 2 * d, "d": d, "cond": cond}).least_squares()
    G, L = factor_normal_equations(A)
    exact = float(torch.linalg.cond(G))
    assert 0.85 * exact <= estimate_gram_cond(G, L) <= 1.01 * exact


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lstsq_gram_through_numpy_syrk_matches_torch(dtype):
    from optbench.optimizers.lstsq import SYRK_MIN_DIM, gram

    A = torch.randn(500, SYRK_MIN_DIM + 3, generator=torch.Generator().manual_seed(0), dtype=dtype)
    G = gram(A)
    assert G.dtype == dtype and G.shape == (A.shape[1], A.shape[1])
    # Two BLAS routes (syrk, gemm) sum each length-500 dot product in different orders: each is within
    # gamma(500) |A|^T |A| of the exact product [H, eq. (3.5)], so they differ by at most twice that.
    # (A fixed relative tolerance is a coin toss in float32: entries near 0 differ by summation order.)
    difference = (G.double() - (A.T @ A).double()).abs()
    assert bool((difference <= 2 * gram_error_bound(A)).all())
    assert not torch.equal(G, torch.zeros_like(G))
    assert torch.equal(G, G.T)  # syrk fills both triangles from one


def test_lstsq_auto_falls_back_to_the_svd_when_rank_deficient():
    from optbench.optimizers.lstsq import solve_auto

    gen = torch.Generator().manual_seed(0)
    A = torch.randn(60, 6, generator=gen, dtype=torch.float64)
    A = torch.cat([A, A[:, :2]], dim=1)  # two repeated columns
    b = torch.randn(60, generator=gen, dtype=torch.float64)
    x, taken = solve_auto(A, b)
    assert taken == "svd"
    _check_minimum_norm_solution(A, b, x, rank=6)


def test_lstsq_handles_rank_deficient_data():
    from optbench.optimizers.lstsq import solve_qr, solve_svd

    gen = torch.Generator().manual_seed(0)
    A = torch.randn(50, 5, generator=gen, dtype=torch.float64)
    A = torch.cat([A, A[:, :1]], dim=1)  # a repeated column
    b = torch.randn(50, generator=gen, dtype=torch.float64)
    assert solve_qr(A, b) is None
    _check_minimum_norm_solution(A, b, solve_svd(A, b), rank=5)


def _check_minimum_norm_solution(A, b, x, *, rank):
    """gelsd's minimum-norm solution against NumPy's, within Wedin's bound over the ``rank`` nonzero
    singular values (both backward stable; the dropped singular values are rounding-level)."""
    expected = np.linalg.lstsq(A.numpy(), b.numpy(), rcond=None)[0]
    assert np.linalg.matrix_rank(A.numpy()) == rank
    tolerance = sum(ls_forward_bound(A, b, expected, backward=ls_backward_stable_bound(A, b, v), rank=rank)
                    for v in (x, expected))
    assert tolerance < 1e-6
    assert np.linalg.norm(x.numpy() - expected) <= tolerance * np.linalg.norm(expected)
    assert ls_normal_residual(A, b, x) <= ls_normal_residual_bound(A, b, x)


SUITABLE = [(name, prob) for name in BUILT_IN for prob in ("linreg", "rastrigin", "onemax")
            if not (name in ("sgd", "adam", "cmaes", "lstsq") and prob == "onemax")
            and not (name == "lstsq" and prob != "linreg")]


@pytest.mark.parametrize(("name", "problem"), SUITABLE)
@pytest.mark.parametrize("budget", [1, 7, 97])
def test_no_optimizer_can_exceed_the_budget_and_counts_are_exact(name, problem, budget):
    prob = make_problem(problem, {"n": 64, "d": 4} if problem == "linreg" else {})
    counter = CountingProblem(prob)
    params = {"popsize": 10} if name in ("cmaes", "ga") else {}
    evaluator = Evaluator(prob, Budget(evaluations=budget))
    with contextlib.suppress(BudgetExhausted):  # allowed: the runner then uses the evaluator's best point
        make_optimizer(name, params).minimize(evaluator, rng=np.random.default_rng(1))
    assert evaluator.evaluations <= budget + 1e-9
    assert counter.points == evaluator.points
    gradient_examples = evaluator.examples - (prob.n_examples or 0) * (name == "lstsq")
    assert counter.examples == gradient_examples


@pytest.mark.parametrize("name", BUILT_IN)
def test_same_seed_same_result(name):
    problem = "linreg" if name in ("sgd", "adam", "lstsq") else "rastrigin"
    runs = [minimize(name, make_problem(problem, {"n": 64, "d": 4} if problem == "linreg" else {}), 150)
            for _ in range(2)]
    (x1, e1), (x2, e2) = runs
    assert torch.equal(x1, x2)
    assert e1.trace == e2.trace


@pytest.mark.parametrize(("name", "params", "message"), [
    ("adam", {"lr": -1}, "lr"),
    ("adam", {"betas": (0.9,)}, "betas"),
    ("sgd", {"momentum": -0.1}, "momentum"),
    ("sgd", {"nesterov": True}, "nesterov"),
    ("sgd", {"batch_size": 0}, "batch_size"),
    ("cmaes", {"sigma0": 0}, "sigma0"),
    ("cmaes", {"popsize": 1}, "popsize"),
    ("ga", {"mutation_rate": 2.0}, "mutation_rate"),
    ("ga", {"elites": 50}, "elites"),
    ("random", {"batch_size": "many"}, "batch_size"),
    ("lstsq", {"method": "lu"}, "method"),
    ("adam", {"learning_rate": 0.1}, "no parameter 'learning_rate'"),
])
def test_bad_hyperparameters_are_config_errors(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_optimizer(name, params)


def test_requirements_give_skip_reasons():
    onemax, sphere = make_problem("onemax", {}), make_problem("sphere", {})
    assert "bits" in make_optimizer("sgd", {}).check(onemax.space, onemax.capabilities)
    assert "linear_least_squares" in make_optimizer("lstsq", {}).check(sphere.space, sphere.capabilities)
    assert make_optimizer("ga", {}).check(onemax.space, onemax.capabilities) is None


def test_gradient_methods_stay_in_the_box():
    prob = make_problem("rosenbrock", {"dim": 4})
    x, _ = minimize("sgd", prob, 200, {"lr": 0.5})
    lower, upper = prob.space.bounds()
    assert bool(((x >= lower) & (x <= upper)).all())


@pytest.mark.parametrize("rate", [0.003, 0.02, 0.2])  # sparse (geometric gaps) and dense draws
def test_ga_mutation_sites_are_an_iid_bernoulli_mask(rate):
    from optbench.optimizers.ga import _bernoulli_sites

    n, draws = 20_000, 300
    gen = torch.Generator().manual_seed(0)
    counts, hits = [], torch.zeros(10)
    for _ in range(draws):
        sites = _bernoulli_sites(n, rate, gen, torch.device("cpu"))
        assert bool((sites >= 0).all()) and bool((sites <= n).all())  # n marks "past the end"
        sites = sites[sites < n]
        assert bool((sites[1:] > sites[:-1]).all())  # distinct, in order
        counts.append(sites.numel())
        hits += torch.bincount(sites * 10 // n, minlength=10)
    # the count is Binomial(n, rate): its mean within 5 standard errors, its spread within 25%
    expected, sd = n * rate, (n * rate * (1 - rate)) ** 0.5
    assert abs(np.mean(counts) - expected) < 5 * sd / draws**0.5
    assert 0.75 * sd < np.std(counts) < 1.25 * sd
    # every tenth of the entries is hit equally often (chi-square, 9 degrees of freedom, p ~ 1e-4)
    chi2 = float(((hits - hits.mean()) ** 2 / hits.mean()).sum())
    assert chi2 < 33.7
