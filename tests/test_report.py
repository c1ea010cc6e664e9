"""Reports from a real stored run: summaries for machines, an offline HTML file, valid plots."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optbench.analysis import analyze
from optbench.api import Budget, TracePoint, TrialResult, TrialSpec, TrialState
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


# --- readability of the figures and tables (issue 5: looked at in headless Chromium and as PNGs) ---


def _trial(optimizer: str, seed: int, trace: list[tuple[float, float, float]], *, device: str = "cpu",
           state: TrialState = TrialState.COMPLETE, reason: str | None = None, target: float = 1e-6,
           params: tuple = ()) -> TrialResult:
    spec = TrialSpec(problem="sphere", optimizer=optimizer, optimizer_params=params, seed=seed,
                     budget=Budget(evaluations=1000), device=device)
    points = tuple(TracePoint(evaluations=e, seconds=s, best=b) for e, s, b in trace)
    if not state.has_result:
        return TrialResult(spec=spec, state=state, reason=reason, optimal_value=0.0, target=target)
    hit = next((p for p in points if p.best <= target), None)
    return TrialResult(spec=spec, state=state, final_value=points[-1].best, optimal_value=0.0, target=target,
                       evaluations=points[-1].evaluations, seconds=points[-1].seconds, trace=points,
                       hit_evaluations=hit and hit.evaluations, hit_seconds=hit and hit.seconds)


def _descending(seed: int, start: float, end: float, *, seconds: float = 0.5) -> list[tuple[float, float, float]]:
    evals = np.unique(np.round(np.logspace(0, 3, 30)))
    gaps = np.logspace(math.log10(start), math.log10(end), evals.size) * (1 + 0.1 * seed)
    return [(float(e), seconds * float(e) / 1000, float(g)) for e, g in zip(evals, gaps, strict=True)]


def _lines(ax, label: str):
    return [line for line in ax.get_lines() if line.get_label() == label]


def test_convergence_curves_end_where_runs_end_and_a_closed_form_does_not_squash_the_rest():
    from optbench.analysis.profiles import group_runs
    from optbench.report import plots

    closed = [_trial("lstsq", s, [(1.0, 1e-4, s * 1e-18 - 1e-18)]) for s in range(3)]  # 0, ±1e-18: rounding
    iterative = [_trial("adam", s, _descending(s, 100.0, 1e-7)) for s in range(3)]
    fig = plots.convergence_figure(group_runs(closed + iterative), "sphere")
    by_evals, by_seconds = fig.axes[:2]
    assert max(_lines(by_evals, "lstsq")[0].get_xdata()) <= 1.0  # one evaluation: a point, not a line to 1000
    assert max(_lines(by_seconds, "lstsq")[0].get_xdata()) <= 1e-4
    assert max(_lines(by_evals, "adam")[0].get_xdata()) == 1000
    assert by_evals.get_yscale() == "log" and by_evals.get_ylim()[0] >= 1e-9  # 1e-18 and -1e-18 drawn at 1e-8
    assert any(line.get_label().startswith("success target") for line in by_evals.get_lines())
    plots.pyplot().close(fig)

    stuck = [_trial("ga", s, _descending(s, 100.0, 10.0)) for s in range(3)]  # never near the target 1e-6
    fig = plots.convergence_figure(group_runs(stuck), "sphere")
    ax = fig.axes[0]
    assert not any(line.get_label().startswith("success target") for line in ax.get_lines())
    assert ax.get_ylim()[0] > 1  # the curves fill the panel instead of a sliver above 1e-6
    assert "not drawn" in ax.get_title(loc="left")
    plots.pyplot().close(fig)


def test_several_devices_get_one_labelled_curve_each():
    from optbench.analysis.profiles import group_runs
    from optbench.report import plots

    results = [_trial("adam", s, _descending(s, 10.0, 1.0), device=d) for s in range(2) for d in ("cpu", "cuda")]
    fig = plots.convergence_figure(group_runs(results), "sphere")
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert {"adam@cpu", "adam@cuda"} <= labels
    plots.pyplot().close(fig)


@pytest.mark.parametrize(("values", "scale"), [
    ([0, 0, 1, 3, 8], "linear"),  # solved discrete problem: symlog labelled only 0 and 1
    ([0, 1e-6, 1e-2, 30], "symlog"),
    ([6.0, 30.0], "linear"),
    ([1e-3, 10.0], "log"),
    ([0.0, 0.0], "linear"),
])
def test_y_scale_labels_what_is_there(values, scale):
    from optbench.report import plots

    plt = plots.pyplot()
    fig, ax = plt.subplots()
    ax.plot(range(len(values)), values)
    assert plots._y_scale(ax, np.asarray(values, dtype=float)) == scale
    assert ax.get_yscale() == scale
    if scale == "linear" and min(values) == 0:
        low, high = ax.get_ylim()
        top = max(values) or 1.0  # all zero: still a scale above the zero line
        assert -0.1 * top < low < 0 < top <= high  # no empty negative half
    plt.close(fig)


def test_log_tick_labels_are_short_numbers_that_do_not_collide():
    from optbench.report import plots

    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot([0.013, 0.25], [1e-8, 100])
    ax.set_xscale("log")
    ax.set_yscale("log")
    plots.tidy_log_axes(ax)
    fig.canvas.draw()
    x_labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True) if t.get_text()]
    assert "0.1" in x_labels and "0.02" in x_labels and not any("times" in t for t in x_labels)
    renderer = fig.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True)
                    if t.get_text() and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]),
                   key=lambda b: b.x0)
    assert all(a.x1 <= b.x0 for a, b in itertools.pairwise(boxes))  # no two labels overlap
    y_labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "100" in y_labels and any("10^{-8}" in t for t in y_labels)
    plt.close(fig)


def test_seed_spread_floors_closed_forms_and_colors_each_optimizer_as_everywhere_else():
    from matplotlib.colors import to_hex

    from optbench.analysis.stats import summarize
    from optbench.report import plots

    results = ([_trial("lstsq", s, [(1.0, 1e-4, 1e-18 * (-1) ** s)]) for s in range(4)]
               + [_trial("adam", s, _descending(s, 100.0, 0.01)) for s in range(4)]
               + [_trial("ga", s, _descending(s, 100.0, 1.0)) for s in range(4)])
    cells = summarize(results)
    style = plots.styles(["ga", "adam", "lstsq"])
    fig = plots.seed_spread_figure(cells, "sphere", style)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] >= 1e-9  # not a symlog axis down to -1e-18
    assert "drawn at" in ax.get_title()
    colors = [to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert colors == [style[c.optimizer]["color"] for c in cells]
    plots.pyplot().close(fig)


def test_every_figure_gets_the_same_style_and_styles_stay_distinct():
    from optbench.report import plots

    many = plots.styles([f"opt{i}" for i in range(40)] + ["opt0"])
    assert len(many) == 40 and len({(s["color"], str(s["linestyle"])) for s in many.values()}) == 40
    assert len({many[f"opt{i}"]["color"] for i in range(10)}) == 10
    two = plots.styles(["a", "b"])
    assert two["a"]["linestyle"] != two["b"]["linestyle"]  # coinciding curves stay apart


def test_report_uses_one_style_map_for_all_figures(tmp_path, monkeypatch):
    from optbench.report import document, drawing, plots

    monkeypatch.setenv(drawing.ENV, "1")  # figures drawn in this process, where the spies see them
    seen = []
    for name in ("ecdfs", "performance_profile", "convergence", "seed_spread"):
        original = getattr(plots, name)

        def spy(*args, _original=original, style=None, **kwargs):
            seen.append(style)
            return _original(*args, style=style, **kwargs)

        monkeypatch.setattr(plots, name, spy)
    results = ([_trial("ga", s, _descending(s, 100.0, 1e-7)) for s in range(3)]
               + [_trial("adam", s, _descending(s, 50.0, 1.0), params=(("lr", 0.05),)) for s in range(3)])
    document.write_report(analyze(results), tmp_path, title="t")
    assert len(seen) == 4 and all(s is seen[0] for s in seen) and set(seen[0]) == {"ga", "adam(lr=0.05)"}


def test_html_tables_fit_the_page_and_say_what_is_missing(tmp_path):
    from optbench.report import document

    bits = "does not run on bits; it needs continuous or params"
    results = ([_trial("ga", s, _descending(s, 100.0, 1e-7)) for s in range(3)]
               + [_trial("ga", 3, [], state=TrialState.FAILED, reason="Traceback\nRuntimeError: " + "x" * 150)]
               + [_trial("random", s, _descending(s, 100.0, 3.0)) for s in range(3)]
               + [_trial(name, s, [], state=TrialState.SKIPPED, reason=f"{name} {bits}")
                  for name in ("sgd", "cmaes") for s in range(3)])
    page = document.write_report(analyze(results), tmp_path, title="t").read_text(encoding="utf-8")
    table = page[page.index("<h3>sphere</h3>"):]
    table = table[:table.index("</table>")]
    assert "test metric" not in table and ">device<" not in table  # no column of dashes, one device
    assert "(1 failed)" in re.sub(r"<[^>]+>", "", table)  # a failed seed does not silently vanish from its row
    assert "<td class='w'><span class=nw>[" in table  # ranges break between numbers, never inside one
    assert re.search(r"<span class=nw>\[\d[^<]*e-\d\d,</span> <span class=nw>\d", table)
    assert page.count(bits) == 1 and "skipped: sgd, cmaes" in page  # one reason, written once
    failed = page[page.index("<h2>Failed trials</h2>"):]
    assert "<td class='p'>RuntimeError: xxx" in failed  # the error column wraps instead of widening the page
    assert "td.w{white-space:normal}" in page and "@media print" in page


def test_markdown_summary_lists_rows_best_first_with_the_tables_notes():
    from rich.console import Console

    from optbench.report.export import summary
    from optbench.report.terminal import comparison

    results = [_trial(name, seed, _descending(seed, 10.0, end))  # first seen: worst first
               for name, end in (("random", 1.0), ("ga", 1e-3), ("cmaes", 1e-9)) for seed in range(4)]
    results += [_trial("sgd", seed, [], state=TrialState.FAILED, reason="Traceback\nRuntimeError: boom")
                for seed in range(2)]
    results += [_trial("adam", 0, _descending(0, 10.0, 1e-2)),
                _trial("adam", 1, [], state=TrialState.FAILED, reason="Traceback\nValueError: nan step")]
    analysis = analyze(results)
    markdown = summary(analysis, "markdown")
    rows = [line.split(" | ") for line in markdown.splitlines() if line.startswith("| sphere |")]
    assert [row[1] for row in rows] == ["cmaes", "ga", "adam", "random"]
    console = Console(width=200, record=True, color_system=None)
    console.print(comparison(analysis))
    table = [line.split("│")[1].strip(" ≈") for line in console.export_text().splitlines() if line.startswith("│")]
    assert table == ["cmaes", "ga", "adam", "random"]  # the same order as the terminal table
    assert rows[2][-1].strip(" |") == "1 failed"
    assert "- sphere: failed: sgd (RuntimeError: boom)" in markdown  # the table's line for no result
