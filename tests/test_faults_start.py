"""SIGTERM (what `timeout`, systemd and batch schedulers send) arriving before the campaign loop starts:
while plugins load and while a Dask LocalCluster starts. The same one line and exit 130 as mid-run, no
traceback, no store row written, and no process of the command left behind."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from clirun import ENV, OPTBENCH
from procs import in_session

SLOW_PLUGIN = '''
import pathlib, sys, time
pathlib.Path({marker!r}).write_text("loading")
time.sleep(30)  # a plugin that takes long to import: the signal lands while it loads
'''


def _gone(sid: int, within: float = 10.0) -> set[int]:
    """The processes of session ``sid`` still running after up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while (left := in_session(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _ended_by_sigterm(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], err[-2000:]
    return lines[0]


def test_sigterm_while_plugins_load_is_one_line_and_writes_nothing(tmp_path):
    marker = tmp_path / "loading"
    plugin = tmp_path / "slow_plugin.py"
    plugin.write_text(SLOW_PLUGIN.format(marker=str(marker)))
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen([*OPTBENCH, "compare", "--plugin", str(plugin), "--problems", "sphere", "--optimizers",
                             "random", "--seeds", "1", "--budget", "50", "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), proc.communicate(timeout=30)[1][-2000:]
    line = _ended_by_sigterm(proc)
    assert "nothing" in line or "store" in line, line
    assert not store.exists()  # interrupted before the store: none created
    assert not _gone(proc.pid)


def test_sigterm_while_a_dask_cluster_starts_leaves_no_worker(tmp_path):
    pytest.importorskip("distributed", reason="needs the dask extra (pip install 'optbench[dask]')")
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen([*OPTBENCH, "compare", "--executor", "dask", "--jobs", "2", "--problems", "sphere",
                             "--optimizers", "random", "--seeds", "4", "--budget", "50", "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    # the cluster's first worker process appears while the store does not exist yet: the cluster is starting
    deadline = time.monotonic() + 60
    while len(in_session(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate(timeout=30)[1][-2000:]
    _ended_by_sigterm(proc)
    assert not _gone(proc.pid), "a Dask worker outlived the command"
    if store.exists():  # the signal may land just after the store was made: then no claim is left running
        import sqlite3

        with sqlite3.connect(store) as db:
            assert not db.execute("SELECT COUNT(*) FROM trials WHERE state = 'running'").fetchone()[0]
