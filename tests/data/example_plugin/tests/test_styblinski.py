"""The plugin's own tests: optbench's contract checks, as a plugin author would run them."""

import torch

from optbench.testing import check_optimizer, check_problem


def test_styblinski_meets_the_optbench_contract():
    check_problem("styblinski", instances_differ=False)


def test_cmaes_keeps_its_budget_on_styblinski():
    check_optimizer("cmaes", problem="styblinski", budgets=(13,))


def test_known_minimum():
    from optbench_example import OPTIMUM_COORDINATE, StyblinskiTang

    problem = StyblinskiTang(dim=4)
    x = torch.full((1, 4), OPTIMUM_COORDINATE, dtype=torch.float64)
    assert abs(float(problem.evaluate(x)[0]) - problem.optimal_value) < 1e-9
