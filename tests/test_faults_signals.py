"""Signals, lost workers and trials that never end, made for real: SIGTERM to a two-job campaign (as
`timeout`, Kubernetes or a batch scheduler sends it), a real Dask scheduler whose only worker is killed,
an optimizer that never calls the evaluator under a time budget and one that swallows BudgetExhausted.

Storage faults are in tests/test_faults.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from clirun import ENV, OPTBENCH, assert_one_line_exit_2, run
from clirun import stored_states as _rows
from procs import children, in_session, running

from optbench.api import Budget, BudgetExhausted
from optbench.evaluator import REFUSALS, BudgetIgnoredError, Evaluator
from optbench.runners.worker import HARD_LIMIT_FACTOR, HARD_LIMIT_GRACE

DATA = Path(__file__).parent / "data"
CHAOS, FAULTS = str(DATA / "chaos_plugin.py"), str(DATA / "fault_plugin.py")
SLOW = ["--problems", "sphere(dim=2)", "--optimizers", "slow_guess(pause=0.03)", "--budget", "800"]  # ~3 s a trial


def _compare(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([*OPTBENCH, "compare", "--plugin", CHAOS, "-q", "--device", "cpu", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or ENV, **kw)


def _wait_for(store: Path, proc: subprocess.Popen, *, complete: int, running_too: int = 0, within: float = 180) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and proc.poll() is None:
        states = Counter(s for _, s in _rows(store)) if store.exists() else Counter()
        if states["complete"] >= complete and states["running"] >= running_too:
            return
        time.sleep(0.05)
    raise AssertionError(f"never saw {complete} complete and {running_too} running trials (exit {proc.poll()})")


# ------------------------------------------------------------------ SIGTERM
@pytest.mark.parametrize("to", ["the command", pytest.param("its process group", marks=pytest.mark.slow)])
def test_sigterm_with_two_jobs_is_ctrl_c_one_line_claims_released_workers_ended_resumable(tmp_path, to):
    store = tmp_path / "t.sqlite"
    args = [*SLOW, "--seeds", "6", "--jobs", "2", "--store", str(store)]
    proc = _compare(*args, start_new_session=True)
    try:
        _wait_for(store, proc, complete=2, running_too=2)
        workers = children(proc.pid)
        assert len(workers) >= 2  # the two pool workers (and the spawn context's resource tracker)
        sent = time.monotonic()
        if to == "the command":  # timeout(1), Kubernetes, `kill PID`
            proc.send_signal(signal.SIGTERM)
        else:  # systemd's control group, Slurm's job step: every process at once
            os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
        time.sleep(1)
        left = {pid for pid in workers if running(pid)}
    finally:
        for pid in in_session(proc.pid):
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("6 trials, 6 to run"), err
    assert lines[1].startswith("interrupted: ") and "run the same command again to resume" in lines[1], err
    assert took < 5, f"SIGTERM took {took:.1f} s to end the command"
    assert not left, f"workers {sorted(left)} still run a second after the command ended"
    states = Counter(s for _, s in _rows(store))
    assert states["running"] == 0 and 2 <= states["complete"] < 6, states  # claims given back, results kept
    again = _compare(*args)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    rows = _rows(store)
    assert Counter(s for _, s in rows) == {"complete": 6} and len({k for k, _ in rows}) == 6


# ------------------------------------------------------------------ every Dask worker lost
@pytest.fixture
def scheduler(tmp_path):
    """A real `dask scheduler` process (no worker): its address."""
    pytest.importorskip("distributed")
    info = tmp_path / "scheduler.json"
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                             "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (info.exists() and info.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but give it a moment
        yield json.loads(info.read_text())["address"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _worker(address: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--no-nanny",
                             "--nthreads", "1", "--no-dashboard"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.mark.slow  # most of half a minute; `make test-all` runs it
def test_every_dask_worker_lost_ends_the_campaign_after_the_stated_wait_with_claims_released(tmp_path, scheduler):
    store = tmp_path / "d.sqlite"
    env = {**ENV, "OPTBENCH_DASK_WORKER_TIMEOUT": "3"}
    args = ["--problems", "sphere(dim=2)", "--optimizers", "slow_guess(pause=0.02)", "--budget", "200",
            "--seeds", "12", "--scheduler", scheduler, "--store", str(store)]
    # no worker ever joined
    started = time.monotonic()
    proc = _compare(*args, env=env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    errors = [line for line in err.strip().splitlines() if line.startswith("optbench: error: ")]
    assert len(errors) == 1 and "no Dask worker for 3 s" in errors[0] and "0 of 12 trials are stored" in errors[0]
    assert "Traceback" not in err and time.monotonic() - started < 60
    assert not _rows(store)  # every claim given back
    # a worker runs some trials, then dies with others in flight
    worker = _worker(scheduler)
    proc = _compare(*args, env=env)
    try:
        _wait_for(store, proc, complete=2, running_too=1)
        os.killpg(worker.pid, signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=120)
        waited = time.monotonic() - killed
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    (line,) = [line for line in err.strip().splitlines() if line.startswith("optbench: error: ")]
    assert "no Dask worker for 3 s" in line and "start workers and run the same command again" in line
    assert 3 <= waited < 30, waited
    states = Counter(s for _, s in _rows(store))
    assert states["running"] == 0 and 2 <= states["complete"] < 12, states
    # workers back: it resumes
    worker = _worker(scheduler)
    try:
        proc = _compare(*args, env=env)
        _, err = proc.communicate(timeout=300)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    assert proc.returncode == 0, err
    assert Counter(s for _, s in _rows(store)) == {"complete": 12}


def test_a_bad_dask_worker_wait_is_refused_before_any_work(tmp_path):
    pytest.importorskip("distributed")
    env = {**ENV, "OPTBENCH_DASK_WORKER_TIMEOUT": "soon"}
    proc = run("compare", "-q", "--executor", "dask", "--problems", "sphere(dim=2)", "--optimizers", "random",
               "--budget", "10", "--store", str(tmp_path / "s.sqlite"), env=env)
    assert_one_line_exit_2(proc, "OPTBENCH_DASK_WORKER_TIMEOUT must be a positive number")
    assert not (tmp_path / "s.sqlite").exists()


# ------------------------------------------------------------------ trials that never end
def test_a_time_budget_implies_a_hard_limit_and_a_swallowed_budget_exhausted_fails_the_trial(tmp_path):
    store = tmp_path / "h.sqlite"
    started = time.monotonic()
    proc = run("compare", "--plugin", FAULTS, "-q", "--device", "cpu", "--problems", "sphere(dim=2)",
               "--optimizers", "idle,swallow,random", "--seeds", "1", "--time-budget", "0.5", "--store", str(store),
               "--format", "json", timeout=300)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    limit = HARD_LIMIT_FACTOR * 0.5 + HARD_LIMIT_GRACE
    assert limit <= took < limit + 90, took  # killed at its limit, not waited for
    cells = {c["optimizer"]: c for c in json.loads(proc.stdout)["cells"]}
    assert cells["random"]["with_result"] == 1
    from optbench.store import Store

    with Store(store) as s:
        by = {r.spec.optimizer: r for r in s.results()}
    assert by["idle"].state.value == "timeout"
    assert f"killed after {limit:g} s" in by["idle"].reason and "3 × its time budget of 0.5 s" in by["idle"].reason
    assert by["swallow"].state.value == "failed"
    swallowed = by["swallow"].reason
    assert "BudgetIgnoredError" in swallowed and "catches and ignores BudgetExhausted" in swallowed
    assert by["random"].state.value == "complete"


def test_a_swallowed_budget_exhausted_fails_the_trial_inline_under_an_evaluation_budget(tmp_path):
    store = tmp_path / "e.sqlite"
    proc = run("compare", "--plugin", FAULTS, "-q", "--device", "cpu", "--problems", "sphere(dim=2)",
               "--optimizers", "swallow", "--seeds", "1", "--budget", "50", "--executor", "inline",
               "--store", str(store), "--format", "json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    (cell,) = json.loads(proc.stdout)["cells"]
    assert cell["failed"] == 1


def test_the_evaluator_turns_ignored_refusals_into_an_error_no_except_budget_exhausted_catches():
    from optbench.registry import make_problem

    problem = make_problem("sphere", {"dim": 2}, device="cpu")
    evaluator = Evaluator(problem, Budget(evaluations=3))
    X = torch.zeros((2, 2), dtype=problem.dtype)
    evaluator.evaluate(X)
    with pytest.raises(BudgetExhausted) as cut:
        evaluator.evaluate(X)  # one of two points fits: its value rides on the exception
    assert cut.value.values is not None and len(cut.value.values) == 1
    for _ in range(REFUSALS - 1):
        with pytest.raises(BudgetExhausted):
            evaluator.evaluate(X)
    with pytest.raises(BudgetIgnoredError, match=f"called the evaluator {REFUSALS} times after BudgetExhausted"):
        evaluator.evaluate(X)
    assert not issubclass(BudgetIgnoredError, BudgetExhausted)
    assert evaluator.evaluations == 3  # never past the budget
