"""Mistakes that used to be misread (issue 24, section 4): each is one line and exit 2, or said plainly."""

from __future__ import annotations

import json
import sqlite3

from clirun import assert_one_line_exit_2, run

GRID = ["--problems", "sphere(dim=2)", "--optimizers", "random", "--seeds", "3", "--budget", "30", "-q"]


def test_fractional_and_sub_one_budgets_are_refused(tmp_path):
    for budget in ("0.5", "10.5"):
        done = run("compare", "--problems", "sphere", "--optimizers", "random", "--budget", budget,
                   "--store", str(tmp_path / "b.sqlite"))
        assert_one_line_exit_2(done, "whole number of evaluations >= 1")
    assert not (tmp_path / "b.sqlite").exists()


def test_positional_parameters_get_an_example_that_fits():
    assert_one_line_exit_2(run("compare", "--problems", "sphere(3)", "--optimizers", "random"), "sphere(dim=3)")


def test_run_ids_are_accepted_as_an_option_everywhere(tmp_path):
    store = str(tmp_path / "r.sqlite")
    assert run("compare", *GRID, "--store", store).returncode == 0
    by_position = run("report", "1", "--store", store, "--format", "json")
    by_option = run("report", "--run", "1", "--store", store, "--format", "json")
    assert by_position.returncode == by_option.returncode == 0 and by_position.stdout == by_option.stdout
    saved = run("baseline", "save", "--run", "1", "--store", store, "-o", str(tmp_path / "b.json"))
    assert saved.returncode == 0, saved.stderr
    assert_one_line_exit_2(run("report", "1", "--run", "2", "--store", store), "two run ids")


def test_a_partial_run_says_so(tmp_path):
    store = str(tmp_path / "p.sqlite")
    assert run("compare", *GRID, "--store", store).returncode == 0
    with sqlite3.connect(store) as db:  # as a killed campaign leaves it: two of the three trials never saved
        keys = json.loads(db.execute("SELECT keys FROM runs WHERE id = 1").fetchone()[0])
        db.execute("DELETE FROM trials WHERE key IN (?, ?)", keys[1:3])
    shown = run("report", "--store", store, "-o", str(tmp_path / "out"))
    assert shown.returncode == 0, shown.stderr
    assert "run 1 is partial: 2 of 3 trials never ran" in shown.stderr
    assert "partial: 1 of 3 trials" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_a_baseline_trial_without_its_spec_is_one_line(tmp_path):
    store = str(tmp_path / "g.sqlite")
    assert run("compare", *GRID, "--store", store).returncode == 0
    path = tmp_path / "base.json"
    assert run("baseline", "save", "--store", store, "-o", str(path)).returncode == 0
    data = json.loads(path.read_text())
    del data["trials"][0]["spec"]
    path.write_text(json.dumps(data))
    assert_one_line_exit_2(run("check", "--baseline", str(path), "--store", str(tmp_path / "c.sqlite")),
                           "trial 0 of the baseline is malformed")


def test_history_html_into_a_file_or_proc_is_one_line(tmp_path):
    history = tmp_path / "h.jsonl"
    history.write_text("")
    taken = tmp_path / "taken"
    taken.write_text("x")
    for target in (str(taken), "/proc/optbench-history"):
        assert_one_line_exit_2(run("history", "--history", str(history), "--html", target), "cannot write")


def test_exporting_a_study_run_is_refused(tmp_path):
    store = str(tmp_path / "s.sqlite")
    study = run("study", "crossover", "--quick", "--store", store, "-q", "--n", "1000", "--d", "10", "--cond", "1",
                "--eps", "1e-2", "--methods", "cholesky", "--no-sparse", "--repeats", "2")  # two tasks
    assert study.returncode == 0, study.stderr
    out = tmp_path / "export"
    assert_one_line_exit_2(run("export", str(out), "--format", "coco", "--store", store), "is a study")
    assert not out.exists()


def test_a_problem_returning_half_precision_is_caught_in_the_check_and_at_run_time():
    import pytest
    import torch

    from optbench.api import Budget, Problem, Space, TrialSpec, TrialState
    from optbench.plugins import register_problem
    from optbench.runners.trial import run_trial
    from optbench.testing import check_problem

    class Halved(Problem):
        family = "halved_precision"
        optimal_value = 0.0

        def __init__(self, *, instance: int = 0, device: object = "cpu", dtype: object = None) -> None:
            super().__init__(instance=instance, device=device, dtype=dtype)
            self.space = Space.box(2, -1.0, 1.0)

        def _evaluate(self, X: torch.Tensor) -> torch.Tensor:
            return (X * X).sum(dim=1).to(torch.float16)

    register_problem(Halved)
    with pytest.raises(Exception, match="float16"):
        check_problem("halved_precision")
    result = run_trial(TrialSpec(problem="halved_precision", optimizer="random", budget=Budget(evaluations=20)))
    assert result.state is TrialState.FAILED and "float16" in (result.reason or "")


def test_a_library_keyword_refused_only_at_the_first_step_is_refused_up_front(tmp_path):
    done = run("compare", "--problems", "linreg", "--optimizers", "torch:LBFGS(line_search_fn='bogus')",
               "--store", str(tmp_path / "l.sqlite"))
    assert_one_line_exit_2(done, "strong_wolfe")


def test_a_nan_returning_problem_leaks_no_numpy_warnings(tmp_path):
    plugin = tmp_path / "nanny.py"
    plugin.write_text("import torch\nfrom optbench.plugins import problem\n\n\n"
                      "@problem('nanny', dim=2, bounds=(-1.0, 1.0))\ndef nanny(X):\n"
                      "    return torch.full((X.shape[0],), float('nan'), dtype=X.dtype)\n")
    done = run("compare", "--plugin", str(plugin), "--problems", "nanny", "--optimizers", "random,cmaes",
               "--seeds", "2", "--budget", "20", "--store", str(tmp_path / "n.sqlite"), "-q")
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr


def test_one_explicit_seed_is_seed_n(tmp_path):
    store = str(tmp_path / "s.sqlite")
    done = run("compare", "--problems", "sphere(dim=2)", "--optimizers", "random", "--seed", "7", "--budget", "10",
               "--store", store, "-q", "--format", "json")
    assert done.returncode == 0 and "1 trials, 1 to run" in done.stderr, done.stderr
    import sqlite3

    with sqlite3.connect(store) as db:
        (spec,) = db.execute("SELECT spec FROM trials").fetchone()
    assert json.loads(spec)["seed"] == 7
    assert_one_line_exit_2(run("compare", "--seed", "1", "--seeds", "3", "--store", store), "give one of them")
