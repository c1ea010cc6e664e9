"""COCO and IOHanalyzer exports against the libraries' own writers, cocopp on an export, the CLI.

The reference for each format is the library writing it during a live run: ``cocoex.Observer`` on
a cocoex problem, ``ioh.logger.Analyzer`` on an ioh problem, fed the same points as optbench's
evaluator. optbench keeps a thinned best-so-far trace (first and last improvement per bucket of
``10^(1/50)`` evaluations), so an exported row is a row of the live file, and a target's first hit
is late by at most one bucket.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from clirun import run

from optbench.api import Budget, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.evaluator import Evaluator
from optbench.registry import make_problem

BUCKET = 10 ** (1 / 50)  # the trace's resolution in evaluations


def _needs(module: str, extra: str) -> None:
    pytest.importorskip(module, reason=f"{module} is not installed (pip install 'optbench[{extra}]')")


def _result(problem_name: str, params: dict, instance: int, evaluator: Evaluator, *, seed: int = 0,
            optimizer: str = "replay") -> TrialResult:
    spec = TrialSpec(problem=problem_name, optimizer=optimizer, budget=evaluator.budget,
                     problem_params=freeze_params(params), seed=seed, instance=instance)
    problem = evaluator._problem
    return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=evaluator.best_value,
                       optimal_value=problem.optimal_value, target=problem.target, evaluations=evaluator.evaluations,
                       trace=evaluator.trace, problem_id=problem.id, optimizer_source="test")


def _rows(path: Path) -> list[list[tuple[float, float]]]:
    """Runs of a COCO .dat/.tdat file: ``(evaluations, f - f_opt)`` rows after each ``%`` header."""
    runs: list[list[tuple[float, float]]] = []
    for line in path.read_text().splitlines():
        if line.startswith("%"):
            runs.append([])
        elif line.strip():
            cols = line.split()
            runs[-1].append((float(cols[0]), float(cols[2])))
    return runs


def _first_hit(rows: list[tuple[float, float]], target: float) -> float:
    return next((e for e, gap in rows if gap <= target), math.inf)


def test_coco_export_matches_cocoex_observer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random points through cocoex's own bbob logger and through optbench: same runs, same target hits."""
    _needs("cocoex", "coco")
    import cocoex

    from optbench.report.coco_export import write_coco

    fid, dim, budget = 15, 2, 400
    monkeypatch.chdir(tmp_path)  # cocoex's observer writes under ./exdata
    observer = cocoex.Observer("bbob", "result_folder: live algorithm_name: replay")
    suite = cocoex.Suite("bbob", "instances: 1-2", f"function_indices:{fid} dimensions:{dim}")
    results = []
    for instance in (1, 2):
        X = np.random.default_rng(instance).uniform(-5, 5, (budget, dim))
        live = suite.get_problem_by_function_dimension_instance(fid, dim, instance, observer)
        for x in X:
            live(x)
        live.free()
        ours = instance - 1  # optbench counts instances from 0, COCO from 1
        evaluator = Evaluator(make_problem("bbob", {"fid": fid, "dim": dim}, instance=ours),
                              Budget(evaluations=budget))
        for x in torch.from_numpy(X):
            evaluator.evaluate(x.unsqueeze(0))
        results.append(_result("bbob", {"fid": fid, "dim": dim}, ours, evaluator))
    del observer  # files are complete once each problem is freed
    report = write_coco(results, tmp_path / "ours")
    assert report.runs == 2 and report.folders == [tmp_path / "ours"]
    live_dir = tmp_path / "exdata" / "live"
    ours_info = (tmp_path / "ours" / f"bbobexp_f{fid}.info").read_text().splitlines()
    live_info = (live_dir / f"bbobexp_f{fid}.info").read_text().splitlines()
    assert ours_info[2] == live_info[2]  # "data_f15/bbobexp_f15_DIM2.dat, 1:400|gap, 2:400|gap"
    header = ours_info[0].split(", algId")[0]
    assert header == live_info[0].split(", algId")[0]  # suite, funcId, DIM, Precision
    for suffix in (".dat", ".tdat"):
        ours = _rows(tmp_path / "ours" / f"data_f{fid}" / f"bbobexp_f{fid}_DIM{dim}{suffix}")
        live_runs = _rows(live_dir / f"data_f{fid}" / f"bbobexp_f{fid}_DIM{dim}{suffix}")
        assert len(ours) == len(live_runs) == 2
        for mine, theirs in zip(ours, live_runs, strict=True):
            assert mine[-1] == theirs[-1]  # the last evaluation and the final gap, as COCO printed them
            for target in 10.0 ** np.arange(2, -8.2, -0.2):  # cocopp's 51 targets
                hit, reference = _first_hit(mine, target), _first_hit(theirs, target)
                assert reference <= hit <= (reference * BUCKET + 1 if suffix == ".dat" else math.inf) or \
                    (math.isinf(hit) and math.isinf(reference)), (suffix, target, hit, reference)


@pytest.mark.parametrize("instance", [1, 2])
def test_ioh_export_matches_live_analyzer(tmp_path: Path, instance: int) -> None:
    """Bit strings through ioh's Analyzer on the real PBO problem and through optbench's export."""
    _needs("ioh", "ioh")
    import ioh

    from optbench.report.ioh_export import write_ioh

    fid, dim, budget = 2, 32, 300
    X = (np.random.default_rng(instance).random((budget, dim)) < np.linspace(0.5, 0.95, budget)[:, None])
    live = ioh.get_problem(fid, instance=instance, dimension=dim, problem_class=ioh.ProblemClass.PBO)
    logger = ioh.logger.Analyzer(root=str(tmp_path), folder_name="live", algorithm_name="replay")
    live.attach_logger(logger)
    for x in X.astype(int):
        live(x.tolist())
    live.reset()
    logger.close()
    ours = instance - 1  # optbench counts instances from 0, IOH from 1
    evaluator = Evaluator(make_problem("pbo", {"fid": fid, "dim": dim}, instance=ours), Budget(evaluations=budget))
    for x in torch.from_numpy(X.astype(np.uint8)):
        evaluator.evaluate(x.unsqueeze(0))
    report = write_ioh([_result("pbo", {"fid": fid, "dim": dim}, ours, evaluator)], tmp_path / "ours")
    assert report.runs == 1
    (ours_json,) = (tmp_path / "ours" / "replay").glob("*.json")
    (live_json,) = (tmp_path / "live").glob("*.json")
    assert ours_json.name == live_json.name  # IOHprofiler_f2_LeadingOnes.json
    mine, theirs = json.loads(ours_json.read_text()), json.loads(live_json.read_text())
    for key in ("function_id", "function_name", "maximization", "attributes"):
        assert mine[key] == theirs[key]
    (run,), (live_run,) = mine["scenarios"][0]["runs"], theirs["scenarios"][0]["runs"]
    assert (run["instance"], run["evals"], run["best"]["evals"]) == (live_run["instance"], live_run["evals"],
                                                                     live_run["best"]["evals"])
    assert run["best"]["y"] == pytest.approx(live_run["best"]["y"], rel=64 * np.finfo(float).eps)

    def rows(folder: Path) -> list[tuple[int, float]]:
        (dat,) = folder.glob("data_f2_*/*.dat")
        return [(int(a), float(b)) for a, b in (line.split() for line in dat.read_text().splitlines()[1:])]

    ours_rows, live_rows = rows(tmp_path / "ours" / "replay"), rows(tmp_path / "live")
    # raw y is recovered by inverting the instance's y = a*raw + b: a few roundings of |y| over |a|,
    # plus the 10 decimals the .dat is printed with
    probe = ioh.get_problem(fid, instance=instance, dimension=dim, problem_class=ioh.ProblemClass.PBO)
    ys, raws = [], []
    for x in ([0] * dim, [1] * dim):
        ys.append(probe(x))
        raws.append(probe.state.current_internal.y)
    a = abs((ys[1] - ys[0]) / (raws[1] - raws[0]))
    tol = 8 * np.finfo(float).eps * max(abs(y) for y in ys) / a + 1e-10
    live_map = dict(live_rows[:-1])  # the live last row holds the last point's value, ours the best so far
    for evals, value in ours_rows[:-1]:
        assert abs(live_map[evals] - value) <= tol, (evals, value, live_map[evals])
    assert ours_rows[-1][0] == live_rows[-1][0] == budget


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=cwd, env={**os.environ, "COLUMNS": "200"})


def test_acceptance_commands_compare_export_and_cocopp(tmp_path: Path) -> None:
    """The issue's commands at a small budget: compare on bbob with the three families, export, cocopp."""
    _needs("cocoex", "coco")
    _needs("cocopp", "coco")
    optimizers = ["cmaes"]
    optimizers += ["optuna:CmaEsSampler"] if _importable("optuna") and _importable("cmaes") else []
    optimizers += ["evotorch:CMAES"] if _importable("evotorch") else []
    store = str(tmp_path / "s.sqlite")
    done = _cli("compare", "--problems", "bbob(fid=15, dim=10)", "--optimizers", ",".join(optimizers),
                "--seeds", "2", "--budget", "120", "--store", store, "-q", "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "bbob" in done.stdout and "gap ≤ 1.00e-08" in done.stdout.replace("\n", " ")
    assert f"{2 * len(optimizers)} complete" in done.stderr
    export = _cli("export", str(tmp_path / "coco"), "--format", "coco", "--store", store, "--optimizer", "cmaes",
                  cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    assert "2 runs in COCO's format" in export.stderr
    pp = subprocess.run([sys.executable, "-m", "cocopp", str(tmp_path / "coco")], capture_output=True, text=True,
                        cwd=tmp_path, timeout=600)
    assert pp.returncode == 0, pp.stdout[-2000:] + pp.stderr[-2000:]
    assert "Traceback" not in pp.stderr
    assert list((tmp_path / "ppdata").glob("*/pprldmany-single-functions/*")), "cocopp wrote no ECDF figures"
    again = _cli("export", str(tmp_path / "coco"), "--format", "coco", "--store", store, cwd=tmp_path)
    assert again.returncode == 2 and "is not empty" in again.stderr


def test_acceptance_pbo_with_ga_and_ioh_export(tmp_path: Path) -> None:
    _needs("ioh", "ioh")
    store = str(tmp_path / "s.sqlite")
    done = _cli("compare", "--problems", "pbo(fid=2, dim=64)", "--optimizers", "ga,random", "--seeds", "3",
                "--budget", "200", "--store", store, "-q", "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "optimum -64" in done.stdout
    export = _cli("export", str(tmp_path / "ioh"), "--format", "ioh", "--store", store, cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    for name in ("ga", "random"):
        info = json.loads((tmp_path / "ioh" / name / "IOHprofiler_f2_LeadingOnes.json").read_text())
        runs = info["scenarios"][0]["runs"]
        assert info["maximization"] and len(runs) == 3 and all(r["evals"] == 200 for r in runs)
    refused = _cli("export", str(tmp_path / "c2"), "--format", "coco", "--store", store, cwd=tmp_path)
    assert refused.returncode == 2 and "no bbob trial" in refused.stderr and len(refused.stderr.splitlines()) == 1


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def _campaign(problem: str, optimizers: list[str], *, budget: int, instances: list[int]) -> list[TrialResult]:
    """Trials run in this process through the runner (seeds 0 and 1)."""
    from optbench.campaign import Grid, build_specs
    from optbench.runners.trial import run_trial

    specs = build_specs(Grid(problems=[problem], optimizers=optimizers, seeds=[0, 1], instances=instances,
                             devices=["cpu"], budget=Budget(evaluations=budget), budgets={}))
    return [run_trial(spec) for spec in specs]


@pytest.mark.parametrize("fmt", ["coco", "ioh"])
def test_reference_ecdf_of_an_export_is_the_runs_own(tmp_path: Path, fmt: str) -> None:
    """A run's export read back as a reference data set gives the run's own ECDF curve."""
    if fmt == "coco":
        _needs("cocoex", "coco")
        results = _campaign("bbob(fid=8, dim=3)", ["cmaes"], budget=300, instances=[1, 2])
        from optbench.report.coco_export import write_coco as write
    else:
        _needs("ioh", "ioh")
        results = _campaign("pbo(fid=1, dim=24)", ["ga"], budget=150, instances=[1, 3])
        from optbench.report.ioh_export import write_ioh as write
    from optbench.report.reference import ecdf_curves, read_reference, runs_of

    write(results, tmp_path / "data")
    reference, ours = read_reference(tmp_path / "data"), runs_of(results)
    assert len(reference) == len(ours) == 4
    keys = {r.key for r in ours}
    assert keys == {r.key for r in reference}
    grid = np.logspace(-1, 3, 200)
    (mine,), (theirs,) = ecdf_curves(ours, keys, grid).values(), ecdf_curves(reference, keys, grid).values()
    assert np.array_equal(mine, theirs)
    assert 0 < mine[-1] <= 1


def test_report_reference_cli(tmp_path: Path) -> None:
    _needs("cocoex", "coco")
    store = str(tmp_path / "s.sqlite")
    done = _cli("compare", "--problems", "bbob(fid=1, dim=2)", "--optimizers", "cmaes,random", "--seeds", "2",
                "--budget", "200", "--store", store, "-q", "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    exported = _cli("export", str(tmp_path / "data"), "--format", "coco", "--store", store, "--optimizer", "cmaes",
                    cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    report = _cli("report", "--store", store, "-o", str(tmp_path / "rep"), "--reference", str(tmp_path / "data"),
                  cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "rep" / "ecdf-reference.png").stat().st_size > 0 and (tmp_path / "rep" / "report.html").exists()
    assert "1 shared problem(s)" in report.stderr and "cmaes (ref)" in report.stderr
    (tmp_path / "empty").mkdir()
    refused = _cli("report", "--store", store, "-o", str(tmp_path / "rep2"), "--reference", str(tmp_path / "empty"),
                   cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "no COCO (*.info) or IOHanalyzer (*.json) data" in refused.stderr


def test_ioh_export_of_pbo_and_bbob_with_one_function_id_keeps_them_apart(tmp_path):
    pytest.importorskip("ioh")
    pytest.importorskip("cocoex")
    store = str(tmp_path / "both.sqlite")
    done = run("compare", "--problems", "pbo(fid=1,dim=16),bbob(fid=1,dim=2)", "--optimizers", "random",
               "--seeds", "2", "--budget", "50", "--store", store, "-q", "--format", "csv")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "ioh"
    exported = run("export", str(out), "--format", "ioh", "--store", store)
    assert exported.returncode == 0, exported.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert files == ["random-pbo/IOHprofiler_f1_OneMax.json", "random-real/IOHprofiler_f1_Sphere.json"]
