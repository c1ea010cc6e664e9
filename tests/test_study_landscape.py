"""optbench study landscape: the features' defining properties, pflacco's reference values, blind search's 2^k
scaling on pow, the budget grid of the advantage score, and the CLI."""

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
from optbench.studies.base import StudyOptions
from optbench.studies.landscape import features as ft
from optbench.studies.landscape.analysis import MIN_PROBLEMS, advantage_by_budget, best_at
from optbench.studies.landscape.blind import LOG2_GEOMETRIC_SD, blind_run, slope_fit
from optbench.studies.landscape.probes import measure, random_walks, uniform_sample, values_of
from optbench.studies.landscape.study import LandscapeStudy

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
    store = str(tmp_path / "s.sqlite")
    done = _study("--quick", "--store", store, "--format", "json", "--report", str(tmp_path / "report"), "-q",
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["study"] == "landscape" and data["failed_tasks"] == 0 and data["schema"] == 2
    by_problem = {p["problem"]: p for p in data["data"]["problems"]}
    assert by_problem["onemax(n=32)"]["summary"]["fdc"] == pytest.approx(1.0, abs=1e-12)
    assert by_problem["trap(n=20, k=4)"]["summary"]["fdc"] < 0
    for p in by_problem.values():  # every feature is a mean over independent samples, with its interval
        assert p["samples"] == 3 and len(p["per_sample"]) == 3
        for key, ci in p["summary_ci"].items():
            if ci is not None:
                assert ci[0] <= p["summary"][key] <= ci[1], (p["problem"], key)
    # pow has no fitness-distance correlation: its interval over samples holds 0
    low, high = by_problem["pow(k=8)"]["summary_ci"]["fdc"]
    assert low <= 0 <= high
    # GA solves OneMax every time and random search never does
    assert by_problem["onemax(n=32)"]["optimizers"]["ga"]["vs_random"] == 1.0
    assert "cmaes" in by_problem["sphere(dim=5)"]["optimizers"]
    # the chosen budget has the most (or enough) problems that are not saturated, and says how many
    for opt, pick in data["data"]["chosen_budget"].items():
        counts = [sum(0 < a < 1 for a in (p["by_budget"][f"{b:g}"].get(opt) for p in by_problem.values())
                      if a is not None) for b in data["data"]["budgets"]]
        assert pick["not_saturated"] == counts[data["data"]["budgets"].index(pick["budget"])]
        assert pick["not_saturated"] >= min(MIN_PROBLEMS, max(counts)) or pick["not_saturated"] == max(counts)
    assert any("not saturated" in f for f in data["findings"])
    assert any("Jones & Forrest" in n for n in data["tables"][0]["notes"])  # the sign convention
    fit = data["data"]["blind"]["fit"]
    assert {r["k"] for r in data["data"]["blind"]["per_k"]} == set(range(8, 17))
    assert fit["ci"][0] < fit["slope"] < fit["ci"][1]
    assert (tmp_path / "report" / "plots" / "landscape-features.png").stat().st_size > 1000
    assert (tmp_path / "report" / "plots" / "landscape-pow-scaling.png").stat().st_size > 1000
    redrawn = run("report", "--store", store, "--format", "json", cwd=tmp_path)
    assert redrawn.returncode == 0, redrawn.stderr
    assert json.loads(redrawn.stdout)["tables"] == data["tables"]


def test_blind_search_on_pow_scales_as_two_to_the_k():
    ks, evals = [], []
    for k in range(4, 13):
        problem = make_problem("pow", {"n": 64, "k": k}, instance=0)
        for repeat in range(6):
            evaluator = Evaluator(problem, Budget(evaluations=1e9))
            out = blind_run(problem, evaluator, seed=1000 * repeat + k, batch=4096)
            assert not out["censored"] and 1 <= out["evaluations"] <= evaluator.evaluations  # every guess counted
            ks.append(k)
            evals.append(out["evaluations"])
    fit = slope_fit(ks, evals)
    # the slope's standard error from the known spread of log2 of a geometric count and the design
    se = LOG2_GEOMETRIC_SD / math.sqrt(sum((k - np.mean(ks)) ** 2 for k in ks))
    assert abs(fit["slope"] - 1.0) < 4 * se  # a 4-sigma tolerance: fails by chance about once in 16,000 runs
    assert fit["ci"][0] < fit["slope"] < fit["ci"][1]
    assert fit["ci"][1] - fit["ci"][0] < 8 * se


def test_slope_interval_covers_the_true_slope_by_simulation():
    rng = np.random.default_rng(1)
    ks = np.repeat(np.arange(8, 17), 4)
    hits = 0
    for _ in range(400):
        evals = rng.geometric(2.0**-ks)
        ci = slope_fit(ks.tolist(), evals.tolist())["ci"]
        hits += ci[0] <= 1.0 <= ci[1]
    assert hits / 400 >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / 400)


def test_advantage_is_rescored_at_every_budget_from_the_trace():
    from optbench.api import TracePoint, TrialResult, TrialSpec, TrialState

    def result(opt, seed, trace):
        spec = TrialSpec(problem="sphere", optimizer=opt, budget=Budget(evaluations=100), seed=seed)
        return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=trace[-1][1], optimal_value=0.0,
                           evaluations=trace[-1][0], trace=tuple(TracePoint(e, 0.0, b) for e, b in trace))

    ga = [result("ga", s, [(10, 5.0 + s), (100, 1.0 + s)]) for s in range(3)]
    rnd = [result("random", s, [(10, 2.0 + s)]) for s in range(3)]
    assert best_at(ga[0], 50) == 5.0 and best_at(ga[0], 5) == math.inf
    by_budget = advantage_by_budget({"ga": ga, "random": rnd}, [10, 100])
    assert by_budget["10"]["ga"] == 0.0  # worse than random early on: saturated the other way
    assert 0 < by_budget["100"]["ga"] < 1  # overlapping at 100: not saturated


def test_tasks_have_independent_samples_and_blind_runs():
    study = LandscapeStudy(StudyOptions(problem="onemax(n=16)", optimizer="random", seeds=2, quick=True,
                                        extra={"problems": "onemax(n=16)", "samples": 4, "pow_k": "8,9",
                                               "blind_runs": 3}))
    specs = study.tasks()
    features = [dict(s.task_params) for s in specs if s.task and dict(s.task_params)["role"] == "features"]
    blind = [dict(s.task_params) for s in specs if s.task and dict(s.task_params)["role"] == "blind"]
    assert sorted(p["seed"] for p in features) == [0, 1, 2, 3]
    assert [(p["run"], p["k"]) for p in blind] == [(0, 8), (0, 9), (1, 8), (1, 9), (2, 8), (2, 9)]  # round-robin
    assert len({s.key for s in specs}) == len(specs)


@pytest.mark.slow
def test_cli_takes_the_optimizers_from_a_compare_run(tmp_path):
    store = str(tmp_path / "s.sqlite")
    compare = run("compare", "--problems", "onemax(n=16),sphere(dim=3)", "--optimizers", "ga,random", "--seeds", "2",
                  "--budget", "200", "--store", store, "--format", "json", "-q", cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr
    done = _study("--from-run", "1", "--sample", "60", "--samples", "2", "--pow-k", "none", "--store", store,
                  "--format", "json", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    problems = {p["problem"]: p for p in json.loads(done.stdout)["data"]["problems"]}
    assert set(problems) == {"onemax(n=16)", "sphere(dim=3)"}
    assert problems["onemax(n=16)"]["optimizers"]["ga"]["runs"] == 2


@pytest.mark.parametrize("args,message", [(["--sample", "0"], "--sample"), (["--problems", "nosuch"], "nosuch"),
                                          (["--from-run", "7"], "no run 7"), (["--samples", "1"], "--samples"),
                                          (["--pow-k", "x"], "--pow-k"), (["--pow-k", "50"], "--pow-k"),
                                          (["--blind-runs", "0"], "--blind-runs")])
def test_cli_refuses_bad_input_with_one_line(tmp_path, args, message):
    done = _study(*args, "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert_one_line_exit_2(done, message)
