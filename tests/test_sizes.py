"""Sizes are estimated before anything is allocated: refused in one line when they cannot fit (issue 24, section 3)."""

from __future__ import annotations

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
