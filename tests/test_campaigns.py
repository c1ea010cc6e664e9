"""Campaigns that survive: kills, concurrent coordinators, dying workers, timeouts, NaN — real processes,
a real SQLite file and a real Dask LocalCluster."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from clirun import ENV, OPTBENCH
from clirun import stored_states as states

from optbench.api import Budget, TrialSpec, TrialState, freeze_params
from optbench.campaign import run_campaign
from optbench.store import SCHEMA_VERSION, Store

CHAOS = str(Path(__file__).parent / "data" / "chaos_plugin.py")


def compare(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([*OPTBENCH, "compare", "--plugin", CHAOS, "-q", "--device", "cpu", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, **kw)


SLOW = ["--problems", "sphere(dim=2)", "--optimizers", "slow_guess(pause=0.02)", "--budget", "200"]


def test_a_killed_campaign_resumes_with_every_trial_stored_exactly_once(tmp_path):
    store = tmp_path / "k.sqlite"
    proc = compare(*SLOW, "--seeds", "30", "--store", str(store))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some trials are stored and one is in flight, then SIGKILL
        now = states(store) if store.exists() else []
        if sum(s == "complete" for _, s in now) >= 3 and any(s == "running" for _, s in now):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = states(store)
    assert 3 <= sum(s == "complete" for _, s in before) < 30
    assert any(s == "running" for _, s in before)  # the trial in flight, left claimed by a dead process
    again = compare(*SLOW, "--seeds", "30", "--store", str(store))
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    after = states(store)
    assert len(after) == 30 and len({k for k, _ in after}) == 30
    assert Counter(s for _, s in after) == {"complete": 30}


def _ran_here(stderr: str) -> int:
    """Trials the campaign ran itself, from its closing line ("... (7 run here, 5 by another ...)")."""
    last = stderr.strip().splitlines()[-1]
    match = re.search(r"\((\d+) run here, (\d+) by another optbench process\)", last)
    if match is None:  # it ran everything itself
        todo = int(re.search(r"(\d+) to run", stderr).group(1))
        return todo
    return int(match.group(1))


def _cell(out: str) -> dict:
    cells = json.loads(out)["cells"]
    assert len(cells) == 1
    return cells[0]


def test_two_campaigns_on_one_store_share_the_work_without_duplicates(tmp_path):
    store = tmp_path / "c.sqlite"
    # 1 s trials: the work lasts far longer than a process takes to start, even on a loaded machine
    args = [*SLOW, "--seeds", "30", "--store", str(store), "--format", "json"]
    args[args.index("slow_guess(pause=0.02)")] = "slow_guess(pause=0.04)"
    procs = [compare(*args), compare(*args)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "being run by another" not in err
    rows = states(store)
    assert len(rows) == 30 and len({k for k, _ in rows}) == 30 and Counter(s for _, s in rows) == {"complete": 30}
    ran = [_ran_here(err) for _, err in outputs]
    assert all(n >= 1 for n in ran), ran  # the work was split: each process ran some trials
    assert sum(ran) == 30, ran  # and no trial ran twice
    for out, _ in outputs:  # both print the full table, not only their own part
        assert _cell(out)["with_result"] == 30
    db = sqlite3.connect(store)
    runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    db.close()
    assert runs == 2


@pytest.mark.slow  # most of half a minute; `make test-all` runs it
def test_a_campaign_waits_for_another_and_takes_over_its_claims_when_it_dies(tmp_path):
    store = tmp_path / "w.sqlite"
    args = [*SLOW, "--seeds", "30", "--store", str(store), "--format", "json"]
    first = compare(*args)
    deadline = time.monotonic() + 120
    _wait_for_complete(store, 2, deadline)
    second = compare(*args)
    while time.monotonic() < deadline:  # until the second holds claims of its own: both are running
        if first.poll() is not None or _owners(store) >= {first.pid, second.pid}:
            break
        time.sleep(0.1)
    assert first.poll() is None, "the first campaign ended before the second started; make the trials slower"
    first.send_signal(signal.SIGKILL)
    first.wait()  # reaped: its claim now belongs to a process that does not exist
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    rows = states(store)
    assert len(rows) == 30 and Counter(s for _, s in rows) == {"complete": 30}
    assert _cell(out)["with_result"] == 30


def _wait_for_complete(store: Path, count: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if store.exists() and Counter(s for _, s in states(store))["complete"] >= count:
            return
        time.sleep(0.2)


def _owners(store: Path) -> set[int]:
    if not states(store):
        return set()
    db = sqlite3.connect(store)
    try:
        owners = db.execute("SELECT owner FROM trials WHERE state = 'running'").fetchall()
    finally:
        db.close()
    return {int(o.rpartition(":")[2]) for (o,) in owners if o}


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_ctrl_c_with_two_jobs_prints_one_message_and_no_worker_traceback(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    store = tmp_path / "i.sqlite"
    # its own process group, as a terminal's foreground job: SIGINT to the group reaches the workers too
    proc = compare(*SLOW, "--seeds", "30", "--jobs", "2", "--executor", executor, "--store", str(store),
                   start_new_session=True)
    deadline = time.monotonic() + 120
    _wait_for_complete(store, 2, deadline)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("30 trials, 30 to run"), err
    assert lines[1].startswith("interrupted: ") and "run the same command again to resume" in lines[1]
    assert not any(s == "running" for _, s in states(store))  # its claims were given back


def test_trial_timeout_kills_a_hung_trial_and_the_campaign_goes_on(tmp_path):
    store = tmp_path / "t.sqlite"
    proc = compare("--problems", "sphere(dim=2)", "--optimizers", "sleeper,random", "--seeds", "2", "--budget", "50",
                   "--trial-timeout", "8", "--jobs", "2", "--store", str(store))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    counts = Counter(s for _, s in states(store))
    assert counts == {"timeout": 2, "complete": 2}
    assert "trial timeout of 8 s" in out


def test_a_raising_optimizer_and_a_nan_problem_fail_or_flag_and_the_rest_completes(tmp_path):
    store = tmp_path / "n.sqlite"
    proc = compare("--problems", "nan_bowl,sphere(dim=2)", "--optimizers", "raise_midway,random", "--seeds", "3",
                   "--budget", "100", "--store", str(store), "--format", "json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    cells = {(c["problem"], c["optimizer"]): c for c in json.loads(out)["cells"]}
    raised = cells[("sphere(dim=2)", "raise_midway")]
    assert raised["failed"] == 3 and raised["with_result"] == 0
    with Store(store) as s:
        failed = [r for r in s.results() if r.spec.optimizer == "raise_midway"]
    assert all(r.state is TrialState.FAILED and "raised in the middle" in r.reason for r in failed)
    assert all(r.final_value is not None for r in failed)  # the best value seen before it raised
    assert cells[("sphere(dim=2)", "random")]["with_result"] == 3
    nan_random = cells[("nan_bowl", "random")]
    assert nan_random["with_result"] == 3 and nan_random["median"] is not None  # NaN points never win


def _spec(optimizer: str, seed: int, **params) -> TrialSpec:
    return TrialSpec(problem="sphere", optimizer=optimizer, budget=Budget(evaluations=40), seed=seed,
                     problem_params=freeze_params({"dim": 2}), optimizer_params=freeze_params(params))


def test_dask_local_cluster_retries_a_killed_worker_and_records_a_crash(tmp_path, monkeypatch):
    from optbench.plugins import load_plugins
    from optbench.runners.dask_executor import DaskExecutor

    load_plugins([CHAOS])
    marker = str(tmp_path / "marker")
    specs = [_spec("crash_once", 0, marker=marker), _spec("crash_always", 0)] + [_spec("random", s) for s in range(4)]
    executor = DaskExecutor(workers=2, retries=1, plugins=[CHAOS])
    with Store(tmp_path / "dask.sqlite") as store:
        results = run_campaign(specs, store, executor=executor)
        rows = store.results([s.key for s in specs])
    by_optimizer = {r.spec.optimizer: r for r in results if r.spec.optimizer != "random"}
    assert by_optimizer["crash_once"].state is TrialState.COMPLETE  # killed its worker once, then ran
    assert (tmp_path / "marker").exists()
    assert by_optimizer["crash_always"].state is TrialState.CRASHED
    assert [r.state for r in rows].count(TrialState.COMPLETE) == 5 and len(rows) == 6


def test_process_pool_replaces_dead_workers_and_bounds_retries(tmp_path):
    from optbench.plugins import load_plugins
    from optbench.runners.executors import ProcessExecutor

    load_plugins([CHAOS])
    marker = str(tmp_path / "marker")
    specs = [_spec("crash_once", 0, marker=marker), _spec("crash_always", 0)] + [_spec("random", s) for s in range(4)]
    with Store(tmp_path / "pool.sqlite") as store:
        results = run_campaign(specs, store, executor=ProcessExecutor(2, retries=2, plugins=[CHAOS]))
    by_optimizer = {r.spec.optimizer: r for r in results if r.spec.optimizer != "random"}
    assert by_optimizer["crash_once"].state is TrialState.COMPLETE
    crashed = by_optimizer["crash_always"]
    assert crashed.state is TrialState.CRASHED and "exit code 4" in crashed.reason and "3 attempts" in crashed.reason
    assert sum(r.state is TrialState.COMPLETE for r in results) == 5


def test_a_version_1_store_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE trials (key TEXT PRIMARY KEY, problem TEXT NOT NULL, optimizer TEXT NOT NULL,
            seed INTEGER NOT NULL, instance INTEGER NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL,
            spec TEXT NOT NULL, result TEXT, updated_at REAL NOT NULL);
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, command TEXT NOT NULL,
            keys TEXT NOT NULL);
        PRAGMA user_version = 1;
    """)
    db.close()
    with Store(path) as store:
        assert store.claim([_spec("random", 0)]) == [_spec("random", 0)]
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_claims_skip_live_owners_and_take_over_dead_ones(tmp_path):
    specs = [_spec("random", s) for s in range(3)]
    with Store(tmp_path / "claims.sqlite") as store:
        assert store.claim(specs[:2], owner=f"{os.uname().nodename}:{os.getppid()}") == specs[:2]  # a live process
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        store.claim(specs[2:], owner=f"{os.uname().nodename}:{int(dead.stdout)}")  # a process that has exited
        assert store.claim(specs) == specs[2:]
        assert store.running_elsewhere(s.key for s in specs) == 2
        store.release([specs[2].key])
        assert store.claim(specs) == specs[2:]
