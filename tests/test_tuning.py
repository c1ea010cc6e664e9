"""Tuning rulesets through the real machinery: draws, selection on validation only, budgets, the exact curve."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch

from optbench.api import VALIDATION_FRACTION, Capability, ConfigError, Problem, Space
from optbench.campaign.grid import build_specs, suite_grid
from optbench.store import Store
from optbench.tuning.analysis import analyze_tuning
from optbench.tuning.campaign import TunedCampaign
from optbench.tuning.expected import crossing, expected_best, share_near_best
from optbench.tuning.plan import TUNING_OFFSET
from optbench.tuning.rulesets import parse_ruleset, unit_points
from optbench.tuning.space import config, parse_space


def _grid(problems: list[str], optimizers: list[str], *, seeds: int = 2, budget: float = 200) -> list:
    return build_specs(suite_grid(problems=problems, optimizers=optimizers, seeds=list(range(seeds)), device="cpu",
                                  budget=budget))


def _run(specs: list, ruleset: str, path: Any, **kw: Any) -> tuple[int, list]:
    """``(trials run now, every result of the run)``."""
    campaign = TunedCampaign(specs, parse_ruleset(ruleset), **kw)
    with Store(path) as store:
        run_id = store.add_run("test", campaign.first())
        ran = campaign.run(store, executor=None, on_specs=lambda more: store.extend_run(run_id, more))
        return len(ran), store.results(store.run(run_id)[1])


def test_draws_are_prefix_stable_and_the_same_for_every_problem(tmp_path):
    eight, nine = unit_points(3, 8, seed=0), unit_points(3, 9, seed=0)
    assert np.array_equal(eight, nine[:8])  # a larger K reuses the first K
    assert np.array_equal(eight, unit_points(3, 8, seed=0))
    assert ((0 <= eight) & (eight < 1)).all()
    campaign = TunedCampaign(_grid(["sphere(dim=3)", "rastrigin(dim=3)"], ["cmaes"]), parse_ruleset("random:5"))
    by_problem: dict[str, list] = {}
    for spec in campaign.first():
        if spec.task:
            by_problem.setdefault(spec.problem, []).append(spec.optimizer_params)
            assert spec.seed == spec.instance == TUNING_OFFSET and spec.ruleset == "random"
    assert by_problem["sphere"] == by_problem["rastrigin"] and len(by_problem["sphere"]) == 5
    # a larger K keeps every trial of the smaller one (same keys: found in the store)
    more = TunedCampaign(_grid(["sphere(dim=3)"], ["cmaes"]), parse_ruleset("random:7")).first()
    fewer = TunedCampaign(_grid(["sphere(dim=3)"], ["cmaes"]), parse_ruleset("random:5")).first()
    assert {s.key for s in fewer} <= {s.key for s in more}


def test_space_values_follow_their_ranges():
    name, space = parse_space("adam(lr=loguniform(1e-4, 1), betas=(one_minus_log(-3, -1), uniform(0.9, 0.99)), "
                              "batch_size=choice(32, 64))")
    assert name == "adam"
    low, high = config(space, [0.0, 0.0, 0.0, 0.0]), config(space, [0.999999, 0.999999, 0.999999, 0.999999])
    assert low == {"lr": 1e-4, "betas": (0.999, 0.9), "batch_size": 32}
    assert high["lr"] == pytest.approx(1.0, rel=1e-4) and high["batch_size"] == 64
    assert high["betas"][0] == pytest.approx(0.9, rel=1e-4)
    for bad, message in [("adam(lr=loguniform(0, 1))", "0 < lo < hi"), ("adam(lr=gauss(1, 2))", "unknown range"),
                         ("adam(lr=loguniform(1, 0.1))", "lo < hi"), ("adam", "optimizer(name=range"),
                         ("adam(lr=one_minus_log(-1, 1))", "hi <= 0"), ("adam(lr=choice())", "at least one")]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            parse_space(bad)


@pytest.mark.parametrize("lower", [True, False])
def test_expected_best_equals_enumeration_of_every_k_subset(lower):
    rng = np.random.default_rng(3)
    scores = list(rng.normal(size=7))
    scores[2] = scores[5]  # a tie
    curve = expected_best(scores, lower_is_better=lower)
    pick = min if lower else max
    for k in range(1, len(scores) + 1):
        subsets = list(itertools.combinations(scores, k))
        brute = sum(pick(s) for s in subsets) / len(subsets)
        # a weighted sum of 7 values against a mean of up to 35: both are exact up to a few roundings
        assert curve[k - 1] == pytest.approx(brute, rel=64 * np.finfo(float).eps, abs=64 * np.finfo(float).eps)
    assert curve[0] == pytest.approx(np.mean(scores)) and curve[-1] == pick(scores)


def test_a_failed_draw_is_worst_and_curves_cross_where_the_order_flips():
    assert expected_best([math.inf, 1.0]) == [math.inf, 1.0]
    assert crossing([3.0, 2.0, 1.0], [2.5, 2.4, 2.3]) == 2
    assert crossing([1.0, 0.5], [2.0, 1.5]) is None
    assert share_near_best([1.0, 1.05, 2.0, math.inf]) == 0.5


def test_self_k_spends_exactly_k_times_the_budget(tmp_path):
    specs = _grid(["sphere(dim=3)"], ["random(batch_size=10)"], budget=200)
    _, results = _run(specs, "self:3", tmp_path / "s.sqlite")
    tuned = [r for r in results if r.spec.ruleset]
    defaults = [r for r in results if not r.spec.ruleset]
    assert len(tuned) == len(defaults) == 2
    assert all(r.spec.budget.evaluations == 600 and r.evaluations == 600 for r in tuned)
    assert all(r.evaluations == 200 for r in defaults)
    analysis = analyze_tuning(results)
    assert analysis is not None and analysis.cells[0].tuning_evaluations == 2 * 400


class Planted(Problem):
    """Training agrees with validation (optimum at +1); the test set wants -5. Tuning must never see the test."""

    family = "planted_split"
    landscape = "smooth"
    optimal_value = 0.0
    instances_differ = False

    def __init__(self, *, instance: int = 0, device: Any = "cpu", dtype: Any = None) -> None:
        super().__init__(instance=instance, device=device, dtype=dtype)
        self.space = Space.box(1, -10.0, 10.0)
        self.capabilities = frozenset({Capability.DIFFERENTIABLE, Capability.TEST_METRIC})
        self.split = False

    def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
        return ((X - 1.0) ** 2).sum(dim=1)

    def validation_split(self, fraction: float = VALIDATION_FRACTION) -> None:
        self.split = True

    def test_metric(self, x: torch.Tensor) -> float:
        target = 1.0 if self.split else -5.0  # validation: as the training loss; test: elsewhere
        return float(((x - target) ** 2).sum())


def test_tuning_selects_on_validation_and_never_reads_the_test_metric(tmp_path):
    from optbench.plugins import register_problem

    register_problem(Planted)
    specs = _grid(["planted_split"], ["sgd"], budget=30)
    _, results = _run(specs, "random:6", tmp_path / "p.sqlite")
    tuning = [r for r in results if r.spec.task]
    assert len(tuning) == 6 and all(r.test_metric is None for r in tuning)
    for r in tuning:
        extra = dict(r.extra)
        assert extra["validation_metric"] == "validation test"
        assert extra["validation"] == pytest.approx(r.final_value, rel=1e-9, abs=1e-12)  # (x - 1)^2, not (x + 5)^2
    by_validation = min(tuning, key=lambda r: dict(r.extra)["validation"])
    chosen = [r for r in results if r.spec.ruleset == "random:6"]
    assert chosen and all(r.spec.optimizer_params == by_validation.spec.optimizer_params for r in chosen)
    assert all(r.test_metric is not None and r.test_metric > 0 for r in chosen)  # the evaluation reads the test set
    cell = analyze_tuning(results).cells[0]
    assert cell.selected_draw == dict(by_validation.spec.task_params)["draw"]


def test_rulesets_and_spaces_refuse_mistakes_in_one_line():
    for bad, message in [("random", "takes a count"), ("random:0", "from 1 to"), ("grid:4", "unknown ruleset"),
                         ("optuna:8", "a sampler and a count"), ("self:x", "integer")]:
        with pytest.raises(ConfigError, match=message):
            parse_ruleset(bad)
    specs = _grid(["sphere(dim=2)"], ["cmaes"])
    for text, message in [("cmaes(lr=loguniform(1e-3, 1))", "has no hyperparameter 'lr'"),
                          ("adam(lr=loguniform(1e-3, 1))", "not among the optimizers")]:
        name, space = parse_space(text)
        with pytest.raises(ConfigError, match=message):
            TunedCampaign(specs, parse_ruleset("random:2"), spaces={name: space})
    high = _grid(["sphere(dim=2)"], ["cmaes"])
    from dataclasses import replace

    with pytest.raises(ConfigError, match="must stay below"):
        TunedCampaign([replace(high[0], seed=TUNING_OFFSET)], parse_ruleset("random:2"))


def test_optuna_rounds_resume_from_the_store(tmp_path):
    pytest.importorskip("optuna")
    specs = _grid(["sphere(dim=3)"], ["cmaes"], seeds=1, budget=100)
    ran, first = _run(specs, "optuna:TPE:4", tmp_path / "o.sqlite")
    again, second = _run(specs, "optuna:TPE:4", tmp_path / "o.sqlite")  # everything found: same asks, same keys
    assert ran == len(first) == 1 + 4 + 1 and again == 0
    assert sorted(r.key for r in first) == sorted(r.key for r in second)
    assert sum(1 for r in first if r.spec.task) == 4
