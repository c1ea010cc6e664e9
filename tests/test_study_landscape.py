"""optbench study landscape: the features' defining properties, pflacco's reference values, and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from clirun import assert_one_line_exit_2, run

from optbench.api import Budget
from optbench.evaluator import Evaluator
from optbench.registry import make_problem
from optbench.studies.landscape import features as ft
from optbench.studies.landscape.probes import measure, random_walks, uniform_sample, values_of

EPS = np.finfo(np.float64).eps
PFLACCO = Path(__file__).parent / "data" / "pflacco"


def _measure(name: str, params: dict, *, sample: int, seed: int = 0) -> tuple[dict, Evaluator]:
    problem = make_problem(name, params, instance=0)
    evaluator = Evaluator(problem, Budget(evaluations=1e12))
    return measure(problem, evaluator, sample=sample, seed=seed), evaluator


def test_onemax_fitness_distance_correlation_is_exactly_one():
    # f(x) is the Hamming distance to the optimum, so Pearson's r is 1 up to the rounding of m-term sums
    for instance in (0, 1):  # instance 1 moves the optimum with an XOR mask
        problem = make_problem("onemax", {"n": 48}, instance=instance)
        X = uniform_sample(problem, 400, torch.Generator().manual_seed(instance))
        values = problem.evaluate(X).numpy()
        distances = (X != problem.optimum).sum(dim=1).double().numpy()
        assert ft.fitness_distance_correlation(values, distances) == pytest.approx(1.0, abs=10 * 400 * EPS)
    features, evaluator = _measure("onemax", {"n": 32}, sample=200)
    assert features["optimum"] == "known"
    assert features["fdc"] == pytest.approx(1.0, abs=10 * 200 * EPS)
    assert features["neutrality"] == 0.0  # every flip changes the count of wrong bits
    # every probe went through the evaluator, which counted it
    assert evaluator.evaluations == evaluator.points >= 200 + 200 + 20 * 32


def _bartlett_se(rho: float, lag: int, points: int) -> float:
    """Standard error of a lag-s autocorrelation estimate of an AR(1)-like series (Bartlett's formula)."""
    r2 = rho * rho
    return math.sqrt((1 + r2) / (1 - r2) / points) * max(1.0, math.sqrt(lag))


@pytest.mark.parametrize("n,K", [(32, 3), (24, 1)])
def test_nk_walk_autocorrelation_follows_weinberger(n, K):
    # rho(s) = (1 - (K+1)/N)^s (Weinberger 1991); averaged over instances, within a few standard errors
    expected = 1 - (K + 1) / n
    lags = (1, 2, 4)
    estimates = []
    walks, length = 8, 1000
    for instance in range(4):
        problem = make_problem("nk", {"n": n, "K": K}, instance=instance)
        evaluator = Evaluator(problem, Budget(evaluations=1e9))
        gen = torch.Generator().manual_seed(instance)
        W = random_walks(problem, uniform_sample(problem, walks, gen), length, scale=0.0, generator=gen)
        values = values_of(evaluator, W.reshape(walks * length, n)).reshape(walks, length)
        estimates.append(ft.walk_autocorrelation(values, lags))
    mean = np.mean(estimates, axis=0)
    for lag, estimate in zip(lags, mean, strict=True):
        se = _bartlett_se(expected, lag, 4 * walks * length)
        assert abs(estimate - expected**lag) < 4 * se + 0.02, (lag, estimate, expected**lag)  # 0.02: instance spread


def test_proof_of_work_has_no_locality_and_no_fitness_distance_correlation():
    features, _ = _measure("pow", {"k": 8}, sample=2000)
    walk_points = features["walks"] * features["walk_length"]
    assert abs(features["rho"][0]) < 3 / math.sqrt(walk_points)
    assert features["optimum"] == "sampled"  # about 2000 / 2^8 strings reach f = 0
    assert features["fdc"] is not None and abs(features["fdc"]) < 3 / math.sqrt(2000)
    assert features["local_search"]["share"] == 1.0  # every climb ends somewhere else


def test_traps_are_deceptive_and_sphere_is_not():
    trap, _ = _measure("trap", {"n": 40, "k": 4}, sample=600)
    assert trap["fdc"] < -3 / math.sqrt(600)
    sphere, evaluator = _measure("sphere", {"dim": 5}, sample=400)
    assert sphere["fdc"] > 0.9  # f = |x - x*|^2: a monotone function of the distance
    assert sphere["local_search"]["distinct"] == 1  # a convex bowl: every L-BFGS-B run ends at x*
    assert evaluator.gradient_evaluations > 0  # L-BFGS-B's gradients are counted too
    assert sphere["rho"][0] > sphere["rho"][-1] > 0


def test_features_match_pflacco_on_fixed_samples():
    reference = json.loads((PFLACCO / "reference.json").read_text())
    assert reference["provenance"]["pflacco"] == "1.2.2"
    samples = np.load(PFLACCO / "samples.npz")
    for name, expected in reference["features"].items():
        X, y = samples[f"{name}_X"], samples[f"{name}_y"]
        m = len(y)
        # sums over m(m-1)/2 distances or m values: relative rounding error below (number of terms) * eps
        tol = m * m * EPS
        for key, value in ft.dispersion(X, y).items():
            assert value == pytest.approx(expected[f"disp.{key}"], rel=tol, abs=tol), (name, key)
        assert ft.skewness(y) == pytest.approx(expected["ela_distr.skewness"], rel=tol)
        assert ft.kurtosis(y) == pytest.approx(expected["ela_distr.kurtosis"], rel=tol)
        order, steps = ft.nearest_neighbour_tour(X, start=0)
        for key, value in ft.information_content(y[order], steps).items():
            assert value == pytest.approx(expected[f"ic.{key}"], rel=tol, abs=tol), (name, key)


def test_vargha_delaney_and_spearman():
    assert ft.vargha_delaney([0, 0, 0], [1, 2, 3]) == 1.0
    assert ft.vargha_delaney([1, 2], [1, 2]) == 0.5
    assert ft.spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert ft.spearman([1, 2], [1, 2]) is None


def _study(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("study", "landscape", *args, cwd=cwd)


def test_cli_quick_runs_end_to_end(tmp_path):
    done = _study("--quick", "--store", str(tmp_path / "s.sqlite"), "--format", "json", "--report",
                  str(tmp_path / "report"), "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["study"] == "landscape" and data["failed_tasks"] == 0
    by_problem = {p["problem"]: p for p in data["data"]["problems"]}
    assert by_problem["onemax(n=32)"]["summary"]["fdc"] == pytest.approx(1.0, abs=1e-12)
    assert by_problem["trap(n=20, k=4)"]["summary"]["fdc"] < 0
    # GA solves OneMax every time and random search never does
    assert by_problem["onemax(n=32)"]["optimizers"]["ga"]["vs_random"] == 1.0
    assert "cmaes" in by_problem["sphere(dim=5)"]["optimizers"]
    assert data["tables"][0]["rows"] and data["findings"]
    assert (tmp_path / "report" / "plots" / "landscape-features.png").stat().st_size > 1000


@pytest.mark.slow
def test_cli_takes_the_optimizers_from_a_compare_run(tmp_path):
    store = str(tmp_path / "s.sqlite")
    compare = run("compare", "--problems", "onemax(n=16),sphere(dim=3)", "--optimizers", "ga,random", "--seeds", "2",
                  "--budget", "200", "--store", store, "--format", "json", "-q", cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr
    done = _study("--from-run", "1", "--sample", "60", "--store", store, "--format", "json", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    problems = {p["problem"]: p for p in json.loads(done.stdout)["data"]["problems"]}
    assert set(problems) == {"onemax(n=16)", "sphere(dim=3)"}
    assert problems["onemax(n=16)"]["optimizers"]["ga"]["runs"] == 2


@pytest.mark.parametrize("args,message", [(["--sample", "0"], "--sample"), (["--problems", "nosuch"], "nosuch"),
                                          (["--from-run", "7"], "no run 7")])
def test_cli_refuses_bad_input_with_one_line(tmp_path, args, message):
    done = _study(*args, "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert_one_line_exit_2(done, message)
