"""The connectivity study's grokking part: the square activation's rounding bound, and the verdicts before and
after the jump read from planted data (the end-to-end run is in test_study_connectivity.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from clirun import run

from optbench.registry import make_problem
from optbench.studies.connectivity.grokked import grok_findings, grok_table
from optbench.studies.connectivity.permutation import check_same_function, mlp_layers, permute, rounding_bound
from optbench.studies.training import stream

SQUARE = {"p": 11, "hidden": 16, "activation": "square", "init_scale": 3.0}


def _exact_outputs(problem, x: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """The float32 network's weights run in float64: the exact outputs to about 1e-16 relative."""
    params = {k: v.to(torch.float64) for k, v in problem.unflatten(x).items()}
    h = inputs.to(torch.float64)
    for layer in mlp_layers(problem):
        h = h @ params[layer.weight].T + params[layer.bias]
        if layer.activation is not None:
            h = h * h
    return h


@pytest.mark.parametrize("seed", range(5))
def test_the_square_rounding_bound_covers_the_float32_error(seed: int) -> None:
    problem = make_problem("modadd", SQUARE)
    assert problem.dtype == torch.float32
    x = problem.initial_point(stream(seed, "init"))
    inputs = problem.test_inputs
    out, bound = rounding_bound(problem, x, inputs)
    error = (out.to(torch.float64) - _exact_outputs(problem, x, inputs)).abs()
    assert bool((error <= bound.to(torch.float64)).all()), float((error / bound).max())


def test_a_permuted_square_network_is_the_same_function_and_a_nudged_one_is_not() -> None:
    problem = make_problem("modadd", SQUARE)
    x = problem.initial_point(stream(0, "init"))
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    assert check_same_function(problem, x, permute(problem, x, [perm])).same_function
    nudged = x.clone()
    nudged[0] += 1e-3  # one weight of the hidden layer: a different function, far above rounding
    assert not check_same_function(problem, x, nudged).same_function


def _entry(step: int, grokked: int, loss_ci: list[float], test_accuracy: float) -> dict:
    barrier = {"mean": sum(loss_ci) / 2, "ci": loss_ci}
    sides = {side: {name: barrier for name in ("train_loss", "test_loss", "train_error", "test_error")}
             for side in ("naive", "aligned")}
    pair = {"same_function": True, "max_rel_diff": 1e-7}
    return {"step": step, "networks": 4, "grokked": grokked, "pairs": [pair] * 6, "train_accuracy": 1.0,
            "test_accuracy": test_accuracy, "barriers": sides}


def _grok(entries: list[dict]) -> dict:
    runs = [{"seed": s, "m": 60, "g": 700 + s, "w": 300, "verdict": "plateau-then-jump"} for s in range(4)]
    return {"problem": "modadd", "threshold": 0.9, "runs": runs, "entries": entries}


def test_findings_compare_the_last_step_before_with_the_last_after_the_jump() -> None:
    grok = _grok([_entry(120, 0, [0.1, 0.2], 0.01), _entry(400, 0, [0.2, 0.3], 0.02),
                  _entry(2000, 4, [0.5, 0.6], 1.0)])
    text = " ".join(grok_findings(grok))
    assert "4 plateau-then-jump" in text and "steps 700, 701, 702, 703" in text
    assert "Before the jump, step 400" in text and "after it, step 2000" in text
    assert "cannot show a rise" in text  # the ends' test error is near 1 before the jump
    assert "is higher than the one before it" in text  # [0.5, 0.6] lies above [0.2, 0.3]
    assert "18 of 18 weight-matched grokking networks compute the same function" in text
    table = grok_table(grok)
    assert [row[1] for row in table.rows] == ["before the jump", "before the jump", "after the jump"]


def test_overlapping_intervals_are_not_called_higher_and_mixed_steps_are_not_compared() -> None:
    text = " ".join(grok_findings(_grok([_entry(120, 0, [0.1, 0.4], 0.01), _entry(2000, 4, [0.3, 0.6], 1.0)])))
    assert "not told apart (the 95% CIs overlap)" in text
    mixed = _grok([_entry(800, 2, [0.1, 0.2], 0.5)])
    text = " ".join(grok_findings(mixed))
    assert "not compared" in text and "Before the jump" not in text
    assert grok_table(mixed).rows[0][1] == "2 of 4 grokked"


def test_grok_steps_none_runs_no_grokking_tasks(tmp_path: Path) -> None:
    proc = run("study", "connectivity", "--quick", "--problem", "digits(hidden=8)", "--widths", "8", "--spawn-steps",
               "0", "--seeds", "2", "--epochs", "1", "--grok-steps", "none", "--store", str(tmp_path / "s.sqlite"),
               "--format", "json", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["data"]["grokking"] is None and out["settings"]["grok_steps"] == []
    assert not any(t["title"].startswith("Grokking") for t in out["tables"])


def test_a_step_left_with_one_network_is_reported_without_pairs() -> None:
    """A failed grokking task leaves fewer networks; with one left there is no pair, and nothing breaks."""
    from optbench.studies.connectivity.analysis import pair_summary

    lone = {"step": 120, "networks": 1, "grokked": 0, "pairs": [], "train_accuracy": 0.96, "test_accuracy": 0.01,
            **pair_summary([])}
    grok = _grok([lone])
    assert grok_table(grok).rows[0][:3] == [120, "before the jump", 0]
    text = " ".join(grok_findings(grok))
    assert "grokking runs" in text and "Before the jump" not in text and "weight-matched" not in text
