"""The GA's C offspring pass gives the torch path's populations bit for bit, and the torch path stays the fallback.

Each run records every population the GA evaluates; the native run (the default on the CPU where a C
compiler exists) and the torch run (``OPTBENCH_KERNELS=eager``) must agree in every byte, over seeds,
float32 and float64, bounded and unbounded spaces, per-coordinate steps, and bit strings.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
import torch

from optbench.api import Budget
from optbench.evaluator import Evaluator
from optbench.kernels import ga_native, native
from optbench.optimizers import ga
from optbench.optimizers.ga import GeneticAlgorithm
from optbench.registry import problem_class

NATIVE = pytest.mark.skipif(native.compiler() is None, reason="no C compiler")
# real-valued populations take the C pass only where torch's lerp fuses its multiply-add, as the pass does
REAL = pytest.mark.skipif(not ga_native.fused_lerp(), reason="torch's CPU lerp is not fused here (not AVX2/AVX-512)")


class _Recording(Evaluator):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[torch.Tensor] = []

    def evaluate(self, X: torch.Tensor) -> torch.Tensor:
        self.batches.append(X.clone())
        return super().evaluate(X)


def _run(problem: Any, optimizer: GeneticAlgorithm, seed: int, generations: int = 12) -> _Recording:
    evaluator = _Recording(problem, Budget(evaluations=optimizer.popsize * generations))
    optimizer.minimize(evaluator, rng=np.random.default_rng(seed))
    return evaluator


def _bytes(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.uint8)


def _assert_identical(a: _Recording, b: _Recording) -> None:
    assert len(a.batches) == len(b.batches) > 3
    for generation, (x, y) in enumerate(zip(a.batches, b.batches, strict=True)):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert torch.equal(_bytes(x), _bytes(y)), f"populations differ at generation {generation}"
    assert a.best_value == b.best_value and torch.equal(a.best_x, b.best_x)


CASES = [
    ("rastrigin", {"dim": 100, "dtype": torch.float32}, {"popsize": 200}),
    ("rastrigin", {"dim": 7, "dtype": torch.float64}, {"popsize": 25, "elites": 0}),
    ("rastrigin", {"dim": 33, "dtype": torch.float32}, {"popsize": 41, "mutation_rate": 0.3, "crossover_rate": 0.6,
                                                        "tournament": 5}),
    ("rosenbrock", {"dim": 10, "dtype": torch.float64}, {"popsize": 30, "mutation_rate": 0.0}),
    ("onemax", {"n": 37}, {"popsize": 24}),
    ("leadingones", {"n": 64}, {"popsize": 31, "mutation_rate": 0.2, "elites": 1}),
]


@NATIVE
@pytest.mark.parametrize(("family", "params", "settings"), CASES,
                         ids=[f"{c[0]}-{c[1].get('dtype', 'bits')}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("seed", [0, 1])
def test_native_pass_gives_the_torch_populations(monkeypatch, family, params, settings, seed):
    problem = problem_class(family)(instance=1, **params)
    optimizer = GeneticAlgorithm(**settings)
    dtype = torch.uint8 if problem.space.kind.name == "BITS" else problem.dtype
    if dtype != torch.uint8 and not ga_native.fused_lerp():
        pytest.skip("torch's CPU lerp is not fused here (not AVX2/AVX-512): reals keep the torch path")
    assert ga_native.kernel(dtype, torch.device("cpu")) is not None  # the native path is really taken
    native_run = _run(problem, optimizer, seed)
    monkeypatch.setenv("OPTBENCH_KERNELS", "eager")
    assert ga_native.kernel(dtype, torch.device("cpu")) is None
    _assert_identical(_run(problem, optimizer, seed), native_run)


@NATIVE
@REAL
@pytest.mark.parametrize("threads", [1, 2])
def test_native_pass_matches_torch_with_per_coordinate_steps_and_no_box(monkeypatch, threads):
    """An unbounded space with unequal box widths: noise times steps[site % d], no clamping; torch on 1 and 2
    threads (its kernels split large tensors between threads, each chunk with its own scalar tail)."""
    problem = problem_class("rastrigin")(dim=50, instance=2, dtype=torch.float32)
    lower = torch.linspace(-5.0, -1.0, 50, dtype=torch.float32)
    upper = torch.linspace(1.0, 7.0, 50, dtype=torch.float32)
    monkeypatch.setattr(type(problem.space), "is_bounded", property(lambda self: False))
    monkeypatch.setattr(type(problem.space), "bounds", lambda self, device=None, dtype=None: (
        lower.to(device=device, dtype=dtype), upper.to(device=device, dtype=dtype)))
    optimizer = GeneticAlgorithm(popsize=700, mutation_rate=0.05)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        native_run = _run(problem, optimizer, 5, generations=6)
        monkeypatch.setenv("OPTBENCH_KERNELS", "eager")
        torch_run = _run(problem, optimizer, 5, generations=6)
    finally:
        torch.set_num_threads(previous)
    _assert_identical(torch_run, native_run)
    assert float(native_run.batches[-1].abs().max()) > 0


@NATIVE
@REAL
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_pair_at_the_crossover_rate_is_copied_as_torch_compares(dtype):
    """A crossover uniform equal to the rate rounded to the dtype (the rate itself a hair above it): torch's
    ``lt_`` compares in the uniforms' dtype, so the pair is not crossed; the C pass must agree."""
    problem = problem_class("rastrigin")(dim=10, instance=1, dtype=dtype)
    population = torch.rand(20, 10, generator=torch.Generator().manual_seed(3), dtype=dtype) * 10 - 5
    fitness = problem.evaluate(population)
    gen = torch.Generator().manual_seed(7)
    probe = torch.Generator()
    probe.set_state(gen.get_state())
    torch.randint(0, 20, (3, 18), generator=probe)  # the tournament's draw comes first
    uniforms = torch.rand(9, generator=probe, dtype=dtype)
    rate = float(uniforms[3]) * (1 + 1e-9) if dtype == torch.float32 else float(uniforms[3])
    assert float(torch.tensor(rate, dtype=dtype)) == float(uniforms[3])
    optimizer = GeneticAlgorithm(popsize=20, crossover_rate=rate, mutation_rate=0.0)
    mutation = ga._Mutation.of(optimizer, problem.space, problem.space.bounds(dtype=dtype))
    buffers = [torch.zeros(20 * 10 + 1, dtype=dtype) for _ in range(2)]
    streams = [torch.Generator(), torch.Generator()]
    for stream in streams:
        stream.set_state(gen.get_state())
    optimizer._breed(population, fitness, buffers[0], problem.space, mutation, streams[0])
    fn = ga_native.kernel(dtype, torch.device("cpu"))
    optimizer._breed_native(fn, population, fitness, buffers[1], problem.space, mutation, streams[1])
    assert torch.equal(_bytes(buffers[0]), _bytes(buffers[1]))
    assert torch.equal(streams[0].get_state(), streams[1].get_state())  # the same draws were made


def test_without_a_compiler_the_torch_path_runs_and_says_so_once(monkeypatch, tmp_path, caplog):
    problem = problem_class("rastrigin")(dim=12, instance=1, dtype=torch.float64)
    optimizer = GeneticAlgorithm(popsize=20)
    monkeypatch.setenv("OPTBENCH_KERNELS", "eager")
    reference = _run(problem, optimizer, 3)
    monkeypatch.setenv("OPTBENCH_KERNELS", "auto")
    monkeypatch.setenv(native.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(native.CC_ENV, str(tmp_path / "no-such-cc"))
    calls = []
    monkeypatch.setattr(ga.GeneticAlgorithm, "_breed_native", lambda *a, **k: calls.append(a))
    with caplog.at_level(logging.DEBUG, logger="optbench.kernels.native"):
        fallback = _run(problem, optimizer, 3)
        _run(problem, optimizer, 3)
    assert not calls and not (tmp_path / "cache").exists()
    assert caplog.text.count("no C compiler") == 1
    _assert_identical(reference, fallback)


@NATIVE
def test_a_failed_compilation_falls_back(monkeypatch, tmp_path, caplog):
    """A compiler that exits non-zero (here: ``false``) leaves no library behind and the torch path running."""
    monkeypatch.setenv(native.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(native.CC_ENV, "false")
    with caplog.at_level(logging.DEBUG, logger="optbench.kernels.native"):
        assert ga_native.kernel(torch.float32, torch.device("cpu")) is None
    assert "failed" in caplog.text and list(tmp_path.iterdir()) == []


@NATIVE
def test_the_library_is_cached_under_a_key_of_source_and_flags(monkeypatch, tmp_path):
    monkeypatch.setenv(native.CACHE_ENV, str(tmp_path))
    assert native.library("ga_pass") is not None
    built = [p.name for p in tmp_path.iterdir()]
    assert len(built) == 1 and built[0].startswith("ga_pass-") and built[0].endswith(".so")
    monkeypatch.setattr(native, "BASE_FLAGS", (*native.BASE_FLAGS, "-DOPTBENCH_TEST_FLAG"))
    assert native.library("ga_pass") is not None
    assert len(list(tmp_path.iterdir())) == 2  # other flags, another library; no temporary left behind


@NATIVE
def test_builds_racing_for_one_library_each_load_a_complete_one(tmp_path):
    """Two builds of the same library into an empty cache at once (as two processes would): both load it, and
    the cache ends with the one library and no temporaries (each compiles to its own file, then renames)."""
    from concurrent.futures import ThreadPoolExecutor

    cc, options = native.compiler(), native.flags()
    with ThreadPoolExecutor(2) as pool:
        libraries = list(pool.map(lambda _: native._build("ga_pass", cc, tmp_path, options), range(2)))
    assert all(lib is not None and hasattr(lib, "ga_real_f32") for lib in libraries)
    assert [p.name.startswith("ga_pass-") and p.suffix == ".so" for p in tmp_path.iterdir()] == [True]


def test_eager_switch_turns_native_kernels_off(monkeypatch):
    monkeypatch.setenv("OPTBENCH_KERNELS", "eager")
    assert not native.enabled()
    assert ga_native.kernel(torch.float32, torch.device("cpu")) is None
    monkeypatch.setenv("OPTBENCH_KERNELS", "auto")
    assert native.enabled()
    assert ga_native.kernel(torch.float16, torch.device("cpu")) is None  # dtypes without a C pass stay on torch


def test_where_torchs_lerp_is_not_fused_reals_keep_the_torch_path_and_bits_the_c_pass(monkeypatch):
    monkeypatch.setattr(native, "flags", lambda: native.BASE_FLAGS)  # as under torch's DEFAULT capability
    assert not ga_native.fused_lerp()
    assert ga_native.kernel(torch.float64, torch.device("cpu")) is None
    assert ga_native.kernel(torch.float32, torch.device("cpu")) is None
    if native.compiler() is not None:
        assert ga_native.kernel(torch.uint8, torch.device("cpu")) is not None
