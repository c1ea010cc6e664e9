"""A disk that fills while a report is written (a tmpfs with just over the 1 MB the up-front check asks for,
and a report larger than that): one line naming the path and the OS's reason, never a traceback; the store
and its finished trials are kept, byte-identical when only a report was asked for."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from clirun import assert_one_line_exit_2, run

# eight problems: a report of 16 figures and tables, larger than the space left on the disk below
PROBLEMS = "sphere,rastrigin,ackley,griewank,ellipsoid,rosenbrock,schwefel,weierstrass"
CAMPAIGN = ["compare", "-q", "--device", "cpu", "--problems", PROBLEMS, "--optimizers", "random,cmaes",
            "--seeds", "2", "--budget", "100"]


@pytest.fixture
def tight_disk(tmp_path):
    """A 1,100 kB tmpfs: above the 1 MB a report is checked for up front, below what this report writes."""
    if os.geteuid() != 0:
        pytest.skip(f"mounting a tmpfs needs root; this test runs as uid {os.geteuid()}")
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1100k", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_disk_filling_while_reports_are_written_is_one_line_and_keeps_the_trials(tight_disk, tmp_path):
    store = tmp_path / "s.sqlite"
    # a campaign whose report fills the disk after its trials finished: a fault mid-run, exit 1
    proc = run(*CAMPAIGN, "--store", str(store), "--report", str(tight_disk / "campaign"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if "error" in x]
    # the path named (one_line may shorten a long temporary folder's middle, never its end)
    assert "disk/campaign: No space left on device" in line, line
    with sqlite3.connect(store) as db:
        states = db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall()
    assert states == [("complete", 32)], states

    # the same report on its own: exit 2, and the store it read is byte-identical
    shutil.rmtree(tight_disk / "campaign")
    before = _digest(store)
    proc = run("report", "--store", str(store), "-o", str(tight_disk / "report"), "--format", "html")
    assert_one_line_exit_2(proc, "No space left on device")
    assert "disk/report: No space left on device" in proc.stderr
    assert _digest(store) == before


def test_an_unreadable_place_for_a_report_is_one_line(tmp_path):
    store = tmp_path / "s.sqlite"
    assert run(*CAMPAIGN[:5], "sphere", "--optimizers", "random", "--seeds", "1", "--budget", "50",
               "--store", str(store)).returncode == 0
    for target in ("/proc/optbench-report", "/sys/optbench-report"):
        proc = run("report", "--store", str(store), "-o", target, "--format", "html")
        assert_one_line_exit_2(proc, target)
