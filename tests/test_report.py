"""Reports from a real stored run: summaries for machines, an offline HTML file, valid plots."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from optbench.report.document import _inside, safe_name

OPTBENCH = [sys.executable, "-m", "optbench.cli"]
ENV = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "MPLBACKEND": "Agg"}


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OPTBENCH, *args], capture_output=True, text=True, env=env or ENV, timeout=300)


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("report")
    store, out = root / "r.sqlite", root / "first-report"
    result = run("compare", "--problems", "sphere(dim=3),onemax(n=16),modadd(p=5, hidden=4)",
                 "--optimizers", "cmaes(popsize=6),random,adam(lr=0.05)", "--seeds", "5", "--budget", "120",
                 "--device", "cpu", "--store", str(store), "-q", "--format", "json", "--report", str(out))
    assert result.returncode == 0, result.stderr
    return store, out, result.stdout


def test_compare_prints_a_json_summary_with_every_statistic(stored_run):
    _, _, stdout = stored_run
    data = json.loads(stdout)
    assert data["format"] == "optbench.summary/1"
    cells = {(c["problem"], c["optimizer"]): c for c in data["cells"]}
    sphere = cells[("sphere(dim=3)", "cmaes(popsize=6)")]
    assert sphere["score"] == "gap" and sphere["with_result"] == 5
    assert sphere["min"] <= sphere["q1"] <= sphere["median"] <= sphere["q3"] <= sphere["max"]
    assert sphere["mean_ci_low"] <= sphere["mean"] <= sphere["mean_ci_high"]
    assert cells[("onemax(n=16)", "cmaes(popsize=6)")]["skipped"] == 5
    assert cells[("modadd(hidden=4, p=5)", "random")]["score"] == "value"  # unknown optimum
    assert sum(c["best"] for c in data["cells"]) == 3  # one best per problem


def test_report_files_are_valid_and_the_html_is_self_contained(stored_run):
    import matplotlib.image

    _, out, _ = stored_run
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "summary.md", "summary.json", "summary.csv", "plots"} <= names
    plots = sorted((out / "plots").iterdir())
    assert any(p.name.startswith("convergence-") for p in plots) and any(p.name == "ecdf.png" for p in plots)
    for png in plots:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0  # decodes, not blank
    page = (out / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert len(sources) == len(plots) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<(script|link|iframe)\b|\bhref=|url\(|https?://", page)
    markdown = (out / "summary.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\((plots/[^)]+)\)", markdown):
        assert (out / link).is_file()
    rows = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text())))
    assert len(rows) == 9 and {r["problem"] for r in rows} == {"sphere(dim=3)", "onemax(n=16)", "modadd(hidden=4, p=5)"}


def test_report_is_regenerated_from_the_store_without_importing_optimizers_or_plugins(stored_run, tmp_path):
    store, _, _ = stored_run
    out = tmp_path / "again"
    code = ("import sys\nfrom optbench.cli import main\n"
            f"rc = main(['report', '--store', {str(store)!r}, '-o', {str(out)!r}])\n"
            "loaded = [m for m in ('cma', 'nevergrad', 'optbench.optimizers', 'optbench.problems', 'broken_plugin')"
            " if m in sys.modules]\nprint('RC', rc, 'LOADED', loaded)")
    broken = Path(__file__).parent / "data" / "broken_plugin.py"
    env = {**ENV, "OPTBENCH_PLUGINS": str(broken)}  # would fail any command that loads it
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "RC 0 LOADED []" in result.stdout, result.stdout + result.stderr
    assert (out / "report.html").is_file()


def test_report_formats_and_mistakes(stored_run, tmp_path):
    store, _, _ = stored_run
    markdown = run("report", "--store", str(store), "--format", "markdown")
    assert markdown.returncode == 0 and markdown.stdout.startswith("| problem | optimizer |")
    for args, message in ((["--store", str(tmp_path / "none.sqlite")], "no store"),
                          (["99", "--store", str(store)], "no run 99")):
        bad = run("report", *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


def test_file_names_from_problem_names_cannot_escape_the_report_directory(tmp_path):
    name = safe_name("../../etc/passwd(dim=3, x='a/b')", ".png")
    assert "/" not in name and not name.startswith(".") and name.endswith(".png")
    assert safe_name("rastrigin(dim=10)", ".png") != safe_name("rastrigin(dim=100)", ".png")
    assert _inside(tmp_path, name).parent == tmp_path.resolve()
    with pytest.raises(ValueError, match="outside"):
        _inside(tmp_path, "../escape.png")
