"""Storage faults made for real: a store deleted or replaced while it is written, a damaged or truncated
store, a full disk (a 200 kB tmpfs). Each is one line, never a traceback; finished trials are kept
wherever the store survives, and a damaged store is left byte-identical.

Signals, lost Dask workers and trials that never end are in tests/test_faults_signals.py.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from clirun import ENV, OPTBENCH, assert_one_line_exit_2, run
from procs import in_session

from optbench.api import Budget, ConfigError, TrialSpec, freeze_params
from optbench.campaign.run import run_campaign
from optbench.store import Store
from optbench.store.health import StoreError

CHAOS = str(Path(__file__).parent / "data" / "chaos_plugin.py")
QUICK = ["compare", "-q", "--device", "cpu", "--problems", "sphere(dim=2)", "--optimizers", "random", "--budget", "300"]


def _specs(n: int) -> list[TrialSpec]:
    return [TrialSpec(problem="sphere", optimizer="random", budget=Budget(evaluations=300), seed=s,
                      problem_params=freeze_params({"dim": 2})) for s in range(n)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _states(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    except sqlite3.OperationalError as exc:  # polled while the campaign is still creating its store
        if "no such table" not in str(exc):
            raise
        return {}
    finally:
        db.close()


def _fault_line(stderr: str, message: str) -> str:
    """The one error line of a fault mid-run (after the campaign's own first line); no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.strip().splitlines() if line.startswith("optbench: error: ")]
    assert len(errors) == 1 and message in errors[0], stderr
    return errors[0]


# ------------------------------------------------------------------ a store that vanishes or is replaced
def test_a_store_deleted_while_the_campaign_runs_fails_loudly_and_is_never_written_again(tmp_path):
    store = tmp_path / "gone.sqlite"
    proc = subprocess.Popen([*OPTBENCH, "compare", "--plugin", CHAOS, "-q", "--device", "cpu", "--problems",
                             "sphere(dim=2)", "--optimizers", "slow_guess(pause=0.02)", "--budget", "200",
                             "--seeds", "30", "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if store.exists() and _states(store).get("complete", 0) >= 2:
            break
        time.sleep(0.05)
    for suffix in ("", "-wal", "-shm"):  # as `rm results.sqlite*` does
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    line = _fault_line(err, "was lost while the campaign ran")
    assert "deleted" in line and "are gone with it" in line and "saved by this campaign" in line
    assert "results in" not in out + err  # never a path that is not there
    assert not any(Path(f"{store}{suffix}").exists() for suffix in ("", "-wal", "-shm"))  # nothing written again


def test_a_store_replaced_by_another_file_is_never_written_and_the_new_file_is_untouched(tmp_path):
    path, other = tmp_path / "s.sqlite", tmp_path / "other.sqlite"
    store = Store(path)
    run_campaign(_specs(2), store)
    with Store(other) as second:  # another store moved into its place
        second.add_run("somebody else's", _specs(1))
    os.replace(other, path)
    before = _digest(path)
    with pytest.raises(StoreError, match="replaced by other files"):
        run_campaign(_specs(4), store)
    with pytest.raises(StoreError, match="was lost"):
        store.add_run("again", _specs(1))
    store.close()
    assert _digest(path) == before


def test_a_store_deleted_after_the_last_save_is_found_when_the_campaign_ends(tmp_path):
    path = tmp_path / "s.sqlite"
    specs = _specs(3)
    seen: list[str] = []

    def delete_on_the_last(result) -> None:
        seen.append(result.key)
        if len(seen) == len(specs):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    with Store(path) as store, pytest.raises(StoreError, match=r"the 3 finished trials and 0 runs it held \(3 saved"):
        run_campaign(specs, store, on_result=delete_on_the_last)
    assert not path.exists()


# ------------------------------------------------------------------ a damaged store
@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("healthy") / "h.sqlite"
    with Store(path) as store:
        store.add_run("optbench compare", _specs(30))
        run_campaign(_specs(30), store)
    assert path.stat().st_size >= 8 * 4096 and not Path(f"{path}-wal").exists()
    return path


def _damage(path: Path, how: str) -> None:
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'trials'").fetchone()[0]
    db.close()
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        if how == "zeroed page":  # the trials table's root page
            handle.seek((root - 1) * page_size)
            handle.write(bytes(page_size))
        elif how == "random bytes":  # over the last page, a leaf of some table
            handle.seek(size - page_size)
            handle.write(random.Random(7).randbytes(page_size))
        else:
            handle.truncate(size // 2)


@pytest.mark.parametrize("how", ["zeroed page", "random bytes", "truncated"])
def test_a_damaged_store_is_refused_in_one_line_and_left_byte_identical(tmp_path, healthy, how):
    path = tmp_path / "d.sqlite"
    shutil.copy(healthy, path)
    _damage(path, how)
    before = _digest(path)
    proc = run(*QUICK, "--seeds", "31", "--store", str(path))
    assert_one_line_exit_2(proc, "is damaged")
    assert "left untouched" in proc.stderr and ".recover" in proc.stderr
    report = run("report", "--store", str(path), "-o", str(tmp_path / "rep"))
    assert_one_line_exit_2(report, "is damaged")
    assert _digest(path) == before  # no run row, no journal switch, nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.sqlite"]  # no -wal or -shm left behind either


def test_a_damaged_store_is_refused_by_the_library_too(tmp_path, healthy):
    path = tmp_path / "d.sqlite"
    shutil.copy(healthy, path)
    _damage(path, "zeroed page")
    with pytest.raises(ConfigError, match="is damaged"):
        Store(path)


# ------------------------------------------------------------------ a full disk
@pytest.fixture
def small_disk(tmp_path):
    """A 200 kB tmpfs mounted for the test (needs root, and a kernel and container that allow it)."""
    if os.geteuid() != 0:
        pytest.skip(f"mounting a tmpfs needs root; this test runs as uid {os.geteuid()}")
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def _grow(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(bytes(4096))
        except OSError:  # no space left: full
            pass


def test_a_disk_that_fills_up_mid_run_keeps_what_finished_and_resumes_once_there_is_space(small_disk):
    store = small_disk / "s.sqlite"
    proc = run(*QUICK, "--seeds", "60", "--store", str(store), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    line = _fault_line(proc.stderr, "is full")
    assert "the store is intact" in line and "of 60 trials are stored" in line
    assert "results in" not in proc.stderr
    _grow(small_disk)
    db = sqlite3.connect(store)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
    kept = _states(store)
    # a claim whose release the full disk refused too is left to a dead process: the rerun takes it over
    assert set(kept) <= {"complete", "running"} and kept.get("running", 0) <= 1, kept
    assert 1 <= kept["complete"] < 60, kept
    again = run(*QUICK, "--seeds", "60", "--store", str(store), "--format", "json")
    assert again.returncode == 0, again.stderr
    assert f"{60 - kept['complete']} to run, {kept['complete']} already in" in again.stderr  # resumed
    assert _states(store) == {"complete": 60}


def test_a_full_disk_is_refused_up_front_for_a_store_and_for_reports(small_disk, tmp_path):
    _fill(small_disk)
    assert_one_line_exit_2(run(*QUICK, "--seeds", "2", "--store", str(small_disk / "new.sqlite")), "free")
    elsewhere = tmp_path / "elsewhere.sqlite"
    proc = run(*QUICK, "--seeds", "2", "--store", str(elsewhere), "--report", str(small_disk / "rep"))
    assert_one_line_exit_2(proc, "cannot write the report")
    assert not elsewhere.exists()  # refused before the store got a run row
    assert run(*QUICK, "--seeds", "2", "--store", str(elsewhere)).returncode == 0
    before = _digest(elsewhere)
    report = run("report", "--store", str(elsewhere), "-o", str(small_disk / "rep"))
    assert_one_line_exit_2(report, "free on the file system")
    assert _digest(elsewhere) == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_a_full_disk_while_a_new_store_is_created_is_one_line(small_disk):
    with open(small_disk / "filler", "wb") as handle:  # 68 kB left: past the up-front check, not past the tables
        handle.write(bytes(132 * 1024))
    proc = run(*QUICK, "--seeds", "10", "--store", str(small_disk / "n.sqlite"))
    assert proc.returncode in (1, 2), proc.stderr
    _fault_line(proc.stderr, "is full")


def test_a_full_disk_ends_a_two_job_campaign_with_no_worker_left(small_disk):
    store = small_disk / "s.sqlite"
    proc = subprocess.Popen([*OPTBENCH, *QUICK, "--seeds", "80", "--jobs", "2", "--store", str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err
        _fault_line(err, "is full")
        time.sleep(1)
        assert not in_session(proc.pid)  # the pool's workers (and its resource tracker) ended with it
    finally:
        for pid in in_session(proc.pid):
            os.kill(pid, signal.SIGKILL)
