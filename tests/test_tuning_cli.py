"""`optbench compare --tuning` as a user runs it: a subprocess, a real store, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest
from clirun import ENV, OPTBENCH, assert_one_line_exit_2, run

GRID = ["compare", "--problems", "sphere(dim=3),linreg(n=60,d=4)", "--optimizers", "adam,cmaes,random",
        "--seeds", "2", "--budget", "150", "--device", "cpu", "-q"]


def test_tuned_comparison_json_carries_the_tuning_and_report_redraws_it(tmp_path):
    store = str(tmp_path / "t.sqlite")
    done = run(*GRID, "--tuning", "random:3", "--store", store, "--format", "json")
    assert done.returncode == 0, done.stderr
    # 12 at the defaults; adam and cmaes on 2 problems: 3 tuning trials and 2 evaluation seeds each
    assert "32 trials (12 at the given hyperparameters, 20 for random:3)" in done.stderr
    assert "random declares no search space" in done.stderr
    document = json.loads(done.stdout)
    tuning = document["tuning"]
    assert tuning["format"] == "optbench.tuning/1" and tuning["ruleset"] == "random:3"
    assert len(tuning["cells"]) == 4
    for cell in tuning["cells"]:
        assert len(cell["draws"]) == 3 and len(cell["expected_best"]) == 3
        assert cell["tuning_evaluations"] == 3 * 150 and cell["selected"]
    rows = {(c["problem"], c["optimizer"]) for c in document["cells"]}
    assert ("sphere(dim=3)", "adam [random:3]") in rows and ("sphere(dim=3)", "adam") in rows
    tuned_row = next(c for c in document["cells"] if c["optimizer"] == "cmaes [random:3]")
    assert tuned_row["ruleset"] == "random:3" and tuned_row["tuning_evaluations"] == 450
    again = run("report", "--store", store, "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == document
    csv = run("report", "--store", store, "--format", "csv")
    assert "tuning_evaluations" in csv.stdout.splitlines()[0]
    html = run("report", "--store", store, "-o", str(tmp_path / "r"))
    assert html.returncode == 0, html.stderr
    assert "Tuning: random:3" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert any(p.name.startswith("tuning-curve") for p in (tmp_path / "r" / "plots").iterdir())


def test_without_tuning_the_json_has_no_tuning_section(tmp_path):
    done = run(*GRID, "--store", str(tmp_path / "n.sqlite"), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "tuning" not in json.loads(done.stdout)
    assert "12 trials, 12 to run, 0 already in" in done.stderr


def test_tuning_mistakes_are_one_line(tmp_path):
    store = tmp_path / "never.sqlite"
    for extra, message in [(["--tuning", "random:0"], "from 1 to"), (["--tuning", "grid:3"], "unknown ruleset"),
                           (["--space", "adam(lr=loguniform(1e-4, 1))"], "add --tuning"),
                           (["--tuning", "random:2", "--space", "adam(lr=gauss(1, 2))"], "unknown range"),
                           (["--tuning", "random:2", "--space", "adam(momentum=uniform(0, 1))"], "no hyperparameter"),
                           (["--tuning", "optuna:NoSuch:2"], "NoSuchSampler")]:
        assert_one_line_exit_2(run(*GRID, "--store", str(store), *extra), message)
    assert not store.exists()


def _stored(store: str) -> int:
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM trials WHERE state != 'running'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow  # most of half a minute; `make test-all` runs it
def test_kill_minus_nine_mid_tuning_then_resume_stores_every_trial_once(tmp_path):
    store = str(tmp_path / "k.sqlite")
    grid = [*GRID, "--tuning", "random:6", "--store", store, "--budget", "400"]
    process = subprocess.Popen([*OPTBENCH, *grid], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV,
                               start_new_session=True)
    deadline = time.monotonic() + 240
    while _stored(store) < 15 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the campaign ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = _stored(store)
    done = run(*grid)
    assert done.returncode == 0, done.stderr
    total = 12 + 4 * 6 + 4 * 2
    assert f"{total} trials" in done.stderr
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT key, COUNT(*) FROM trials GROUP BY key").fetchall()
        states = dict(db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    assert len(rows) == total and all(n == 1 for _, n in rows)
    assert states == {"complete": total}
    assert killed_at >= 15
