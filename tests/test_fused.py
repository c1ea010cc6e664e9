"""Fused problem kernels (optbench.kernels.fused*) against the eager path, and the fused uniform draw.

The Triton kernels run on the CPU through Triton's interpreter, which must be switched on before
triton is imported: :func:`test_kernels_under_the_interpreter` reruns this file in a fresh process
with ``TRITON_INTERPRET=1``, where the ``device="cpu"`` cases run; without it they skip. The
``device="cuda"`` cases (``-m gpu``) run the compiled kernels on a GPU.

Tolerances come from an error analysis, not from observed differences. Both sides compute the
same ``z = fl(x - shift)`` (one IEEE subtraction) and then each coordinate's term with a few
roundings and at most one library transcendental (CUDA's ``cosf``/``sinf``/``expf``: 2 ulp; glibc,
SLEEF and NumPy: at most 4), so a term differs from the exact one by at most ``c u m_i`` with
``c = 8`` and ``m_i`` the magnitude of its parts; the row sums are then taken in different
orders, each within ``gamma_D sum |t_i|`` of the exact sum (``gamma_D = D u / (1 - D u)``, any
order). Two implementations therefore differ by at most ``2 (gamma_D + c u) M`` with
``M = sum_i m_i`` (+ the magnitude of constants added at the end); Ackley's and Griewank's
nonlinear epilogues propagate these bounds to first order (:func:`tolerance`). Bit-string
functions are integer counts: exact.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import numpy as np
import pytest
import torch
from interpreted import run_interpreted

from optbench.api import Budget, Capability, ConfigError, Unsupported
from optbench.evaluator import Evaluator
from optbench.kernels import fused
from optbench.optimizers.random_search import RandomSearch
from optbench.problems.bits import LeadingOnes, Needle, OneMax, Trap
from optbench.problems.classic import (
    Ackley,
    Ellipsoid,
    Griewank,
    Rastrigin,
    Rosenbrock,
    Schwefel,
    Sphere,
    Weierstrass,
)

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
HAVE_TRITON = fused.triton_installed()
C = 8  # ulps a term may be off on each side (see the module docstring)

DEVICES = [
    pytest.param("cpu", id="interpreted"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.gpu),
]


@pytest.fixture
def kernel_device(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the kernel cases run, with ``OPTBENCH_KERNELS=triton`` (every batch size takes the kernel)."""
    device = request.param
    if not HAVE_TRITON:
        pytest.skip("triton is not installed (pip install 'optbench[test]')")
    if device == "cpu" and not INTERPRETED:
        pytest.skip("runs under TRITON_INTERPRET=1 (test_kernels_under_the_interpreter starts that process)")
    if device == "cuda" and (INTERPRETED or not torch.cuda.is_available()):
        pytest.skip("needs a CUDA GPU (and the compiled, not interpreted, kernels)")
    monkeypatch.setenv(fused.ENV, "triton")
    return device


def eager(problem, X: torch.Tensor) -> torch.Tensor:
    """The eager reference for ``X``, with kernels switched off for this one call."""
    previous = os.environ.get(fused.ENV)
    os.environ[fused.ENV] = "eager"
    try:
        return problem.evaluate(X)
    finally:
        os.environ[fused.ENV] = previous if previous is not None else "auto"


def tolerance(problem, X: torch.Tensor) -> torch.Tensor:
    """Per-row bound on |kernel - eager| for a classic function at ``X`` (shape ``(n, d)``), float64."""
    u = torch.finfo(problem.dtype).eps / 2
    d = problem.space.dim
    gamma = d * u / (1 - d * u)
    X = X.to(torch.float64)
    host = {"device": "cpu", "dtype": torch.float64}
    Z = X * problem.signs.to(**host) if problem.family == "schwefel" else X - problem.shift.to(**host)
    sq = Z * Z
    family = problem.family
    if family in ("sphere", "ellipsoid"):
        w = problem.weights.to(**host) if family == "ellipsoid" else 1.0
        return 2 * (gamma + C * u) * (sq * w).sum(1)
    if family == "rastrigin":
        M = (sq + 10 + 10 * 2 * math.pi * Z.abs()).sum(1) + 10 * d
        return 2 * (gamma + C * u) * M
    if family == "rosenbrock":
        head, tail = Z[:, :-1] + 1, Z[:, 1:] + 1
        M = (100 * (tail.abs() + head * head) ** 2 + (1 + head.abs()) ** 2).sum(1)
        return 2 * (gamma + C * u) * M
    if family == "schwefel":
        M = (Z.abs() * (1 + Z.abs().sqrt())).sum(1) + 418.9828872724339 * d
        return 2 * (gamma + C * u) * M
    rel = gamma + C * u  # relative error of the sum of squares
    if family == "ackley":
        rms = (sq.sum(1) / d).sqrt()
        mean_cos = torch.cos(2 * math.pi * Z).mean(1)
        first = 20 * torch.exp(-0.2 * rms) * (0.2 * rms * (rel + C * u) + (C + 0.2 * rms) * u)
        second = torch.exp(mean_cos) * (gamma + 2 * C * u + (1 + 2 * math.pi * Z.abs().max(1).values) * u)
        return 2 * (first + second) + C * u * (40 + 2 * math.e)
    if family == "griewank":
        A = sq.sum(1) / 4000
        return 2 * (rel * A + (d + 1) * C * u + gamma) + C * u * (1 + A)
    raise AssertionError(family)


def box_points(problem, n: int, seed: int = 0) -> torch.Tensor:
    lower, upper = problem.space.bounds(dtype=problem.dtype)
    gen = torch.Generator().manual_seed(seed)
    U = torch.rand(n, problem.space.dim, generator=gen, dtype=problem.dtype)
    X = lower + (upper - lower) * U
    X[0] = problem.optimum.cpu()  # the optimum, where the values are tiny and cancellation bites
    return X


CLASSIC = {
    "sphere": lambda **kw: Sphere(**kw),
    "rastrigin": lambda **kw: Rastrigin(**kw),
    "rosenbrock": lambda **kw: Rosenbrock(**kw),
    "ellipsoid": lambda **kw: Ellipsoid(rotate=False, **kw),
    "ackley": lambda **kw: Ackley(**kw),
    "griewank": lambda **kw: Griewank(**kw),
    "schwefel": lambda **kw: Schwefel(**kw),
}
UNIFORM = ["sphere", "rastrigin", "ellipsoid", "ackley", "griewank", "schwefel"]
DTYPES = [torch.float32, torch.float64]


def _dims(family: str) -> list[int]:
    return [2, 7, 100, 257] if family == "rosenbrock" else [1, 2, 7, 100, 257]


@pytest.mark.parametrize("kernel_device", DEVICES, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("family", sorted(CLASSIC))
def test_classic_kernel_matches_eager(kernel_device: str, family: str, dtype: torch.dtype) -> None:
    for d in _dims(family):
        problem = CLASSIC[family](dim=d, dtype=dtype, device=kernel_device, instance=3)
        for n in (1, 37):  # n below and not a multiple of any tile's rows
            X = box_points(problem, n, seed=d).to(kernel_device)
            got = problem.evaluate(X)
            want = eager(problem, X)
            assert got.dtype == dtype and got.shape == (n,) and got.device == want.device
            gap = (got.double() - want.double()).abs().cpu()
            bound = tolerance(problem, X.cpu())
            assert bool((gap <= bound).all()), f"{family} d={d} n={n}: {gap.max():.3g} > {bound[gap.argmax()]:.3g}"


@pytest.mark.parametrize("kernel_device", DEVICES, indirect=True)
def test_classic_kernel_strided_and_empty(kernel_device: str) -> None:
    problem = Rastrigin(dim=7, dtype=torch.float64, device=kernel_device)
    wide = box_points(problem, 40, seed=1).repeat(1, 2).to(kernel_device)
    X = wide[:, ::2]  # a column stride of 2
    gap = (problem.evaluate(X) - eager(problem, X.contiguous())).abs().cpu()
    assert bool((gap <= tolerance(problem, X.cpu())).all())
    assert problem.evaluate(X[:0]).shape == (0,)


BITS = {
    "onemax": lambda n, **kw: OneMax(n=n, **kw),
    "leadingones": lambda n, **kw: LeadingOnes(n=n, **kw),
    "needle": lambda n, **kw: Needle(n=n, **kw),
    "trap3": lambda n, **kw: Trap(n=3 * max(n // 3, 1), k=3, **kw),
    "trap4": lambda n, **kw: Trap(n=4 * max(n // 4, 1), k=4, **kw),
}


@pytest.mark.parametrize("kernel_device", DEVICES, indirect=True)
@pytest.mark.parametrize("family", sorted(BITS))
def test_bit_kernel_is_exact(kernel_device: str, family: str) -> None:
    gen = torch.Generator().manual_seed(5)
    for n in (1, 2, 7, 100, 257):
        for instance, dtype in ((0, torch.float64), (2, torch.float32)):
            problem = BITS[family](n, instance=instance, dtype=dtype, device=kernel_device)
            d = problem.space.dim
            X = torch.randint(0, 2, (37, d), generator=gen, dtype=torch.uint8)
            X[0] = problem.optimum.cpu()
            X[1] = 1 - X[0]
            X[2, : d // 2] = X[0, : d // 2]  # a long run of correct leading bits
            X = X.to(kernel_device)
            got, want = problem.evaluate(X), eager(problem, X)
            assert got.dtype == dtype and torch.equal(got, want), f"{family} n={n} instance={instance}"


# ------------------------------------------------------------------ the fused uniform draw

MASK = 0xFFFFFFFF


def philox(counter: list[int], key: list[int]) -> list[int]:
    """Philox4x32-10 in plain Python (Salmon et al.), the reference the kernel must reproduce."""
    c, k = list(counter), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & MASK, (p0 >> 32) ^ c[3] ^ k[1], p0 & MASK]
        k = [(k[0] + 0x9E3779B9) & MASK, (k[1] + 0xBB67AE85) & MASK]
    return c


def test_reference_philox_known_answers() -> None:
    """Random123's known-answer vectors for philox4x32_10."""
    assert philox([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox([MASK] * 4, [MASK] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == [
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def _round(value: Fraction, dtype: torch.dtype) -> float:
    """``value`` correctly rounded to ``dtype`` (ties to even), via its neighbours."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    guess = np_dtype(float(value))
    candidates = [np.nextafter(guess, np_dtype(-np.inf)), guess, np.nextafter(guess, np_dtype(np.inf))]
    return float(min(candidates, key=lambda c: (abs(Fraction(float(c)) - value),
                                                 int(np.frombuffer(c.tobytes(), np.uint8)[0] & 1))))


def reference_row(q: int, seed: int, d: int, lower: torch.Tensor, width: torch.Tensor, *,
                  fma: bool) -> list[float]:
    """Row ``q`` of the draw keyed by ``seed``, as documented in optbench.kernels.fused_uniform.

    ``fma``: ``lower + width * u`` rounded once (a GPU's fused multiply-add); else twice, as Triton's
    interpreter evaluated ``tl.fma`` up to 3.8 (``x * y + z`` in NumPy).
    """
    f64 = lower.dtype == torch.float64
    per = 2 if f64 else 4
    units: list[Fraction] = []
    for g in range(-(-d // per)):
        r = philox([g, q & MASK, q >> 32, 0], [seed & MASK, seed >> 32])
        if f64:
            units += [Fraction((r[0] >> 5) * 2**26 + (r[1] >> 6), 2**53),
                      Fraction((r[2] >> 5) * 2**26 + (r[3] >> 6), 2**53)]
        else:
            units += [Fraction(w >> 8, 2**24) for w in r]
    lo, w = lower.tolist(), width.tolist()
    if fma:
        return [_round(Fraction(w[i]) * units[i] + Fraction(lo[i]), lower.dtype) for i in range(d)]
    products = [Fraction(_round(Fraction(w[i]) * units[i], lower.dtype)) for i in range(d)]
    return [_round(products[i] + Fraction(lo[i]), lower.dtype) for i in range(d)]


@pytest.mark.parametrize("kernel_device", DEVICES, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_uniform_points_follow_the_documented_stream(kernel_device: str, dtype: torch.dtype) -> None:
    problem = Rastrigin(dim=7, dtype=dtype, device=kernel_device)
    seed, offset = 2**63 + 2**40 + 12345, 2**33 - 2  # both words of the key and of the row counter in use
    rows = torch.tensor([0, 1, 2, 5], device=kernel_device)
    points = problem.uniform_points(rows, seed=seed, offset=offset).cpu()
    lower, upper = problem.space.bounds(dtype=dtype)
    for i, r in enumerate(rows.tolist()):
        once = reference_row(offset + r, seed, 7, lower, upper - lower, fma=True)
        if kernel_device == "cuda":
            assert points[i].tolist() == once
        else:  # the interpreter rounded tl.fma twice up to 3.8 and once in 3.9: the draw is exact either way
            twice = reference_row(offset + r, seed, 7, lower, upper - lower, fma=False)
            assert all(got in (a, b) for got, a, b in zip(points[i].tolist(), once, twice, strict=True))


@pytest.mark.parametrize("kernel_device", DEVICES, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_uniform_draw_is_in_the_box_uniform_and_reproducible(kernel_device: str, dtype: torch.dtype) -> None:
    n, d = 1024, 5
    problem = Sphere(dim=d, dtype=dtype, device=kernel_device)
    rows = torch.arange(n, device=kernel_device)
    P = problem.uniform_points(rows, seed=7, offset=1000)
    lower, upper = problem.space.bounds(device=kernel_device, dtype=dtype)
    assert bool(((P >= lower) & (P <= upper)).all())
    U = ((P - lower) / (upper - lower)).double().cpu()
    # 16 equal bins of all n d coordinates: each count ~ Binomial(N, 1/16); 6 sigma (false alarm < 1e-8 a bin)
    N = U.numel()
    counts = torch.histc(U, bins=16, min=0.0, max=1.0)
    assert bool(((counts / N - 1 / 16).abs() <= 6 * math.sqrt(1 / 16 * 15 / 16 / N)).all()), counts
    # neighbouring coordinates (one Philox call, different words) and rows uncorrelated: |r| <= 6 / sqrt(n)
    centred = U - U.mean(0)
    corr = (centred[:, 0] * centred[:, 1]).mean() / (centred[:, 0].std() * centred[:, 1].std())
    assert abs(float(corr)) <= 6 / math.sqrt(n)
    # reproducible, and row r of offset o is row r - k of offset o + k
    assert torch.equal(P, problem.uniform_points(rows, seed=7, offset=1000))
    assert torch.equal(P[10:], problem.uniform_points(rows[:-10], seed=7, offset=1010))
    other = problem.uniform_points(rows, seed=7, offset=1000 + n)
    assert not bool((other.unsqueeze(1) == P.unsqueeze(0)).all(-1).any())  # no row repeats
    assert not torch.equal(problem.uniform_points(rows[:4], seed=8, offset=1000), P[:4])


@pytest.mark.parametrize("kernel_device", DEVICES, indirect=True)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("family", UNIFORM)
def test_evaluate_uniform_matches_its_points(kernel_device: str, family: str, dtype: torch.dtype) -> None:
    for d in (1, 7, 37):  # one group, a ragged last group, many groups
        problem = CLASSIC[family](dim=d, dtype=dtype, device=kernel_device, instance=1)
        assert Capability.UNIFORM_KERNEL in problem.capabilities
        values = problem.evaluate_uniform(37, seed=99, offset=5)
        assert values.shape == (37,) and values.dtype == dtype
        assert torch.equal(values, problem.evaluate_uniform(37, seed=99, offset=5))
        points = problem.uniform_points(torch.arange(37, device=kernel_device), seed=99, offset=5)
        gap = (values.double() - eager(problem, points).double()).abs().cpu()
        assert bool((gap <= tolerance(problem, points.cpu())).all()), f"{family} d={d}"
        assert torch.equal(values[3:], problem.evaluate_uniform(34, seed=99, offset=8))


@pytest.mark.parametrize("kernel_device", DEVICES, indirect=True)
def test_random_search_draws_in_the_kernel(kernel_device: str) -> None:
    problem = Rastrigin(dim=5, dtype=torch.float32, device=kernel_device)
    evaluator = Evaluator(problem, Budget(evaluations=2500))
    best = RandomSearch(batch_size=1000).minimize(evaluator, rng=np.random.default_rng(4))
    assert evaluator.points == 2500
    # the same draw by hand: one key from the trial's generator, rows 0 .. 2499 in batches
    seed = int(np.random.default_rng(4).integers(0, 2**64, dtype=np.uint64))
    values = torch.cat([problem.evaluate_uniform(n, seed=seed, offset=o) for n, o in ((1000, 0), (1000, 1000),
                                                                                         (500, 2000))])
    assert evaluator.best_value == float(values.min())
    row = int(values.argmin())
    assert torch.equal(best, problem.uniform_points(torch.tensor([row], device=kernel_device), seed=seed,
                                                    offset=0)[0])
    gap = abs(float(eager(problem, best.unsqueeze(0))[0]) - evaluator.best_value)
    assert gap <= float(tolerance(problem, best.unsqueeze(0).cpu())[0])


# ------------------------------------------------------------------ where kernels are (not) used


def test_no_uniform_capability_on_the_cpu_or_rotated() -> None:
    assert Capability.UNIFORM_KERNEL not in Rastrigin(dim=3).capabilities  # auto: no kernels on the CPU
    assert Capability.UNIFORM_KERNEL not in Rastrigin(dim=3, rotate=True).capabilities
    assert Capability.UNIFORM_KERNEL not in Ellipsoid(dim=3).capabilities  # rotated by default
    assert Capability.UNIFORM_KERNEL not in Weierstrass(dim=3).capabilities
    assert Capability.UNIFORM_KERNEL not in Rosenbrock(dim=3).capabilities
    with pytest.raises(Unsupported):
        Rastrigin(dim=3).evaluate_uniform(10, seed=1, offset=0)


def test_kernels_only_for_the_functions_they_implement() -> None:
    class Doubled(Sphere):  # a subclass that changes the function must not get Sphere's kernel
        def _f(self, Z: torch.Tensor) -> torch.Tensor:
            return 2 * (Z * Z).sum(dim=1)

    assert Sphere(dim=3)._kernel_ready() and Schwefel(dim=3)._kernel_ready()
    assert not Doubled(dim=3)._kernel_ready()
    assert not Weierstrass(dim=3)._kernel_ready() and not Rastrigin(dim=3, rotate=True)._kernel_ready()


def test_mode_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    X = torch.zeros(fused.MIN_ELEMENTS, 1)
    monkeypatch.setenv(fused.ENV, "eager")
    assert not fused.use_kernel(X) and not fused.kernels_offered(torch.device("cpu"))
    assert Capability.UNIFORM_KERNEL not in Rastrigin(dim=3).capabilities
    monkeypatch.setenv(fused.ENV, "auto")
    assert not fused.use_kernel(X)  # auto never interprets kernels on the CPU
    monkeypatch.setenv(fused.ENV, "fast")
    with pytest.raises(ConfigError, match="OPTBENCH_KERNELS"):
        fused.mode()


@pytest.mark.skipif(INTERPRETED, reason="compiles with inductor, not the interpreter")
def test_compiled_path_matches_eager_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fused.ENV, "compile")
    for problem in (Rastrigin(dim=7, instance=2), Sphere(dim=100, dtype=torch.float32), Schwefel(dim=3)):
        for n in (300, 17):  # dynamic shapes: one graph for both
            X = box_points(problem, n)
            got = problem.evaluate(X)
            assert problem._compiled is not None and problem._compiled._compiled is not None, "nothing compiled"
            want = eager(problem, X)
            assert got.dtype == want.dtype and got.shape == (n,)
            assert bool(((got.double() - want.double()).abs() <= tolerance(problem, X)).all()), problem.id


@pytest.mark.skipif(INTERPRETED, reason="compiles with inductor, not the interpreter")
def test_compiled_path_only_after_it_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    from optbench.kernels import compiled

    monkeypatch.setenv(fused.ENV, "auto")
    monkeypatch.setattr(compiled, "MIN_ELEMENTS", 100)
    monkeypatch.setattr(compiled, "AMORTIZE", 1000)
    problem = Rastrigin(dim=10, instance=1)
    small, large = box_points(problem, 9), box_points(problem, 20)
    for _ in range(10):
        problem.evaluate(small)  # 90 coordinates: never counted, never compiled
    for _ in range(5):  # 5 x 200 = AMORTIZE coordinates, evaluated eagerly
        problem.evaluate(large)
    assert problem._compiled is not None and problem._compiled._compiled is None
    assert problem._compiled.eager_elements == 1000
    got = problem.evaluate(large)
    assert problem._compiled._compiled is not None
    assert bool(((got - eager(problem, large)).abs() <= tolerance(problem, large)).all())
    monkeypatch.setenv(fused.ENV, "eager")
    assert torch.equal(problem.evaluate(large), problem._eager(large))  # eager means eager


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or INTERPRETED, reason="needs a CUDA GPU")
def test_auto_mode_uses_the_kernel_from_the_threshold_on(monkeypatch: pytest.MonkeyPatch) -> None:
    if not HAVE_TRITON:
        pytest.skip("triton is not installed")
    from optbench.kernels import fused_triton

    calls = []
    original = fused_triton.evaluate_classic
    monkeypatch.setattr(fused_triton, "evaluate_classic", lambda spec, X: calls.append(X.shape) or original(spec, X))
    monkeypatch.setenv(fused.ENV, "auto")
    problem = Rastrigin(dim=100, dtype=torch.float32, device="cuda")
    assert Capability.UNIFORM_KERNEL in problem.capabilities
    small = box_points(problem, fused.MIN_ELEMENTS // 100 - 1).cuda()
    large = box_points(problem, fused.MIN_ELEMENTS // 100 + 1).cuda()
    problem.evaluate(small)
    assert calls == []
    got = problem.evaluate(large)
    assert calls == [large.shape]
    gap = (got.double() - eager(problem, large).double()).abs().cpu()
    assert bool((gap <= tolerance(problem, large.cpu())).all())


@pytest.mark.skipif(INTERPRETED, reason="this is the parent process")
def test_kernels_under_the_interpreter() -> None:
    """Rerun this file with ``TRITON_INTERPRET=1`` so the ``interpreted`` cases run the Triton kernels on the CPU."""
    if not HAVE_TRITON:
        pytest.skip("triton is not installed (pip install 'optbench[test]')")
    run_interpreted(__file__, "-m", "not gpu", "-k", "interpreted or reference or capability or mode")
