from __future__ import annotations

import pytest

from optbench.api import Budget, ConfigError
from optbench.campaign import Grid, build_specs
from optbench.parsing import parse_call, split_top_level
from optbench.suites import load_suite, suite_names


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


SHIPPED = ["crypto", "deceptive", "default", "full", "ml", "quick", "rugged", "smooth"]


def test_every_shipped_suite_loads():
    assert suite_names() == SHIPPED
    for name in suite_names():
        suite = load_suite(name)
        assert suite.problems and suite.optimizers and suite.seeds


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_suite_builds_valid_trials(name):
    suite = load_suite(name)
    grid = Grid(problems=suite.problems, optimizers=suite.optimizers, seeds=suite.seeds, instances=suite.instances,
                devices=["cpu"], budget=Budget(evaluations=suite.budget, seconds=suite.time_budget),
                budgets=suite.budgets)
    specs = build_specs(grid)  # constructs every problem and optimizer: a typo in a suite fails here
    assert len(specs) == len(suite.problems) * len(suite.optimizers) * len(suite.seeds) * len(suite.instances)


def test_quick_suite_covers_every_landscape():
    from optbench.api import LANDSCAPES
    from optbench.parsing import parse_call
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
