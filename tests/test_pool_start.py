"""How the process pool starts its workers: forked warm from the coordinator where that is safe,
spawned elsewhere, and either way the same results and a clean end."""

from __future__ import annotations

import json

import pytest
from clirun import ENV, assert_one_line_exit_2, run

from optbench.api import Budget, ConfigError, TrialSpec, TrialState
from optbench.runners.executors import ProcessExecutor, start_method
from optbench.runners.trial import run_trial

GRID = ["--problems", "sphere(dim=3),rastrigin(dim=3)", "--optimizers", "cmaes,random", "--seeds", "3",
        "--budget", "120", "--device", "cpu", "-q", "--format", "json", "--rerun"]


def _finals(store) -> dict[str, float]:
    import sqlite3

    with sqlite3.connect(store) as con:
        rows = con.execute("SELECT key, state, result FROM trials").fetchall()
    assert rows and all(state == "complete" for _, state, _ in rows)
    return {key: json.loads(result)["final_value"] for key, _, result in rows}


@pytest.mark.parametrize("method", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])  # spawn: make test-all
def test_two_jobs_give_the_results_of_one_job_whichever_start_method(tmp_path, method):
    inline = run("compare", *GRID, "--jobs", "1", "--store", str(tmp_path / "one.sqlite"))
    assert inline.returncode == 0, inline.stderr
    pooled = run("compare", *GRID, "--jobs", "2", "--store", str(tmp_path / "two.sqlite"),
                 env={**ENV, "OPTBENCH_START_METHOD": method})
    assert pooled.returncode == 0, pooled.stderr
    assert _finals(tmp_path / "two.sqlite") == _finals(tmp_path / "one.sqlite")  # same seeds, same traces


def test_forked_idle_workers_see_their_pipe_close_and_exit_cleanly(monkeypatch):
    """A forked worker holds copies of the coordinator's pipe ends; unless it closes them, closing the
    coordinator's end is no end of file there and close() has to kill it (exit code -9)."""
    monkeypatch.setenv("OPTBENCH_START_METHOD", "fork")
    executor = ProcessExecutor(2)
    specs = [TrialSpec(problem="sphere", problem_params=(("dim", 2),), optimizer="random", optimizer_params=(),
                       budget=Budget(evaluations=20.0), seed=seed, instance=0, device="cpu") for seed in range(4)]
    results = list(executor.map(run_trial, specs))
    assert sorted(r.spec.seed for r in results) == [0, 1, 2, 3]
    assert all(r.state is TrialState.COMPLETE for r in results)
    processes = [slot.process for slot in executor._slots]
    assert len(processes) == 2 and executor.start_method == "fork"
    executor.close()
    assert [p.exitcode for p in processes] == [0, 0]


def test_start_method_override_is_checked(monkeypatch):
    monkeypatch.setenv("OPTBENCH_START_METHOD", "threads")
    with pytest.raises(ConfigError, match="OPTBENCH_START_METHOD must be one of fork, spawn"):
        start_method(2)
    bad = run("compare", *GRID, "--jobs", "2", "--store", "/tmp/never.sqlite",
              env={**ENV, "OPTBENCH_START_METHOD": "threads"})
    assert_one_line_exit_2(bad, "OPTBENCH_START_METHOD")
