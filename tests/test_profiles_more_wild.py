"""Moré & Wild (2009) data and performance profiles: hand-computed on synthetic traces, their invariants,
and their place in every output (terminal, JSON, CSV, Markdown, HTML)."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from optbench.analysis import analyze
from optbench.analysis.profiles import more_wild, problem_dimension
from optbench.api import Budget, TracePoint, TrialResult, TrialSpec, TrialState


def run(problem: str, optimizer: str, seed: int, trace: list[tuple[float, float]], *, optimum: float | None,
        problem_id: str, spent: float = 100.0) -> TrialResult:
    """A completed trial with the given ``(evaluations, best-so-far)`` trace."""
    spec = TrialSpec(problem=problem, optimizer=optimizer, budget=Budget(evaluations=spent), seed=seed)
    points = tuple(TracePoint(e, e / 100, b) for e, b in trace)
    return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=trace[-1][1], optimal_value=optimum,
                       target=1e-8, evaluations=spent, seconds=spent / 100, trace=points, problem_id=problem_id)


def synthetic() -> list[TrialResult]:
    """Problem p (dimension 1, optimum 0) and problem q (no optimum, no dimension); optimizers A and B.

    p: every run starts at 10, so f0 = 10, f_L = 0. q: every run starts at 4 and the best reached is 0.
    """
    return [
        run("p", "A", 0, [(1, 10), (5, 1), (20, 0.001)], optimum=0.0, problem_id="p_d1_i0"),
        run("p", "A", 1, [(1, 10), (8, 0.5)], optimum=0.0, problem_id="p_d1_i0"),
        run("p", "B", 0, [(1, 10), (50, 0.005)], optimum=0.0, problem_id="p_d1_i0"),
        run("p", "B", 1, [(1, 10)], optimum=0.0, problem_id="p_d1_i0"),
        run("q", "A", 0, [(1, 4), (10, 2)], optimum=None, problem_id="q_i0"),
        run("q", "A", 1, [(1, 4)], optimum=None, problem_id="q_i0"),
        run("q", "B", 0, [(1, 4), (3, 0)], optimum=None, problem_id="q_i0"),
        run("q", "B", 1, [(1, 4), (6, 1)], optimum=None, problem_id="q_i0"),
    ]


def test_profiles_at_tau_1e_1_by_hand():
    # tau = 0.1: p passes at f <= 1 (A: 5 and 8 evaluations, B: 50 and never), q at f <= 0.4 (B seed 0 at 3).
    # Data profile in simplex gradients: p has n_p + 1 = 2 (2.5, 4, 25), q has no dimension (3).
    prof = more_wild(synthetic(), 0.1)
    assert prof.problems == 2
    np.testing.assert_array_equal(prof.data_alphas, [2.5, 3, 4, 25])
    np.testing.assert_array_equal(prof.data["A"], [0.25, 0.25, 0.5, 0.5])  # (1/2 + 0) / 2, then (1 + 0) / 2
    np.testing.assert_array_equal(prof.data["B"], [0, 0.25, 0.25, 0.5])
    # ERT: p: A (5 + 8) / 2 = 6.5, B (50 + 100) / 1 = 150; q: A never, B (3 + 100) / 1 = 103
    np.testing.assert_allclose(prof.performance_alphas, [1, 150 / 6.5], rtol=1e-15)
    np.testing.assert_array_equal(prof.performance["A"], [0.5, 0.5])
    np.testing.assert_array_equal(prof.performance["B"], [0.5, 1.0])
    assert prof.solved_runs == {"A": 0.5, "B": 0.5}
    assert prof.solved_problems == {"A": 0.5, "B": 1.0}


def test_profiles_at_tau_1e_3_by_hand():
    # tau = 1e-3: p passes at f <= 0.01 (A seed 0 at 20, B seed 0 at 50), q at f <= 0.004 (B seed 0 at 3)
    prof = more_wild(synthetic(), 1e-3)
    np.testing.assert_array_equal(prof.data_alphas, [3, 10, 25])
    np.testing.assert_array_equal(prof.data["A"], [0, 0.25, 0.25])
    np.testing.assert_array_equal(prof.data["B"], [0.25, 0.25, 0.5])
    # ERT: p: A (20 + 100) = 120, B (50 + 100) = 150 -> ratios 1 and 1.25; q: B alone
    np.testing.assert_allclose(prof.performance_alphas, [1, 1.25], rtol=1e-15)
    np.testing.assert_array_equal(prof.performance["A"], [0.5, 0.5])
    np.testing.assert_array_equal(prof.performance["B"], [0.5, 1.0])


def test_dimension_comes_from_the_problem_id():
    assert problem_dimension("rastrigin_d10_i3") == 10
    assert problem_dimension("teacher_d81_i0") == 81
    assert problem_dimension("rastrigin_d10_rotate-true_i3") == 10
    assert problem_dimension("q_i0") == 0


def random_results(rng: np.random.Generator) -> list[TrialResult]:
    """Random monotone traces on 1-4 problems, 1-4 optimizers (some skipping a problem), 1-5 seeds."""
    out = []
    for p in range(int(rng.integers(1, 5))):
        optimum = 0.0 if rng.random() < 0.5 else None
        for o in range(int(rng.integers(1, 5))):
            if rng.random() < 0.2:
                continue  # this optimizer has no run on this problem
            for seed in range(int(rng.integers(1, 6))):
                evals = np.cumsum(rng.integers(1, 40, size=int(rng.integers(1, 8)))).astype(float)
                best = np.minimum.accumulate(10 ** rng.uniform(-9, 1, size=evals.size))
                out.append(run(f"p{p}", f"o{o}", seed, list(zip(evals, best, strict=True)), optimum=optimum,
                               problem_id=f"p{p}_d{p + 1}_i0", spent=float(evals[-1]) + 5))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_every_profile_is_a_non_decreasing_step_function_reaching_the_share_solved(seed):
    results = random_results(np.random.default_rng(seed))
    if not results:
        return
    for tau in (1e-1, 1e-3, 1e-5, 1e-7):
        prof = more_wild(results, tau)
        problems = sorted({r.spec.problem for r in results})
        assert prof.problems == len(problems)
        for alphas, curves, limits in ((prof.data_alphas, prof.data, prof.solved_runs),
                                       (prof.performance_alphas, prof.performance, prof.solved_problems)):
            assert np.all(np.diff(alphas) > 0)  # the breakpoints, strictly increasing
            for name, curve in curves.items():
                assert curve.shape == alphas.shape
                if not alphas.size:  # no run of anyone passed: the profile is 0 everywhere
                    assert limits[name] == 0
                    continue
                assert np.all(np.diff(curve) >= 0) and curve.min() >= 0 and curve.max() <= 1
                assert curve[-1] == pytest.approx(limits[name], abs=1e-12)  # it ends at the share solved
        for name in prof.data:  # the limits, counted directly from the traces
            shares, anywhere = [], 0
            for p in problems:
                mine = [r for r in results if r.spec.problem == p and r.spec.optimizer == name]
                pool = [r for r in results if r.spec.problem == p]
                f_low = pool[0].optimal_value if pool[0].optimal_value is not None else min(
                    pt.best for r in pool for pt in r.trace)
                f0 = float(np.median([r.trace[0].best for r in pool]))
                level = f_low + tau * (f0 - f_low)
                hits = [any(pt.best <= level for pt in r.trace) for r in mine]
                shares.append(np.mean(hits) if mine else 0.0)
                anywhere += any(hits)
            assert prof.solved_runs[name] == pytest.approx(float(np.mean(shares)), abs=1e-12)
            assert prof.solved_problems[name] == pytest.approx(anywhere / len(problems), abs=1e-12)
        assert math.isclose(prof.performance_alphas[0], 1.0)  # the fastest optimizer of a problem is at ratio 1


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A real two-problem campaign (sphere, Rastrigin) of random search and CMA-ES, stored in SQLite."""
    from optbench.cli import main

    store = tmp_path_factory.mktemp("mw") / "s.sqlite"
    code = main(["compare", "--problems", "sphere(dim=2),rastrigin(dim=2)", "--optimizers", "random,cmaes",
                 "--seeds", "2", "--budget", "300", "--device", "cpu", "--store", str(store), "-q",
                 "--format", "csv"])
    assert code == 0
    return store


def test_profiles_in_every_output(campaign, capsys, tmp_path):
    from optbench.cli import main

    capsys.readouterr()
    assert main(["report", "--store", str(campaign), "--format", "json", "--tau", "1e-2,1e-4"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["tau"] for p in data["more_wild"]["profiles"]] == [1e-2, 1e-4]
    profile = data["more_wild"]["profiles"][0]
    assert profile["problems"] == 2 and set(profile["data"]["curves"]) == {"random", "cmaes"}
    assert {"solved_tau_1e-2", "ert_tau_1e-4"} <= set(data["cells"][0])
    for cell in data["cells"]:
        assert 0 <= cell["solved_tau_1e-2"] <= 2

    assert main(["report", "--store", str(campaign), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 4 and {"solved_tau_1e-1", "ert_tau_1e-7"} <= set(rows[0])

    assert main(["report", "--store", str(campaign), "--format", "markdown"]) == 0
    assert "## Moré–Wild profiles (2 problems)" in capsys.readouterr().out

    out = tmp_path / "report"
    assert main(["report", "--store", str(campaign), "-o", str(out)]) == 0
    assert (out / "plots" / "more_wild.png").stat().st_size > 0
    assert 'alt="Moré–Wild data and performance profiles"' in (out / "report.html").read_text()
    assert "Moré–Wild profiles" in (out / "summary.md").read_text()
    assert "more_wild" in json.loads((out / "summary.json").read_text())


def test_profiles_in_the_terminal_summary(campaign, capsys, monkeypatch):
    from rich.console import Console

    from optbench.report.terminal import print_comparison
    from optbench.store import Store

    with Store(campaign) as store:
        results = store.results(store.run(None)[1])
    console = Console(width=160, record=True)
    print_comparison(console, analyze(results, taus=[1e-1, 1e-5]))
    text = console.export_text()
    assert "Moré–Wild profiles over 2 problem(s)" in text and "τ=1e-1" in text and "τ=1e-5" in text
