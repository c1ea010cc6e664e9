"""problems/ and runners/ install inside the optbench namespace, editable and as a wheel.

The wheel tests build one wheel per session from a copy of the source tree (an in-tree build reuses
``build/lib``, where a deleted or renamed module lingers), then install it into a fresh virtual
environment that sees the already-installed dependencies but not the editable optbench: its
site-packages links every entry of this interpreter's site-packages except optbench's own (the
``__editable__`` finder and ``.pth``, the dist-info), so nothing is downloaded and nothing resolves to
the checkout. The CLI then runs from a folder outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# source folder -> where its files land inside the wheel (pyproject.toml's package-dir mapping)
SOURCE_TREES = {"optbench": "optbench", "problems": "optbench/problems", "runners": "optbench/runners"}
_SKIP_DIRS = {"__pycache__", "build", "dist"}


def _source_files(pattern: str) -> dict[str, Path]:
    """Wheel path -> source file for every file matching ``pattern`` in the three source trees."""
    found = {}
    for folder, target in SOURCE_TREES.items():
        for path in sorted((ROOT / folder).rglob(pattern)):
            rel = path.relative_to(ROOT / folder)
            if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
                continue
            found[f"{target}/{rel.as_posix()}"] = path
    return found


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the current source tree, built offline with the installed setuptools."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for folder in SOURCE_TREES:
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    out = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300, cwd=tmp,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (built,) = out.glob("optbench-*.whl")
    return built


@pytest.fixture(scope="session")
def wheel_venv(wheel, tmp_path_factory) -> Path:
    """A new virtual environment with the wheel installed and the dependencies linked in; its root."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip())
    sources = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    for source in sorted(sources):
        for entry in source.iterdir():
            name = entry.name.lower()
            if name.startswith(("optbench", "__editable__")) or (site / entry.name).exists():
                continue  # the editable finder, its .pth and any installed optbench stay out
            (site / entry.name).symlink_to(entry)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def _clean_env(venv: Path) -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "OPTBENCH_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    return env


def test_editable_install_maps_top_level_folders_into_the_namespace():
    import optbench.problems
    import optbench.runners

    assert Path(optbench.problems.__file__).resolve().parent == ROOT / "problems"
    assert Path(optbench.runners.__file__).resolve().parent == ROOT / "runners"


def test_the_wheel_holds_every_module_and_suite_of_the_source_tree_and_nothing_else(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules, suites, kernels = _source_files("*.py"), _source_files("*.toml"), _source_files("*.c")
    assert modules and any(name.endswith("suites/quick.toml") for name in suites)
    assert any(name.endswith("kernels/ga_pass.c") for name in kernels)  # compiled on first use, so shipped
    assert sorted(set(modules) - names) == []
    assert sorted(set(suites) - names) == []
    assert sorted(set(kernels) - names) == []
    # nothing stale or foreign: every module in the wheel has its source file
    assert sorted(n for n in names if n.endswith(".py") and n not in modules) == []
    # everything installs inside the optbench namespace
    assert {n.split("/", 1)[0] for n in names} == {"optbench", wheel.name.split("-py")[0] + ".dist-info"}
    # every entry point names a module the wheel holds
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    targets = [line.split("=", 1)[1].strip().split(":")[0]
               for line in zipfile.ZipFile(wheel).read(entry_points).decode().splitlines() if "=" in line]
    assert targets
    for module in targets:
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, module


def test_the_installed_wheel_runs_every_command_end_to_end(wheel_venv, tmp_path):
    env, work = _clean_env(wheel_venv), tmp_path / "work"
    work.mkdir()
    assert not work.resolve().is_relative_to(ROOT)

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(list(args), capture_output=True, text=True, cwd=work, env=env, timeout=300)
        assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
        return done

    python, optbench = str(wheel_venv / "bin" / "python"), str(wheel_venv / "bin" / "optbench")
    site = run(python, "-c", "import importlib, sys\n"
               "for m in sys.argv[1:]: print(importlib.import_module(m).__file__)\n"
               "import importlib.util as u; print(u.find_spec('problems'), u.find_spec('runners'))",
               "optbench", "optbench.report", "optbench.problems", "optbench.runners").stdout.splitlines()
    venv = wheel_venv.resolve()
    assert all(Path(line).resolve().is_relative_to(venv) for line in site[:4]), site
    assert site[4] == "None None"

    listing = run(optbench, "list", "problems").stdout
    assert "rastrigin" in listing and "sphere" in listing

    if shutil.which("cc") or shutil.which("gcc"):  # the shipped C sources compile from the installed package
        kernels = run(python, "-c", "import torch; from optbench.kernels import ga_native, sha256_native\n"
                      "print(ga_native.kernel(torch.float64, torch.device('cpu')) is not None, "
                      "sha256_native.kernel() is not None)").stdout.split()
        assert kernels == ["True", "True"]

    summary = run(optbench, "compare", "--problems", "sphere(dim=2)", "--optimizers", "random,cmaes",
                  "--seeds", "2", "--budget", "40", "--store", "runs.sqlite", "--report", "report",
                  "--format", "json", "-q").stdout
    cells = json.loads(summary)["cells"]
    assert sorted(c["optimizer"] for c in cells) == ["cmaes", "random"]
    assert all(c["trials"] == 2 and c["failed"] == 0 for c in cells)
    assert (work / "report" / "report.html").stat().st_size > 0
    assert (work / "report" / "summary.json").is_file()

    run(optbench, "report", "--store", "runs.sqlite", "-o", "again")
    assert (work / "again" / "report.html").stat().st_size > 0

    run(optbench, "baseline", "save", "--store", "runs.sqlite", "-o", "baseline.json")
    assert len(json.loads((work / "baseline.json").read_text())["trials"]) == 4

    # a rerun with the same seeds reproduces every value on CPU; speed is not judged (--min-time)
    check = json.loads(run(optbench, "check", "--baseline", "baseline.json", "--store", "check.sqlite",
                           "--min-time", "1e9", "--format", "json", "-q").stdout)
    assert [c["quality"] for c in check["cells"]] == ["same", "same"]
    assert all(c["baseline_median"] == c["candidate_median"] for c in check["cells"])
    assert not any(work.glob("reports")), "nothing may be written to the default reports/ folder"
