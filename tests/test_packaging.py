"""problems/ and runners/ install inside the optbench namespace, editable and as a wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_editable_install_maps_top_level_folders_into_the_namespace():
    import optbench.problems
    import optbench.runners

    assert Path(optbench.problems.__file__).resolve().parent == ROOT / "problems"
    assert Path(optbench.runners.__file__).resolve().parent == ROOT / "runners"


def test_a_built_wheel_installs_problems_runners_and_suites(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("optbench-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import optbench, optbench.problems.classic, optbench.runners.trial, optbench.suites as s;"
        "print(optbench.problems.classic.__file__); print(optbench.runners.trial.__file__);"
        "print(s.suite_names())"
    )
    check = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120)
    assert check.returncode == 0, check.stderr
    problems_file, runners_file, suites = check.stdout.strip().splitlines()
    assert problems_file.startswith(str(target)) and runners_file.startswith(str(target))
    assert "quick" in suites
    assert not (target / "problems").exists() and not (target / "runners").exists()
