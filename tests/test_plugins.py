"""Plugins: an installed package with an entry point, plugin files, broken plugins, isolation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def optbench(*args: str, pythonpath: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1", **env}
    if pythonpath is not None:
        environ["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-m", "optbench.cli", *args], capture_output=True, text=True,
                          env=environ, timeout=300)


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """The example plugin package really installed (built by pip) into its own site folder."""
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "--target", str(site),
         str(DATA / "example_plugin")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(site.glob("optbench_example-0.3.1.dist-info/entry_points.txt"))
    return site


@pytest.fixture
def broken_site(tmp_path) -> Path:
    """A distribution whose entry point names a module that does not exist."""
    dist = tmp_path / "optbench_broken-2.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: optbench-broken\nVersion: 2.0\n")
    (dist / "entry_points.txt").write_text("[optbench.problems]\nbrokenprob = no_such_module_xyz:Thing\n")
    return tmp_path


def test_installed_plugin_is_listed_with_its_distribution_and_runs(example_site, tmp_path):
    listing = optbench("list", "problems", pythonpath=example_site)
    assert listing.returncode == 0, listing.stderr
    line = next(ln for ln in listing.stdout.splitlines() if "styblinski" in ln)
    assert "optbench-example 0.3.1" in line and "continuous" in line and "rugged" in line
    run = optbench("compare", "--problems", "styblinski", "--optimizers", "cmaes,random", "--seeds", "2",
                   "--budget", "400", "--device", "cpu", "--store", str(tmp_path / "s.sqlite"), "-q",
                   pythonpath=example_site)
    assert run.returncode == 0, run.stderr
    assert "styblinski" in run.stdout and "4 complete" in run.stderr


def test_a_broken_plugin_is_reported_and_everything_else_works(broken_site, tmp_path):
    listing = optbench("list", "problems", pythonpath=broken_site)
    assert listing.returncode == 0, listing.stderr
    assert "brokenprob" in listing.stdout and "broken" in listing.stdout
    assert "optbench-broken 2.0" in listing.stdout and "no_such_module_xyz" in listing.stdout
    plugins = optbench("plugins", pythonpath=broken_site)
    assert plugins.returncode == 0 and "ModuleNotFoundError" in plugins.stdout
    other = optbench("compare", "--problems", "sphere(dim=2)", "--optimizers", "random", "--seeds", "1",
                     "--budget", "20", "--device", "cpu", "--store", str(tmp_path / "ok.sqlite"), "-q",
                     pythonpath=broken_site)
    assert other.returncode == 0, other.stderr
    store = tmp_path / "never.sqlite"
    named = optbench("compare", "--problems", "brokenprob", "--optimizers", "random", "--store", str(store),
                     pythonpath=broken_site)
    assert named.returncode == 2
    assert "brokenprob" in named.stderr and "optbench-broken" in named.stderr and "failed to import" in named.stderr
    assert len(named.stderr.strip().splitlines()) == 1 and not store.exists()


def test_autoload_switch_hides_third_party_entry_points(broken_site):
    listing = optbench("list", "problems", pythonpath=broken_site, OPTBENCH_DISABLE_PLUGIN_AUTOLOAD="1")
    assert listing.returncode == 0 and "brokenprob" not in listing.stdout and "rastrigin" in listing.stdout


def test_plugin_file_registers_a_function_problem_and_an_optimizer(tmp_path):
    plugin = str(DATA / "local_plugin.py")
    listing = optbench("list", "optimizers", "--plugin", plugin)
    assert listing.returncode == 0 and "local_grid" in listing.stdout
    run = optbench("compare", "--plugin", plugin, "--problems", "local_abs,local_abs(dim=2)",
                   "--optimizers", "local_grid,random", "--seeds", "1", "--budget", "200", "--device", "cpu",
                   "--store", str(tmp_path / "p.sqlite"), "-q")
    assert run.returncode == 0, run.stderr
    assert "local_abs" in run.stdout and "4 complete" in run.stderr
    from_env = optbench("list", "problems", OPTBENCH_PLUGINS=plugin)
    assert "local_abs" in from_env.stdout


def test_a_plugin_from_the_environment_reaches_pool_workers(tmp_path):
    run = optbench("compare", "--problems", "local_abs", "--optimizers", "local_grid,random", "--seeds", "2",
                   "--budget", "200", "--device", "cpu", "--jobs", "2", "--store", str(tmp_path / "p.sqlite"), "-q",
                   OPTBENCH_PLUGINS=str(DATA / "local_plugin.py"))
    assert run.returncode == 0, run.stderr
    assert "4 complete" in run.stderr, run.stderr


def test_broken_plugin_file_is_one_line_and_exit_2():
    result = optbench("list", "problems", "--plugin", str(DATA / "broken_plugin.py"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"optbench: error: plugin {DATA / 'broken_plugin.py'} failed to import: ImportError: this plugin needs a "
        "library that is not installed"]
    missing = optbench("list", "problems", "--plugin", "no/such/file.py")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_name_collisions_name_both_sources(tmp_path):
    clash = tmp_path / "clash.py"
    clash.write_text("from optbench.plugins import problem\n"
                     "@problem('sphere', dim=2, bounds=(-1.0, 1.0))\n"
                     "def sphere(X):\n    return (X * X).sum(dim=1)\n")
    result = optbench("list", "problems", "--plugin", str(clash))
    assert result.returncode == 2
    assert "registered twice" in result.stderr and "optbench" in result.stderr and "clash.py" in result.stderr


def test_the_plugin_runs_optbench_contract_checks_in_its_own_suite(example_site):
    env = {**os.environ, "PYTHONPATH": str(example_site)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(DATA / "example_plugin"),
         str(DATA / "example_plugin" / "tests")],
        capture_output=True, text=True, env=env, timeout=300, cwd=example_site,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
