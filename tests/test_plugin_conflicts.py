"""Two installed packages claiming one name: both are named, neither keeps it, every other command works."""

from __future__ import annotations

import os

from clirun import ENV, assert_one_line_exit_2, run

PROBLEM = '''from optbench.plugins import problem


@problem("duo", dim=2, bounds=(-1.0, 1.0), optimal_value=0.0)
def duo(X):
    return (X * X).sum(dim=1){extra}
'''


def _install(site, name: str, extra: str) -> None:
    """A minimal installed distribution: a module and a .dist-info folder with its entry point."""
    (site / f"{name}.py").write_text(PROBLEM.format(extra=extra))
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[optbench.problems]\nduo = {name}:duo\n")


def test_two_packages_with_one_name_leave_every_other_name_working(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "duo_left", "")
    _install(site, "duo_right", " + 1.0")
    env = {**ENV, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), ENV.get("PYTHONPATH")]))}
    listed = run("list", "problems", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "duo_left" in listed.stdout and "duo_right" in listed.stdout
    works = run("compare", "--problems", "sphere(dim=2)", "--optimizers", "random", "--seeds", "1", "--budget", "20",
                "--store", str(tmp_path / "s.sqlite"), "-q", env=env)
    assert works.returncode == 0, works.stderr
    refused = run("compare", "--problems", "duo", "--optimizers", "random", "--seeds", "1", "--budget", "20",
                  "--store", str(tmp_path / "s.sqlite"), "-q", env=env)
    assert_one_line_exit_2(refused, "registered twice")
    assert "duo_left" in refused.stderr and "duo_right" in refused.stderr


def test_a_bad_autoload_switch_is_one_line(tmp_path):
    done = run("list", "problems", env={**ENV, "OPTBENCH_DISABLE_PLUGIN_AUTOLOAD": "maybe"})
    assert_one_line_exit_2(done, "OPTBENCH_DISABLE_PLUGIN_AUTOLOAD='maybe'")
