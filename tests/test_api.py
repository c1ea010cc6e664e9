"""The public Python API: `optbench.compare` and `optbench.study` give what the command line gives."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import ENV, run

import optbench

README = Path(__file__).resolve().parent.parent / "README.md"
PROBLEMS = ["sphere(dim=4)", "rastrigin(dim=4)"]
OPTIMIZERS = ["cmaes", "random"]


def _readme_api_block() -> str:
    section = README.read_text(encoding="utf-8").split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the README's Python API section holds one example"
    return blocks[0]


def test_the_readme_api_example_runs_and_equals_the_cli_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the example's store is reports/python-api.sqlite, relative
    namespace: dict = {}
    exec(compile(_readme_api_block(), "README.md", "exec"), namespace)  # the README's example, as it stands
    result = namespace["result"]
    assert result.counts == {"complete": 20}
    assert "sphere" in capsys.readouterr().out
    done = run("compare", "--problems", "sphere(dim=5),rastrigin(dim=5)", "--optimizers", "cmaes,random",
               "--seeds", "5", "--budget", "500", "--device", "cpu", "--store", "reports/python-api.sqlite",
               "--format", "json", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == namespace["summary"] + "\n"


def test_compare_equals_the_cli_json_for_the_same_grid(tmp_path):
    store = tmp_path / "api.sqlite"
    result = optbench.compare(problems=PROBLEMS, optimizers=OPTIMIZERS, seeds=3, budget=200, device="cpu",
                              store=store)
    assert isinstance(result, optbench.ComparisonResult)
    assert result.ran == len(result.results) == 12
    assert result.counts == {"complete": 12}
    assert {r["spec"]["problem"] for r in result.records()} == {"sphere", "rastrigin"}
    # the same grid through the command line, on the same store: every trial is found there, none reruns
    done = run("compare", "--problems", ",".join(PROBLEMS), "--optimizers", ",".join(OPTIMIZERS), "--seeds", "3",
                "--budget", "200", "--device", "cpu", "--store", str(store), "--format", "json", "-q")
    assert done.returncode == 0, done.stderr
    assert "12 trials, 0 to run, 12 already in" in done.stderr
    assert done.stdout == result.to_json() + "\n"
    cells = json.loads(result.to_json())["cells"]
    assert len(cells) == 4
    # and `optbench report` of the API's run renders the same summary
    shown = run("report", str(result.run_id), "--store", str(store), "--format", "markdown")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == result.to_markdown() + "\n"


def test_compare_without_a_store_runs_in_a_temporary_one():
    result = optbench.compare(problems=["sphere(dim=2)"], optimizers=["random"], seeds=[0, 5], budget=50,
                              device="cpu")
    assert result.store == ""
    assert [r.spec.seed for r in result.results] == [0, 5]
    assert result.analysis is result.analysis  # computed once


def test_api_mistakes_are_config_errors_before_anything_runs(tmp_path):
    store = tmp_path / "never.sqlite"
    with pytest.raises(optbench.ConfigError, match="unknown problem 'spherez'"):
        optbench.compare(problems=["spherez"], optimizers=["random"], seeds=2, store=store)
    with pytest.raises(optbench.ConfigError, match="seeds=0 must be at least 1"):
        optbench.compare(problems=["sphere"], optimizers=["random"], seeds=0, store=store)
    with pytest.raises(optbench.ConfigError, match="has no option 'bogus'"):
        optbench.study("crossover", quick=True, bogus=1, store=store)
    assert not store.exists()


def test_study_equals_the_cli_json(tmp_path):
    store = tmp_path / "study.sqlite"
    # landscape: the quickest study (about 6 s); what is checked is the API's path, the same for every study
    result = optbench.study("landscape", quick=True, store=store)
    assert isinstance(result, optbench.StudyResult)
    assert result.payload["study"] == "landscape" and result.tables and result.findings
    assert len(result.records()) == len(result.results) > 0
    done = run("study", "landscape", "--quick", "--store", str(store), "--format", "json", "-q")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(result.to_json())


def test_import_is_cheap_and_every_public_name_resolves():
    code = ("import sys, optbench\n"
            "assert 'torch' not in sys.modules, 'import optbench loaded torch'\n"
            "missing = [n for n in optbench.__all__ if getattr(optbench, n, None) is None]\n"
            "assert not missing, missing\n"
            "print(len(optbench.__all__))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(optbench.__all__)
    assert set(optbench.__all__) == {"__version__", *optbench._EXPORTS}
    assert {"compare", "study", "Problem", "Optimizer", "Evaluator", "problem", "ComparisonResult", "StudyResult",
            "check_problem", "check_optimizer"} <= set(optbench.__all__)
