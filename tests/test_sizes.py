"""Sizes are estimated before anything is allocated: refused in one line when they cannot fit (issue 24, section 3)."""

from __future__ import annotations

import math

import pytest
import torch
from clirun import assert_one_line_exit_2, run

from optbench.registry import make_problem, problem_class


def test_an_unrotated_problem_builds_no_rotation_and_is_the_same_function():
    plain = make_problem("sphere", {"dim": 50})
    assert plain.rotation is None
    rotated = make_problem("sphere", {"dim": 50, "rotate": True})
    assert rotated.rotation is not None and rotated.rotation.shape == (50, 50)
    assert torch.equal(plain.shift, rotated.shift)  # the rotation is drawn after the shift, only when used


def test_stated_needs_grow_with_the_parameters():
    sphere = problem_class("sphere")
    assert sphere.memory_need({"dim": 10**6, "rotate": False}) < 1e9 < sphere.memory_need({"dim": 10**6,
                                                                                          "rotate": True})
    linreg = problem_class("linreg")
    assert linreg.memory_need({"n": 10**12, "d": 10}) > 1e13
    assert problem_class("nk").memory_need({"n": 10**6, "K": 20}) > 1e13


def test_sizes_beyond_memory_are_one_line_before_any_allocation(tmp_path):
    store = tmp_path / "never.sqlite"
    for problem in ("sphere(dim=1000000, rotate=True)", "linreg(n=1000000000000, d=10)", "nk(n=1000000, K=20)",
                    "sphere(dim=1000000000000000000000)"):
        done = run("compare", "--problems", problem, "--optimizers", "random", "--seeds", "1", "--budget", "10",
                   "--store", str(store), timeout=120)
        assert_one_line_exit_2(done, "of memory and cpu has")
    assert not store.exists()


def test_a_million_dimensional_sphere_runs_with_random_search(tmp_path):
    done = run("compare", "--problems", "sphere(dim=1000000)", "--optimizers", "random", "--seeds", "1",
               "--budget", "100", "--store", str(tmp_path / "m.sqlite"), "-q", "--format", "csv", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 complete" in done.stderr


# ------------------------------------------------------------------ CMA-ES: a full covariance is d x d
def test_full_cma_es_at_a_million_dimensions_is_refused_naming_the_diagonal_variant(tmp_path):
    from optbench.optimizers.cmaes import CMAES

    # four d x d float64 matrices: 32 TB at d = 10^6, beyond any machine's memory; sep-CMA-ES is linear in d
    assert CMAES().memory_need(10**6) > 3e13 > 1e10 > CMAES(diagonal=True).memory_need(10**6)
    store = tmp_path / "never.sqlite"
    done = run("compare", "--problems", "sphere(dim=1000000)", "--optimizers", "random,cmaes", "--seeds", "1",
               "--budget", "100", "--store", str(store), timeout=120)
    assert_one_line_exit_2(done, "cmaes on sphere (1000000 dimensions) needs about 32 TB")
    assert "cmaes(diagonal=true)" in done.stderr
    assert not store.exists()
    assert_one_line_exit_2(run("compare", "--problems", "sphere", "--optimizers", "cmaes(diagonal=3)",
                               "--store", str(store)), "diagonal")


def _diagonal_cma_es(tmp_path, dim: int, budget: int, options: str = "") -> tuple[str, float]:
    """Run sep-CMA-ES on an unrotated sphere of ``dim`` dimensions; its stderr and the command's peak RSS (bytes)."""
    import os
    import subprocess

    from clirun import ENV, OPTBENCH

    proc = subprocess.Popen([*OPTBENCH, "compare", "--problems", f"sphere(dim={dim})", "--optimizers",
                             f"cmaes(diagonal=true{options})", "--seeds", "1", "--budget", str(budget),
                             "--device", "cpu",
                             "--store", str(tmp_path / "d.sqlite"), "-q", "--format", "csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)  # its own peak RSS (the output is a few lines: no pipe fills)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err
    assert "1 complete" in err
    import csv
    import io

    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert float(row["median_evaluations"]) == budget
    assert math.isfinite(float(row["median"]))
    return err, usage.ru_maxrss * 1024.0  # Linux reports kilobytes


@pytest.mark.slow  # a third of a minute; the million-dimensional random search and the refusal stay in CI
def test_diagonal_cma_es_runs_a_hundred_thousand_dimensional_sphere(tmp_path):
    _diagonal_cma_es(tmp_path, 100_000, 3 * 8, ", popsize=8")  # three generations of 8, to stay fast


@pytest.mark.slow
def test_diagonal_cma_es_runs_a_million_dimensional_sphere_within_its_stated_memory(tmp_path):
    from optbench.optimizers.cmaes import CMAES

    _, peak = _diagonal_cma_es(tmp_path, 10**6, 3 * 45)  # three generations of pycma's default 45 individuals
    # the optimizer's stated need plus the interpreter with torch, NumPy and pycma loaded (under 1 GB)
    assert peak < CMAES(diagonal=True).memory_need(10**6) + 1e9, peak
