from __future__ import annotations

import re

import pytest

from optbench.api import Budget, ConfigError
from optbench.campaign import Grid, build_specs
from optbench.params import parse_call, split_top_level
from optbench.problems.suites import load_suite, suite_names


def test_parse_call_accepts_lowercase_booleans():
    assert parse_call("rastrigin(rotate=true, dim=3)") == ("rastrigin", {"rotate": True, "dim": 3})
    assert parse_call("ga(mutation_rate=null)") == ("ga", {"mutation_rate": None})
    with pytest.raises(ConfigError, match="literal"):
        parse_call("ga(mutation_rate=maybe)")


def test_parse_call_reads_literals():
    assert parse_call("adam") == ("adam", {})
    assert parse_call("adam(lr=0.01, betas=(0.9, 0.99), amsgrad=True)") == (
        "adam", {"lr": 0.01, "betas": (0.9, 0.99), "amsgrad": True})
    assert parse_call(" ng:CMA(popsize=8) ") == ("ng:CMA", {"popsize": 8})


@pytest.mark.parametrize("text", ["adam(lr=)", "adam(0.1)", "adam(lr=0.1", "adam(lr=os.system('x'))", "1adam",
                                  "adam(**kw)"])
def test_parse_call_rejects_malformed_text(text):
    with pytest.raises(ConfigError):
        parse_call(text)


def test_split_top_level_respects_parentheses():
    assert split_top_level("adam(lr=0.1, betas=(0.9, 0.99)), sgd,cmaes") == [
        "adam(lr=0.1, betas=(0.9, 0.99))", "sgd", "cmaes"]
    with pytest.raises(ConfigError):
        split_top_level("adam(lr=0.1")


SHIPPED = ["bbob", "bbob-quick", "crypto", "deceptive", "default", "full", "ml", "quick", "rugged", "smooth",
           "tuning-quick"]
NEEDS = {"bbob": "cocoex", "bbob-quick": "cocoex"}  # suites of an optional extra's problems


def test_every_shipped_suite_loads():
    assert suite_names() == SHIPPED
    for name in suite_names():
        suite = load_suite(name)
        assert suite.problems and suite.optimizers and suite.seeds


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_suite_builds_valid_trials(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    suite = load_suite(name)
    grid = Grid(problems=suite.problems, optimizers=suite.optimizers, seeds=suite.seeds, instances=suite.instances,
                devices=["cpu"], budget=Budget(evaluations=suite.budget, seconds=suite.time_budget),
                budgets=suite.budgets)
    specs = build_specs(grid)  # constructs every problem and optimizer: a typo in a suite fails here
    assert len(specs) == len(suite.problems) * len(suite.optimizers) * len(suite.seeds) * len(suite.instances)


def test_quick_suite_covers_every_landscape():
    from optbench.api import LANDSCAPES
    from optbench.params import parse_call
    from optbench.registry import make_problem

    landscapes = {make_problem(*parse_call(text), instance=0, device="cpu").landscape
                  for text in load_suite("quick").problems}
    assert landscapes == set(LANDSCAPES) - {"other"}


def test_a_suite_entry_can_carry_its_own_budget(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('budget = 100\noptimizers = ["random"]\nseeds = 2\n'
                    'problems = ["sphere(dim=2)", { problem = "onemax(n=8)", budget = 7, time_budget = 3 }]\n')
    suite = load_suite(str(path))
    grid = Grid(problems=suite.problems, optimizers=suite.optimizers, seeds=suite.seeds, instances=suite.instances,
                devices=["cpu"], budget=Budget(evaluations=suite.budget), budgets=suite.budgets)
    budgets = {(s.problem, s.budget) for s in build_specs(grid)}
    assert budgets == {("sphere", Budget(evaluations=100)), ("onemax", Budget(evaluations=7, seconds=3))}


@pytest.mark.parametrize(("entry", "message"), [
    ('{ problem = "sphere" }', "needs a budget"),
    ('{ problem = "sphere", budget = -1 }', "positive number"),
    ('{ problem = "sphere", budgett = 5 }', "unknown key 'budgett'"),
    ('{ name = "sphere", budget = 5 }', "'problem' string"),
    ("3", "'problem' string"),
])
def test_bad_problem_entries_are_named(tmp_path, entry, message):
    path = tmp_path / "bad.toml"
    path.write_text(f'budget = 100\noptimizers = ["random"]\nproblems = [{entry}]\n')
    with pytest.raises(ConfigError, match=message):
        load_suite(str(path))


def test_malformed_suite_names_file_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('problems = ["sphere"]\noptimizers = ["random"\nbudget = 10\n')
    with pytest.raises(ConfigError, match=r"bad\.toml.*line"):
        load_suite(str(path))


def test_suite_without_budget_is_refused(tmp_path):
    path = tmp_path / "nobudget.toml"
    path.write_text('problems = ["sphere"]\noptimizers = ["random"]\n')
    with pytest.raises(ConfigError, match="budget"):
        load_suite(str(path))


def test_a_key_given_twice_is_an_error():
    with pytest.raises(ConfigError, match="dim is given twice"):
        parse_call("sphere(dim=2, dim=3)")


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("problem", "rastrigin(rotate='false')", "rotate='false' is a string, but rotate takes True or False"),
    ("problem", "rastrigin(rotate=1)", "rotate=1 is an integer, but rotate takes True or False"),
    ("problem", "sphere(dim=2.0)", "dim=2.0 is a float, but dim takes an integer"),
    ("problem", "sphere(dim=True)", "dim=True is a bool, but dim takes an integer"),
    ("problem", "sphere(dim='3')", "dim='3' is a string, but dim takes an integer"),
    ("problem", "ellipsoid(cond='1e6')", "cond='1e6' is a string, but cond takes a number"),
    ("optimizer", "sgd(nesterov='yes')", "nesterov='yes' is a string, but nesterov takes True or False"),
    ("optimizer", "adam(amsgrad='no')", "amsgrad='no' is a string, but amsgrad takes True or False"),
    ("optimizer", "adam(lr=True)", "lr=True is a bool, but lr takes a number"),
    ("optimizer", "adam(betas=(0.9, 'x'))", "takes a tuple of 2 numbers"),
    ("optimizer", "adam(betas=(0.9,))", "takes a tuple of 2 numbers"),
    ("optimizer", "cmaes(popsize='8')", "popsize='8' is a string, but popsize takes an integer or None"),
    ("optimizer", "ga(mutation_rate='x')", "takes a number or None"),
])
def test_every_parameter_is_checked_against_its_declared_type(kind, text, message):
    from optbench.registry import make_optimizer, make_problem

    name, params = parse_call(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        if kind == "problem":
            make_problem(name, params)
        else:
            make_optimizer(name, params)
    assert "\n" not in str(info.value)


def test_values_of_the_declared_type_are_accepted_and_ints_stand_for_floats():
    from optbench.params import checked_params
    from optbench.registry import make_optimizer, make_problem, optimizer_class

    assert make_problem("rastrigin", {"rotate": True, "dim": 3}).rotation is not None
    assert make_problem("ellipsoid", {"cond": 100, "dim": 3}).cond == 100.0
    adam = make_optimizer("adam", {"lr": 1, "betas": [0.8, 0.9], "amsgrad": False})
    assert adam.lr == 1.0 and isinstance(adam.lr, float) and adam.betas == (0.8, 0.9)
    assert make_optimizer("cmaes", {"popsize": None}).popsize is None
    assert checked_params(optimizer_class("ga"), "ga", {"mutation_rate": 0}) == {"mutation_rate": 0.0}


def test_the_declared_type_falls_back_to_the_default_when_unannotated():
    from optbench.params import checked_params

    class Plain:
        def __init__(self, *, scale=1.0, flag=False, anything=None, instance=0, device="cpu", dtype=None):
            pass

    assert checked_params(Plain, "plain", {"scale": 2, "anything": "x"}) == {"scale": 2.0, "anything": "x"}
    with pytest.raises(ConfigError, match="flag='no' is a string, but flag takes True or False"):
        checked_params(Plain, "plain", {"flag": "no"})


def _specs(problems, optimizers=("random",)):
    grid = Grid(problems=problems, optimizers=list(optimizers), seeds=[0], instances=[0], devices=["cpu"],
                budget=Budget(evaluations=10))
    return build_specs(grid)


def test_parameters_at_their_defaults_are_one_trial():
    specs = _specs(["rastrigin", "rastrigin(rotate=False)", "rastrigin(dim=10)", "rastrigin(rotate=false, dim=10)"],
                   ["sgd", "sgd(lr=0.01)", "sgd(lr=0.01, nesterov=False)"])
    assert len(specs) == 1 and specs[0].problem_params == () and specs[0].optimizer_params == ()
    assert specs[0].problem_label == "rastrigin" and specs[0].optimizer_label == "sgd"
    ellipsoid = _specs(["ellipsoid(cond=100)", "ellipsoid(cond=100.0)", "ellipsoid(rotate=True, cond=1e2)"])
    assert len(ellipsoid) == 1 and ellipsoid[0].problem_params == (("cond", 100.0),)


def test_parameters_off_their_defaults_are_distinct_trials_with_distinct_ids():
    from optbench.registry import make_problem

    specs = _specs(["rastrigin", "rastrigin(rotate=True)"])
    assert len({s.key for s in specs}) == 2
    plain, rotated = (make_problem(s.problem, dict(s.problem_params)) for s in specs)
    assert plain.id == "rastrigin_d10_i0" and rotated.id == "rastrigin_d10_rotate-true_i0"
    ids = {make_problem(name, params, instance=2).id for name, params in [
        ("ellipsoid", {}), ("ellipsoid", {"rotate": False}), ("ellipsoid", {"cond": 100.0}),
        ("trap", {}), ("trap", {"k": 5}), ("trap", {"n": 48}), ("rugged", {"amplitude": 1.0}), ("rugged", {})]}
    assert len(ids) == 8
    assert make_problem("onemax", {"n": 100}).id == "onemax_d100_i0"  # the dimension is not said twice


def test_commas_and_parentheses_inside_quoted_values_do_not_split_a_list():
    from optbench.params import split_top_level

    assert split_top_level("a(s=')'), b(t='x, y'), c(u=\"(\")") == ["a(s=')')", "b(t='x, y')", 'c(u="(")']
    assert split_top_level("a(s='it\\'s, fine'), b") == ["a(s='it\\'s, fine')", "b"]
