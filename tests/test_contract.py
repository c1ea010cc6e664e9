"""Every registered problem and optimizer passes the checks optbench.testing offers plugin authors."""

from __future__ import annotations

import pytest

from optbench.registry import OPTIMIZERS, PROBLEMS, entries
from optbench.testing import check_optimizer, check_problem


@pytest.mark.parametrize("name", sorted(entries(PROBLEMS)))
def test_problem_contract(name):
    check_problem(name)


SUITED = {"sgd": "linreg", "adam": "linreg", "lstsq": "linreg", "cmaes": "rastrigin", "ga": "onemax",
          "random": "onemax"}


@pytest.mark.parametrize("name", sorted(entries(OPTIMIZERS)))
def test_optimizer_contract(name):
    problem = SUITED.get(name, "sphere")
    check_optimizer(name, problem=problem, problem_params={"n": 64, "d": 4} if problem == "linreg" else {})


@pytest.mark.parametrize("name", ["ng:CMA", "scipy:Powell", "torch:AdamW"])
def test_bridge_contract(name):
    check_optimizer(name, problem="rastrigin" if name != "torch:AdamW" else "sphere")


def test_checks_catch_a_broken_problem():
    from optbench.plugins import problem

    @problem("bad_shape", dim=3, bounds=(-1.0, 1.0), register=False)
    def bad_shape(X):
        return X.sum()  # a scalar, not one value per point

    with pytest.raises((AssertionError, RuntimeError)):
        check_problem(bad_shape(), instances_differ=False)


def test_checks_catch_an_optimizer_that_breaks_determinism():
    from dataclasses import dataclass
    from typing import ClassVar

    import torch

    from optbench.api import Optimizer

    @dataclass(frozen=True)
    class Unseeded(Optimizer):
        name: ClassVar[str] = "unseeded"

        def minimize(self, evaluator, *, rng):
            lo, hi = evaluator.bounds()
            while True:  # global torch randomness instead of `rng`: not reproducible
                evaluator.evaluate(lo + (hi - lo) * torch.rand(5, evaluator.dim, dtype=lo.dtype))

    with pytest.raises(AssertionError, match="different traces"):
        check_optimizer(Unseeded(), budgets=(50,))


def test_every_problem_declares_a_known_landscape():
    from optbench.api import LANDSCAPES
    from optbench.registry import make_problem

    for name in entries(PROBLEMS):
        assert make_problem(name, {}, instance=0, device="cpu").landscape in set(LANDSCAPES) - {"other"}, name


def test_the_problem_decorator_refuses_an_unknown_landscape():
    from optbench.api import ConfigError
    from optbench.plugins import problem

    with pytest.raises(ConfigError, match="unknown landscape 'bumpy'"):
        problem("x", dim=2, bounds=(-1.0, 1.0), landscape="bumpy", register=False)


@pytest.mark.parametrize("group", [PROBLEMS, OPTIMIZERS])
def test_every_builtin_parameter_declares_a_type_that_is_checked(group):
    """Type checks are only as good as the declarations: every built-in parameter has a concrete one."""
    from typing import Any

    from optbench.api import declared_parameters

    for name, entry in entries(group).items():
        if entry.distribution != "optbench":
            continue
        for parameter in declared_parameters(entry.load()).values():
            assert parameter.annotation is not Any, f"{name}.{parameter.name} has no declared type"


def _flipped(name: str) -> list[tuple[str, bool]]:
    from optbench.api import declared_parameters
    from optbench.registry import problem_class

    return [(key, not p.default) for key, p in declared_parameters(problem_class(name)).items()
            if isinstance(p.default, bool)]


@pytest.mark.parametrize("name", [n for n, e in sorted(entries(PROBLEMS).items())
                                  if e.distribution == "optbench" and _flipped(n)])
def test_a_switch_off_its_default_changes_the_id_and_the_key_and_at_its_default_changes_neither(name):
    from optbench.api import Budget
    from optbench.campaign import Grid, build_specs
    from optbench.registry import make_problem

    def specs(text: str):
        return build_specs(Grid(problems=[text], optimizers=["random"], seeds=[0], instances=[0], devices=["cpu"],
                                budget=Budget(evaluations=1)))

    plain = make_problem(name, {})
    for key, value in _flipped(name):
        assert make_problem(name, {key: value}).id != plain.id, f"{name}({key}={value}) shares the id {plain.id}"
        assert specs(f"{name}({key}={value})")[0].key != specs(name)[0].key
        assert specs(f"{name}({key}={not value})")[0].key == specs(name)[0].key
