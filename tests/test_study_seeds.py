"""``optbench study seeds``: the CLI end to end, the determinism audit, and the spread measures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from clirun import run

from optbench.cli import main
from optbench.store import Store
from optbench.studies import training
from optbench.studies.measures import bootstrap_std_ci, disagreement, relative_distance, spread

UNSEEDED = str(Path(__file__).parent / "data" / "unseeded_order_plugin.py")
QUICK = ["study", "seeds", "--quick", "--problem", "digits(hidden=8)", "--epochs", "2", "--seeds", "3", "-q"]


def _run_json(args: list[str]) -> dict:
    """Run the CLI in a subprocess (a fresh process: nothing of other tests leaks in) and parse its JSON."""
    done = run(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_cli_runs_the_quick_study_as_stored_trials_and_reports_json(tmp_path):
    store, report = tmp_path / "s.sqlite", tmp_path / "report"
    cmd = [sys.executable, "-m", "optbench.cli", *QUICK, "--store", str(store), "--format", "json",
           "--report", str(report)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["study"] == "seeds" and data["failed_tasks"] == 0
    titles = [t["title"] for t in data["tables"]]
    assert any(t.startswith("Spread of test_accuracy") for t in titles)
    assert any(t.startswith("Determinism audit") for t in titles)
    spread_table = data["tables"][0]
    assert [r[1] for r in spread_table["rows"]] == ["init", "data order", "init + order", "nothing"]
    assert all(r[2] == 3 for r in spread_table["rows"])  # three seeds in every row
    audit = data["tables"][-1]["rows"][0]
    assert audit[3] is True and audit[5] == 0.0  # bit-identical on the CPU
    nested = next(t for t in data["tables"] if t["title"].startswith("Crossed design"))
    assert nested["rows"][0][1] == "3 x 2" and nested["rows"][0][3] is not None
    assert spread_table["columns"][6] == "test-set SE" and all(r[6] > 0 for r in spread_table["rows"])
    assert (report / "report.html").is_file() and len(list((report / "plots").glob("*.png"))) == 4
    align = next(t for t in data["tables"] if t["title"].startswith("Weight distance modulo permutations"))
    assert [r[1] for r in align["rows"]] == ["init", "data order", "init + order"]
    for row in align["rows"]:  # aligned <= raw for every source; pairs of 3 networks
        assert row[2] == 3 and row[3] == 3 and row[6] <= row[4]
    with Store(store) as s:  # every task is a stored trial, and the analysis is stored with the run
        assert s.count() == 18  # 4 sources x 3 seeds, and the crossed design's 3 inits x 2 orders
        study, stored = s.analysis(s.run()[0])
        assert study == "seeds" and stored["tables"] == data["tables"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and "0 to run, 18 already in" in again.stderr  # resumed, nothing rerun


def test_the_audit_catches_a_planted_nondeterministic_data_order(tmp_path):
    honest = _run_json([*QUICK, "--sources", "none", "--store", str(tmp_path / "a.sqlite")])
    assert honest["tables"][-1]["rows"][0][3] is True
    planted = _run_json([*QUICK, "--sources", "none", "--store", str(tmp_path / "b.sqlite"), "--plugin", UNSEEDED])
    row = planted["tables"][-1]["rows"][0]
    assert row[3] is False and row[4] > 1 and row[5] > 0
    assert any("NOT reproducible" in f for f in planted["findings"])


def test_mse_and_cross_entropy_are_compared_on_a_classifier(tmp_path):
    data = _run_json([*QUICK, "--sources", "both", "--losses", "cross_entropy,mse", "--store",
                      str(tmp_path / "l.sqlite")])
    assert {r[0] for r in data["tables"][0]["rows"]} == {"cross_entropy", "mse"}


@pytest.mark.parametrize("flags", [["--sources", "weather"], ["--checkpoints", "0,2"], ["--losses", "hinge"],
                                   ["--epochs", "0"], ["--problem", "sphere"], ["--optimizer", "cmaes"],
                                   ["--problem", "teacher", "--losses", "mse"]])
def test_bad_study_flags_are_one_line_and_exit_2(tmp_path, capsys, flags):
    store = tmp_path / "x.sqlite"
    assert main([*QUICK, *flags, "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("optbench: error:") and not store.exists()


def test_spread_measures_on_hand_made_values():
    s = spread([0.9, 0.91, 0.92, 0.90, 0.5], [0, 1, 2, 3, 4])
    assert s["gap"] == pytest.approx(0.42) and s["outliers"] == [4]
    assert s["std"] == pytest.approx(torch.tensor([0.9, 0.91, 0.92, 0.90, 0.5], dtype=torch.float64).std().item())
    low, high = bootstrap_std_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert 0 <= low <= high
    a = torch.tensor([[2.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    b = torch.tensor([[2.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert disagreement(a, b) == pytest.approx(1 / 3)
    w = torch.tensor([3.0, 4.0])
    assert relative_distance(w, w) == 0.0 and relative_distance(w, -w) == pytest.approx(2.0)


def test_masked_training_keeps_pruned_weights_at_zero():
    from optbench.registry import make_problem

    problem = make_problem("digits", {"hidden": 4})
    optimizer = training.torch_optimizer("adam", {"lr": 0.01})
    x0 = problem.initial_point(training.stream(0, "init"))
    mask = (torch.rand(x0.shape, generator=training.stream(0, "mask")) < 0.5).to(x0.dtype)
    run = training.train(problem, x0, optimizer=optimizer, epochs=1, order=training.stream(0, "order"), mask=mask)
    assert torch.count_nonzero(run.x[mask == 0]) == 0
    assert torch.count_nonzero(run.x[mask == 1]) == int(mask.sum())
    assert run.evaluator is not None and run.evaluator.examples == problem.n_examples  # one epoch, counted


def test_the_crossed_design_separates_a_planted_init_effect_from_the_order():
    import numpy as np

    from optbench.studies.seeds.nested import components

    rng = np.random.default_rng(0)
    grid = rng.normal(size=(6, 1)) * 1.0 + rng.normal(size=(1, 5)) * 0.0 + rng.normal(size=(6, 5)) * 0.1
    c = components(grid)
    assert c["p_init"] < 0.001 and c["p_order"] > 0.01
    assert c["sd_init"] > 5 * c["sd_order"]
    assert c["ratio_init_ci"][0] > 1 and c["ratio_order_ci"][0] == 0.0
    assert components([[1.0, 2.0]]) is None


def test_the_crossed_design_intervals_cover_the_true_ratio():
    import numpy as np

    from optbench.studies.seeds.nested import components

    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(500):
        grid = rng.normal(size=(6, 1)) * 0.5 + rng.normal(size=(1, 5)) * 0.3 + rng.normal(size=(6, 5))
        lo, hi = components(grid)["ratio_init_ci"]
        hits += lo <= 0.5 <= hi
    assert hits / 500 >= 0.93


def test_aligned_distances_are_no_larger_than_raw_and_intervals_are_over_networks():
    from optbench.registry import make_problem
    from optbench.studies.seeds.alignment import pair_distances, summarize

    problem = make_problem("digits", {"hidden": 6})
    weights = [problem.initial_point(training.stream(s, "init")) * (1 + 0.1 * s) for s in range(4)]
    pairs = pair_distances(problem, [0, 1, 2, 3], weights, weights)
    assert len(pairs) == 6
    assert all(q["aligned"] <= q["raw"] + 1e-12 and q["aligned_init"] <= q["raw_init"] + 1e-12 for q in pairs)
    summary = summarize(pairs)
    assert summary["networks"] == 4 and summary["pairs"] == 6
    # 4 networks: the jackknife interval over networks (3 df), not a t interval over 6 pairs
    from optbench.studies.intervals import pairs_mean_ci

    assert summary["raw_ci"] == pairs_mean_ci([(*q["seeds"], q["raw"]) for q in pairs])[1]
    same = pair_distances(problem, [0, 1], [weights[0], weights[0].clone()], None)
    assert same[0]["raw"] == 0.0 and same[0]["aligned"] == 0.0
