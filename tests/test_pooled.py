"""Instances pooled in one table (bbob's instances have their own optima): the header and the JSON say which
instances and each one's optimum, never one instance's id and optimum for all; every gap in the pooled
statistics is taken against its own instance's optimum."""

from __future__ import annotations

import json
import sqlite3
import statistics

import pytest
from clirun import run

pytest.importorskip("cocoex", reason="bbob needs the coco extra (pip install 'optbench[coco]')")

CAMPAIGN = ["compare", "-q", "--device", "cpu", "--problems", "bbob(fid=1,dim=5)", "--optimizers", "random",
            "--seeds", "2", "--budget", "100"]


def _header(stdout: str) -> str:
    """The table's title: the lines from the one naming bbob to the table's top border."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("bbob"))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("┏"))
    return " ".join(lines[start:end])


def test_pooled_instances_say_each_optimum_and_take_each_gap_against_its_own(tmp_path):
    store = tmp_path / "s.sqlite"
    table = run(*CAMPAIGN, "--instances", "1,2,3", "--store", str(store))
    assert table.returncode == 0, table.stderr[-2000:]
    header = _header(table.stdout)
    assert "instances 1–3" in header and "optimum per instance (1:" in header, header
    assert "_i1" not in header, header  # not instance 1's id standing for all three

    with sqlite3.connect(store) as db:
        results = [json.loads(r) for (r,) in db.execute("SELECT result FROM trials")]
    optima = {r["spec"]["instance"]: r["optimal_value"] for r in results}
    assert len(set(optima.values())) == 3, optima  # the instances' optima differ: pooling them must say so
    own_gaps = [r["final_value"] - optima[r["spec"]["instance"]] for r in results]

    summary = json.loads(run("report", "--store", str(store), "--format", "json").stdout)
    (cell,) = summary["cells"]
    assert cell["problem_id"] == "bbob_d5" and cell["optimal_value"] is None, cell
    assert cell["instance_optima"] == " ".join(f"{i}:{v!r}" for i, v in sorted(optima.items()))
    # the pooled median gap is the median of each trial's gap to its own instance's optimum (values are O(1e2),
    # a difference of two doubles rounds by at most a few ulps of 1e3)
    assert cell["median"] == pytest.approx(statistics.median(own_gaps), rel=0, abs=1e-9)
    assert all(g >= 0 for g in own_gaps)


def test_one_instance_keeps_its_own_id_and_optimum(tmp_path):
    proc = run(*CAMPAIGN, "--instances", "2,", "--store", str(tmp_path / "s.sqlite"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    header = _header(proc.stdout)
    assert "bbob_d5_i2" in header and "optimum -247" in header and "instances" not in header, header
