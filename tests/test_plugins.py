"""Plugins: an installed package with an entry point, plugin files, broken plugins, isolation."""

from __future__ import annotations

import os
import re
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


def _readme_plugin_blocks() -> tuple[str, list[str]]:
    """The TOML and Python code blocks of the plugin guide (docs/howto/plugins.md), up to its first section."""
    guide = (Path(__file__).parent.parent / "docs" / "howto" / "plugins.md").read_text(encoding="utf-8")
    section = guide.split("\n## ", 1)[0]
    toml_blocks = re.findall(r"```toml\n(.*?)```", section, flags=re.DOTALL)
    python_blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(toml_blocks) == 1 and python_blocks, "the plugin guide lost its example"
    return toml_blocks[0], python_blocks


@pytest.fixture
def readme_plugin():
    """The plugin guide's example registered as its entry point says; unregistered afterwards."""
    import tomllib

    from optbench.plugins import LOCAL, register_problem
    from optbench.registry import clear_cache

    toml_text, python_blocks = _readme_plugin_blocks()
    points = tomllib.loads(toml_text)["project"]["entry-points"]["optbench.problems"]
    namespace: dict = {"__name__": "optbench_readme_example"}
    for block in python_blocks:
        exec(compile(block, "docs/howto/plugins.md", "exec"), namespace)  # the guide's own example, as it stands
    names = []
    for name, target in points.items():
        cls = namespace[target.split(":", 1)[1]]
        assert cls.family == name, f"the entry point {name} names a class registered as {cls.family}"
        register_problem(cls)
        names.append(name)
    yield names
    for name in names:
        LOCAL["optbench.problems"].pop(name, None)
    clear_cache()


def test_the_readme_plugin_example_passes_the_contract_checks_as_written(readme_plugin):
    import torch

    from optbench.registry import make_problem
    from optbench.testing import check_optimizer, check_problem

    for name in readme_plugin:
        check_problem(name)  # as a plugin author would call it: no extra arguments
        check_problem(name, params={"dim": 7})
        check_optimizer("cmaes", problem=name, budgets=(13,))
        with pytest.raises(AssertionError, match="instances 0 and 1 give identical values"):
            check_problem(name, instances_differ=True)  # the class says why it is exempt, and it is
    styblinski = make_problem("styblinski", {"dim": 10})
    minimizer = torch.full((1, 10), -2.903534027771178, dtype=torch.float64)
    assert styblinski.optimal_value == pytest.approx(-391.6616570377142, rel=1e-12)
    assert float(styblinski.evaluate(minimizer)[0]) == pytest.approx(styblinski.optimal_value, rel=1e-12)


def _plugin_file(tmp_path: Path, optimal_value: str, *, bounds: str = "(-5.0, 5.0)", body: str = "") -> Path:
    body = body or "0.5 * (X**4 - 16 * X**2 + 5 * X).sum(dim=1)"
    path = tmp_path / "styb.py"
    path.write_text("from optbench.plugins import problem\n"
                    f"@problem('styb', dim=4, bounds={bounds}, optimal_value={optimal_value}, target=1e-4)\n"
                    f"def styb(X):\n    return {body}\n")
    return path


def test_an_optimum_that_depends_on_the_parameters_runs_in_compare_and_list(tmp_path):
    plugin = str(_plugin_file(tmp_path, "lambda dim: -39.16616570377142 * dim"))
    listing = optbench("list", "problems", "--plugin", plugin)
    assert listing.returncode == 0, listing.stderr
    assert "-157" in next(line for line in listing.stdout.splitlines() if "styb" in line)
    run = optbench("compare", "--plugin", plugin, "--problems", "styb(dim=10)", "--optimizers", "cmaes",
                   "--seeds", "1", "--budget", "300", "--device", "cpu", "--store", str(tmp_path / "s.sqlite"),
                   "-q")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "optimum -392" in run.stdout


@pytest.mark.parametrize(("optimal_value", "message"), [
    ("lambda dim: 1 / 0", "optimal_value(dim=4) failed: ZeroDivisionError"),
    ("lambda dim: 'low'", "optimal_value must be a number"),
    ("'-39'", "optimal_value must be a number"),
])
def test_a_bad_optimum_is_one_line_at_load(tmp_path, optimal_value, message):
    result = optbench("list", "problems", "--plugin", str(_plugin_file(tmp_path, optimal_value)))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


def test_a_result_below_the_declared_optimum_is_flagged_never_a_success(tmp_path):
    # f(x) = x1 + x2 on [0, 1]^2 has its minimum 0 at the corner; 1.5 is a wrong optimum that any
    # search beats (7 of 8 random points already lie below it)
    plugin = str(_plugin_file(tmp_path, "1.5", bounds="(0.0, 1.0)", body="X.sum(dim=1)").with_name("styb.py"))
    args = ("compare", "--plugin", plugin, "--problems", "styb(dim=2)", "--optimizers", "random,cmaes",
            "--seeds", "2", "--budget", "100", "--device", "cpu", "--store", str(tmp_path / "w.sqlite"), "-q")
    run = optbench(*args)
    assert run.returncode == 0, run.stderr
    assert "optimal_value is wrong" in run.stdout and "0/2" in run.stdout and "below optimum" in run.stdout
    markdown = optbench(*args, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert "optimal_value is wrong" in markdown.stdout and "| 2 below optimum |" in markdown.stdout
    report = optbench("report", "--store", str(tmp_path / "w.sqlite"), "-o", str(tmp_path / "rep"))
    assert report.returncode == 0, report.stderr
    for name in ("report.html", "summary.md"):
        assert "optimal_value is wrong" in (tmp_path / "rep" / name).read_text(encoding="utf-8"), name


def test_a_shift_makes_the_instances_of_a_decorated_function_differ():
    import torch

    from optbench.api import ConfigError
    from optbench.plugins import problem
    from optbench.testing import check_problem

    def styblinski(X):
        return 0.5 * (X**4 - 16 * X**2 + 5 * X).sum(dim=1)

    from optbench.plugins import LOCAL
    from optbench.registry import clear_cache

    shifted = problem("styb_shifted", dim=3, bounds=(-5.0, 5.0), optimal_value=lambda dim: -39.16616570377142 * dim,
                      target=1e-4, shift=1.0)(styblinski)
    try:
        assert shifted.instances_differ
        check_problem("styb_shifted")  # instances 0 and 1 now differ, as the check expects by default
    finally:
        LOCAL["optbench.problems"].pop("styb_shifted", None)
        clear_cache()
    X = torch.rand(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 10 - 5
    first, second = shifted(instance=0), shifted(instance=1)
    assert torch.equal(first.evaluate(X), styblinski(X))  # instance 0 is the function as written
    offset = second.offset
    assert offset.shape == (3,) and bool((offset.abs() <= 1.0).all()) and bool(offset.abs().max() > 0)
    torch.testing.assert_close(second.evaluate(X), styblinski(X - offset), rtol=0, atol=0)
    minimizer = torch.full((1, 3), -2.903534027771178, dtype=torch.float64) + offset
    assert float(second.evaluate(minimizer)[0]) == pytest.approx(second.optimal_value, rel=1e-12)
    assert torch.equal(shifted(instance=1).offset, offset)  # seeded by name and instance
    with pytest.raises(ConfigError, match="bit strings have no shift"):
        problem("bits_shifted", bits=8, shift=1.0, register=False)
    with pytest.raises(ConfigError, match="shift must be a number >= 0"):
        problem("neg_shift", dim=2, bounds=(-1.0, 1.0), shift=-1.0, register=False)
