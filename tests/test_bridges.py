"""ng:, scipy: and torch: bridges through the real Nevergrad, SciPy and torch.optim."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

from optbench.api import Budget, BudgetExhausted, ConfigError
from optbench.evaluator import Evaluator
from optbench.registry import make_optimizer, make_problem

BRIDGED = [
    ("ng:CMA", {"num_workers": 8}, "sphere"),
    ("ng:OnePlusOne", {}, "rastrigin"),
    ("ng:DiscreteOnePlusOne", {}, "onemax"),
    ("ng:ParametrizedCMA", {"popsize": 12}, "sphere"),
    ("scipy:L-BFGS-B", {}, "rosenbrock"),
    ("scipy:Nelder-Mead", {"xatol": 1e-8}, "sphere"),
    ("scipy:Powell", {}, "sphere"),
    ("scipy:differential_evolution", {"popsize": 5}, "rastrigin"),
    ("scipy:dual_annealing", {}, "rastrigin"),
    ("torch:AdamW", {"lr": 0.05}, "linreg"),
    ("torch:LBFGS", {"line_search_fn": "strong_wolfe"}, "rosenbrock"),
    ("torch:RMSprop", {"lr": 0.01, "batch_size": 16}, "linreg"),
]


def start_value(problem) -> float:
    import torch

    gen = torch.Generator().manual_seed(0)
    if problem.space.kind == "bits":
        return float(problem.evaluate(torch.randint(0, 2, (64, problem.space.dim), generator=gen)).mean())
    return float(problem.evaluate(torch.stack([problem.initial_point(gen) for _ in range(64)])).mean())


@pytest.mark.parametrize(("name", "params", "problem"), BRIDGED)
@pytest.mark.parametrize("budget", [37, 400])
def test_bridges_improve_and_never_exceed_the_budget(name, params, problem, budget):
    prob = make_problem(problem, {"n": 100, "d": 5} if problem == "linreg" else {"dim": 6} if problem != "onemax"
                        else {"n": 32})
    evaluator = Evaluator(prob, Budget(evaluations=budget))
    x = None
    with contextlib.suppress(BudgetExhausted):
        x = make_optimizer(name, params).minimize(evaluator, rng=np.random.default_rng(0))
    assert evaluator.evaluations <= budget
    x = x if x is not None else evaluator.recommendation()
    if budget == 400:
        final = float(prob.evaluate(x.reshape(1, -1))[0])
        assert final < start_value(prob)


@pytest.mark.parametrize("name", ["ng:CMA", "scipy:differential_evolution", "torch:AdamW"])
def test_bridges_are_deterministic(name):
    runs = []
    for _ in range(2):
        prob = make_problem("rastrigin" if name != "torch:AdamW" else "linreg", {} if name != "torch:AdamW"
                            else {"n": 100, "d": 5})
        evaluator = Evaluator(prob, Budget(evaluations=200))
        with contextlib.suppress(BudgetExhausted):
            make_optimizer(name, {}).minimize(evaluator, rng=np.random.default_rng(3))
        runs.append(evaluator.trace)
    assert runs[0] == runs[1]


@pytest.mark.parametrize(("name", "params", "message"), [
    ("ng:NoSuchOptimizer", {}, "unknown Nevergrad optimizer"),
    ("ng:CMA", {"popsize": 3}, "configure a family"),
    ("ng:ParametrizedCMA", {"bogus": 1}, "bogus"),
    ("ng:CMA", {"num_workers": 0}, "num_workers"),
    ("ng:CMA", {"num_workers": True}, "num_workers"),
    ("ng:ParametrizedCMA", {"elitist": "no"}, "elitist='no' is a string, but elitist takes True or False"),
    ("ng:ParametrizedCMA", {"popsize": 2.5}, "popsize=2.5 is a float, but popsize takes an integer or None"),
    ("torch:SGD", {"nesterov": "yes", "momentum": 0.9}, "nesterov='yes' is a string, but nesterov takes True"),
    ("torch:AdamW", {"lr": "0.1"}, "lr='0.1' is a string"),
    ("ng:CMA", {"num_workers": "4"}, "num_workers"),
    ("scipy:lbfgs", {}, "unknown SciPy method"),
    ("scipy:L-BFGS-B", {"maxiters": 3}, "no option 'maxiters'"),
    ("scipy:differential_evolution", {"bogus": 1}, "no option 'bogus'"),
    ("torch:Adamm", {}, "unknown torch.optim optimizer"),
    ("torch:AdamW", {"lr": -1.0}, "learning rate"),
    ("torch:AdamW", {"lrr": 0.1}, "no option 'lrr'"),
    ("foo:bar", {}, "unknown optimizer prefix"),
])
def test_bridge_mistakes_are_config_errors(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_optimizer(name, params)


def test_bridges_from_the_command_line(tmp_path):
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "optbench.cli", "compare", "--problems", "sphere(dim=4),onemax(n=16)",
         "--optimizers", "ng:OnePlusOne,ng:DiscreteOnePlusOne,scipy:Powell,torch:Adagrad(lr=0.5)",
         "--seeds", "2", "--budget", "150", "--device", "cpu", "--store", str(tmp_path / "b.sqlite"), "-q"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ng:DiscreteOnePlusOne" in result.stdout and "torch:Adagrad(lr=0.5)" in result.stdout
    assert "12 complete, 4 skipped" in result.stderr  # scipy and torch skip the bits problem; none fail
    listing = subprocess.run([sys.executable, "-m", "optbench.cli", "list", "optimizers"], capture_output=True,
                             text=True, env=env, timeout=120)
    assert "ng:<name>" in listing.stdout and "scipy:<name>" in listing.stdout and "torch:<name>" in listing.stdout


@pytest.mark.parametrize(("name", "params", "problem", "pparams", "budget", "tolerance"), [
    ("ng:NGOpt", {}, "sphere", {"dim": 2}, 500, 1e-6),
    ("ng:TwoPointsDE", {"num_workers": 10}, "sphere", {"dim": 3}, 3000, 1e-3),
    ("scipy:L-BFGS-B", {}, "rosenbrock", {"dim": 2}, 2000, 1e-6),  # d >= 4 has a local minimum
    ("scipy:differential_evolution", {}, "rastrigin", {"dim": 2}, 4000, 1e-4),
    ("torch:AdamW", {"lr": 0.05, "weight_decay": 0.0, "batch_size": None}, "linreg", {"n": 100, "d": 5}, 2000,
     1e-6),
])
def test_bridges_solve_problems_they_suit(name, params, problem, pparams, budget, tolerance):
    from optbench.api import TrialSpec, TrialState, freeze_params
    from optbench.runners.trial import run_trial

    result = run_trial(TrialSpec(problem=problem, optimizer=name, budget=Budget(evaluations=budget),
                                 problem_params=freeze_params(pparams), optimizer_params=freeze_params(params)))
    assert result.state is TrialState.COMPLETE, result.reason
    assert result.gap is not None and result.gap < tolerance, result.gap
    assert 0 < result.evaluations <= budget and result.points + result.gradient_evaluations > 0
    library = {"ng": "nevergrad", "scipy": "scipy", "torch": "torch"}[name.split(":")[0]]
    assert result.optimizer_source.startswith(library + " ")
    assert result.problem_source.startswith("optbench ")


# The Nevergrad optimizers people pick; each must run on a continuous and on a bit-string problem.
POPULAR_NEVERGRAD = ["NGOpt", "CMA", "DiagonalCMA", "TwoPointsDE", "DE", "PSO", "OnePlusOne", "Shiwa"]


def _run(optimizer: str, problem: str, params: dict, budget: int):
    from optbench.api import TrialSpec, freeze_params
    from optbench.runners.trial import run_trial

    return run_trial(TrialSpec(problem=problem, optimizer=optimizer, budget=Budget(evaluations=budget),
                               problem_params=freeze_params(params)))


@pytest.mark.parametrize("name", POPULAR_NEVERGRAD)
@pytest.mark.parametrize(("problem", "params", "budget"), [("rastrigin", {"dim": 10}, 300), ("onemax", {"n": 32}, 200)])
def test_popular_nevergrad_optimizers_run_on_continuous_and_bit_problems(name, problem, params, budget):
    from optbench.api import TrialState

    result = _run(f"ng:{name}", problem, params, budget)
    assert result.state is TrialState.COMPLETE, result.reason
    assert result.evaluations == budget  # ran to the end of its budget, no early error
    assert result.final_value < start_value(make_problem(problem, params))


@pytest.mark.parametrize(("problem", "params"), [
    ("sphere", {"dim": 2}),
    pytest.param("onemax", {"n": 8}, marks=pytest.mark.slow),  # a Gaussian process per step: ~1 min
])
def test_nevergrad_bayesian_optimization_runs(problem, params):
    from optbench.api import TrialState

    result = _run("ng:BO", problem, params, 10)
    assert result.state is TrialState.COMPLETE, result.reason
    assert result.evaluations == 10


def test_ngopt_through_its_metamodel_on_rastrigin_10():
    """nevergrad#1612: NGOpt picks MetaModel(CmaFmin2) here; under NumPy >= 2.4 it failed after 118 evaluations."""
    from optbench.api import TrialState
    from optbench.optimizers.nevergrad_bridge import _nevergrad

    ng = _nevergrad()
    chooser = ng.optimizers.registry["NGOpt"](parametrization=ng.p.Array(shape=(10,), lower=-5.12, upper=5.12),
                                              budget=1000)
    assert "MetaModel" in type(chooser.optim).__name__  # the test covers the path that broke
    result = _run("ng:NGOpt", "rastrigin", {"dim": 10}, 1000)
    assert result.state is TrialState.COMPLETE, result.reason
    assert result.evaluations == 1000


def test_the_metamodel_shim_is_narrow():
    import builtins

    from nevergrad.optimization import metamodel

    from optbench.optimizers.nevergrad_bridge import _nevergrad, _patch_metamodel, _scalar

    _nevergrad()
    try:
        float(np.ones(1))
        numpy_refuses = False
    except TypeError:
        numpy_refuses = True
    assert _patch_metamodel() is numpy_refuses  # applied exactly where NumPy refuses the conversion
    assert builtins.float is float  # the builtin itself is never replaced
    if numpy_refuses:
        assert metamodel.float is _scalar and metamodel.float(np.array([2.5])) == 2.5
        with pytest.raises(TypeError):
            metamodel.float(np.ones(2))  # only one-element arrays convert, as before NumPy 2.4
        with pytest.raises(TypeError):
            builtins.float(np.ones(1))  # NumPy elsewhere is untouched
