"""Campaigns that survive: kills, concurrent coordinators, dying workers, timeouts, NaN — real processes,
a real SQLite file and a real Dask LocalCluster."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from optbench.api import Budget, TrialSpec, TrialState, freeze_params
from optbench.campaign import run_campaign
from optbench.store import SCHEMA_VERSION, Store

CHAOS = str(Path(__file__).parent / "data" / "chaos_plugin.py")
OPTBENCH = [sys.executable, "-m", "optbench.cli"]
ENV = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}


def compare(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([*OPTBENCH, "compare", "--plugin", CHAOS, "-q", "--device", "cpu", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, **kw)


def states(store: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT key, state FROM trials").fetchall()
    finally:
        db.close()


SLOW = ["--problems", "sphere(dim=2)", "--optimizers", "slow_guess(pause=0.02)", "--budget", "200"]


def test_a_killed_campaign_resumes_with_every_trial_stored_exactly_once(tmp_path):
    store = tmp_path / "k.sqlite"
    proc = compare(*SLOW, "--seeds", "30", "--store", str(store))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some trials are stored, then SIGKILL mid-campaign
        if store.exists() and sum(s == "complete" for _, s in states(store)) >= 3:
            break
        time.sleep(0.2)
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


def test_two_campaigns_on_one_store_share_the_work_without_duplicates(tmp_path):
    store = tmp_path / "c.sqlite"
    args = [*SLOW, "--seeds", "24", "--store", str(store)]
    first, second = compare(*args), compare(*args)
    for proc in (first, second):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    rows = states(store)
    assert len(rows) == 24 and Counter(s for _, s in rows) == {"complete": 24}
    # both did part of the work: claims kept them from running the same trial
    db = sqlite3.connect(store)
    runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    db.close()
    assert runs == 2


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
