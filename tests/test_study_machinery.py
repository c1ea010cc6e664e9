"""A study's tasks are trials of the common machinery: a process pool, a Dask LocalCluster, a kill -9
in the middle, all through the CLI as a subprocess and a real SQLite store."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections import Counter

import pytest
from clirun import ENV, OPTBENCH

SEEDS = ["study", "seeds", "--problem", "digits(hidden=8)", "--epochs", "2", "--losses", "cross_entropy", "-q"]


def _states(store) -> list[tuple[str, str]]:
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT key, state FROM trials").fetchall()
    except sqlite3.OperationalError:  # the store is being created
        return []
    finally:
        db.close()


def _study(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*OPTBENCH, *SEEDS, *args], capture_output=True, text=True, env=ENV, timeout=600,
                          check=False)


@pytest.mark.slow  # most of half a minute; `make test-all` runs it
def test_a_process_pool_and_a_dask_cluster_run_the_tasks(tmp_path):
    pooled = _study("--seeds", "2", "--jobs", "2", "--store", str(tmp_path / "p.sqlite"), "--format", "json")
    assert pooled.returncode == 0, pooled.stderr
    data = json.loads(pooled.stdout)
    assert data["failed_tasks"] == 0 and data["tables"][-1]["rows"][0][3] is True  # audit: bit-identical
    dask = _study("--seeds", "2", "--sources", "both", "--executor", "dask", "--jobs", "2", "--store",
                  str(tmp_path / "d.sqlite"), "--format", "json")
    assert dask.returncode == 0, dask.stderr
    assert json.loads(dask.stdout)["failed_tasks"] == 0
    assert Counter(s for _, s in _states(tmp_path / "d.sqlite")) == {"complete": 2}


def test_a_study_killed_mid_run_resumes_and_stores_every_task_once(tmp_path):
    store = tmp_path / "k.sqlite"
    args = ["--seeds", "6", "--epochs", "3", "--sources", "init,order,both,none", "--store", str(store)]
    total = 3 * 6 + 4  # the audit ("none") trains the same seeds 4 times
    proc = subprocess.Popen([*OPTBENCH, *SEEDS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # some tasks stored, then SIGKILL mid-study
            if store.exists() and sum(s == "complete" for _, s in _states(store)) >= 3:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stored = sum(s == "complete" for _, s in _states(store))
    assert 3 <= stored < total
    again = _study(*args, "--format", "json")
    assert again.returncode == 0, again.stderr
    assert f"{total - stored} to run, {stored} already in" in again.stderr
    after = _states(store)
    assert len(after) == total and Counter(s for _, s in after) == {"complete": total}
    assert json.loads(again.stdout)["tables"][0]["rows"][0][2] == 6  # six seeds in the analysis
