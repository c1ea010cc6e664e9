"""Quality and speed across commits, on a real git repository made here with four commits.

The repository holds a plugin file (a problem and an optimizer, ``planted``) and a suite. Commit 1 is the
base, commit 2 touches only the README, commit 3 plants a 5x slowdown in ``planted`` (a sleep of 0.1 s
instead of 0.02 s), commit 4 plants a quality loss (``planted`` spends 5% of its budget). ``random`` never
changes. ``history`` must mark exactly commit 3 (slower) and commit 4 (worse), and ``check --against``
must report each against its parent and nothing against a no-op commit. Timings are judged at a
tolerance of 100% (ratio > 2 with its whole interval), far below the planted 5x and far above jitter.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import clirun
import pytest
from clirun import ENV

SPEED = ["--tolerance", "1.0", "--min-time", "0.005"]

PLUGIN = '''"""A problem and an optimizer whose speed and quality the commits change."""
import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from optbench.api import Optimizer, SpaceKind
from optbench.plugins import problem, register_optimizer

SLEEP = {sleep}
SHARE = {share}


@problem("hist_sphere", dim=4, bounds=(-3.0, 3.0), optimal_value=0.0, target=1e-9)
def hist_sphere(X: torch.Tensor) -> torch.Tensor:
    return (X ** 2).sum(dim=1)


@register_optimizer
@dataclass(frozen=True)
class Planted(Optimizer):
    name: ClassVar[str] = "planted"
    spaces: ClassVar[frozenset[SpaceKind]] = frozenset({{SpaceKind.CONTINUOUS}})

    def minimize(self, evaluator, *, rng):
        time.sleep(SLEEP)
        lo, hi = evaluator.bounds()
        n = max(1, int(evaluator.remaining * SHARE))
        X = lo + (hi - lo) * torch.as_tensor(rng.random((n, evaluator.dim)), dtype=lo.dtype)
        values = evaluator.evaluate(X)
        return X[int(values.argmin())]
'''

SUITE = '''description = "two optimizers on one problem"
seeds = 6
instances = [0]
budget = 300
optimizers = ["planted", "random"]
problems = ["hist_sphere"]
'''


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**ENV, "COLUMNS": "160"}
    env.pop("OPTBENCH_PLUGINS", None)
    return clirun.run(*args, cwd=cwd, env=env)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The throwaway repository and its four commits, oldest first."""
    root = tmp_path_factory.mktemp("project")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "test")
    (root / ".gitignore").write_text("reports/\n__pycache__/\n")
    (root / "suite.toml").write_text(SUITE)
    commits = []
    for message, sleep, share, readme in (("base", 0.02, 1.0, "v1"), ("docs only", 0.02, 1.0, "v2"),
                                          ("planted slowdown", 0.1, 1.0, "v2"),
                                          ("planted quality loss", 0.1, 0.05, "v2")):
        (root / "plugin.py").write_text(PLUGIN.format(sleep=sleep, share=share))
        (root / "README.md").write_text(readme)
        git(root, "add", ".")
        git(root, "commit", "-q", "-m", message)
        commits.append(git(root, "rev-parse", "HEAD"))
    return root, commits


def _steps(history: dict) -> set[tuple[str, str, str | None, str | None]]:
    return {(s["version"], s["optimizer"], s["quality"], s["speed"]) for s in history["steps"]}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command line in this process (for commands whose plugin code does not change between calls)."""
    from optbench.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def in_repo(repo, monkeypatch):
    root, commits = repo
    monkeypatch.chdir(root)
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("OPTBENCH_PLUGINS", raising=False)
    yield root, commits
    git(root, "checkout", "-q", "main")


def test_check_and_baseline_record_history_that_marks_exactly_the_planted_commits(in_repo, capsys):
    root, commits = in_repo
    history = "reports/checks.jsonl"
    exits = []
    for i, sha in enumerate(commits):
        git(root, "checkout", "-q", sha)
        if i == 0:  # the base run and its baseline, in this process (the plugin is the base one)
            code, _, err = cli(capsys, "compare", "--suite", "suite.toml", "--plugin", "plugin.py", "--store",
                               "reports/base.sqlite", "-q", "--format", "json")
            assert code == 0, err
            code, _, err = cli(capsys, "baseline", "save", "-o", "reports/baseline.json", "--store",
                               "reports/base.sqlite", "--history", history)
        else:  # a fresh process per commit: its plugin file changed
            done = run("check", "--baseline", "reports/baseline.json", "--plugin", "plugin.py", "--history",
                       history, "--store", "reports/check.sqlite", *SPEED, cwd=root)
            code, err = done.returncode, done.stderr
        assert code in (0, 1), err
        assert f"commit {sha[:8]}" in err  # the entry names the commit it measured
        exits.append(code)
    assert exits == [0, 0, 1, 1]  # checks against the base: the no-op passes, both plants fail

    code, out, err = cli(capsys, "history", "--history", history, "--format", "json", *SPEED)
    assert code == 0, err
    data = json.loads(out)
    assert [v["commit"] for v in data["versions"]] == commits
    assert _steps(data) == {(commits[2][:8], "planted", None, "slower"), (commits[3][:8], "planted", "worse", None)}
    planted = next(c for c in data["cells"] if c["optimizer"] == "planted")
    times = [p["seconds"] for p in planted["points"]]
    assert times[2] > 4 * times[1]  # the planted 5x, as recorded
    low, high = planted["points"][3]["quality_ci"]
    assert low <= planted["points"][3]["quality"] <= high

    code, out, err = cli(capsys, "history", "--history", history, "--html", "reports/page", *SPEED)
    assert code == 0, err
    assert "▲ slower" in out and "▲ worse" in out
    assert out.count("▲") == 4  # two per step: the cell's table and the list of steps
    page = (root / "reports/page/history.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "planted quality loss" in page


def test_check_against_reports_the_planted_commits_as_in_the_ci_recipe(in_repo, capsys):
    """The README's CI recipe at each planted commit: check --against the parent, recording; then history."""
    root, commits = in_repo
    history = "reports/ci-history.jsonl"
    verdicts = {}
    for sha in commits[2:]:
        git(root, "checkout", "-q", sha)
        code, out, err = cli(capsys, "check", "--against", "HEAD~1", "--suite", "suite.toml", "--plugin", "plugin.py",
                             "--history", history, "--format", "json", "-q", *SPEED)
        assert code in (0, 1), err
        verdicts[sha] = (code, {c["optimizer"]: (c["quality"], c["speed"], c["n_baseline"], c["n_candidate"])
                                for c in json.loads(out)["cells"]})
    assert "\nworktree " not in git(root, "worktree", "list", "--porcelain")  # the temporary one is gone

    assert verdicts[commits[2]][0] == 1
    assert verdicts[commits[2]][1]["planted"][:2] == ("same", "slower")
    assert verdicts[commits[3]][0] == 1
    assert verdicts[commits[3]][1]["planted"][:2] == ("worse", "same")
    for _, cells in verdicts.values():
        assert cells["random"][0] == "same" and cells["random"][1] in ("same", "too fast")
        assert all(c[2] == c[3] == 6 for c in cells.values())

    code, out, err = cli(capsys, "history", "--history", history, "--format", "json", "--html", "reports/ci", *SPEED)
    assert code == 0, err
    assert (root / "reports/ci/history.html").is_file()
    data = json.loads(out)
    assert [v["commit"] for v in data["versions"]] == commits[1:]  # both sides of each run, in commit order
    assert _steps(data) == {(commits[2][:8], "planted", None, "slower"), (commits[3][:8], "planted", "worse", None)}


def test_against_and_history_mistakes_are_one_line_with_exit_code_2(in_repo, capsys, tmp_path, monkeypatch):
    code, _, err = cli(capsys, "check", "--against", "no-such-branch", "--suite", "suite.toml", "--plugin",
                       "plugin.py")
    assert code == 2 and "no such commit" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "check")
    assert code == 2 and "--baseline FILE" in err
    code, _, err = cli(capsys, "history", "--history", "reports/none.jsonl")
    assert code == 2 and "no history at" in err
    (tmp_path / "h.jsonl").write_text('{"schema": "optbench.history/1"}\nnot json\n')
    code, _, err = cli(capsys, "history", "--history", str(tmp_path / "h.jsonl"))
    assert code == 2 and "h.jsonl:2 is not JSON" in err
    monkeypatch.chdir(tmp_path)  # not a repository
    code, _, err = cli(capsys, "check", "--against", "HEAD~1", "--suite", "quick")
    assert code == 2 and "not inside a git repository" in err


def synthetic(gaps: list[float], seconds: list[float]) -> list:
    from optbench.api import Budget, TrialResult, TrialSpec, TrialState

    return [TrialResult(spec=TrialSpec(problem="p", optimizer="o", budget=Budget(evaluations=10), seed=seed),
                        state=TrialState.COMPLETE, final_value=g, optimal_value=0.0, target=1e-6, evaluations=10,
                        seconds=t) for seed, (g, t) in enumerate(zip(gaps, seconds, strict=True))]


def test_history_outside_a_repository_keeps_every_run_apart_and_finds_a_synthetic_step(tmp_path, monkeypatch):
    from optbench.gate.history import load, record, timeline

    monkeypatch.chdir(tmp_path)  # no git here: each entry is its own version, labelled by its date
    fp = {"cpu": "test cpu", "cores": 2}
    path = tmp_path / "h.jsonl"
    base = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02]
    for factor, slow in ((1.0, 1.0), (1.0, 1.0), (3.0, 1.0), (3.0, 6.0)):
        entry = record(synthetic([g * factor for g in base], [0.05 * slow * (1 + i / 100) for i in range(6)]),
                       path, source="check", command="test", fingerprint=fp)
        assert entry["git"] is None
    tl = timeline(load(path), machine=entry["machine"])
    assert len(tl.versions) == 4 and all(v.commit is None and v.label[:2] == "20" for v in tl.versions)
    points = tl.cells[("p", "o", "cpu")]
    assert [p.quality_step for p in points] == [None, None, "worse", None]
    assert [p.speed_step for p in points] == [None, None, None, "slower"]
    assert points[2].p_holm == 1 / 64  # six paired seeds, all worse: the smallest Wilcoxon p, one cell
    assert points[0].quality_ci[0] <= points[0].quality <= points[0].quality_ci[1]
    back = timeline(load(path)[::-1][:2], machine=entry["machine"])  # newest first in the file: ordered by date
    assert [p.speed_step for p in back.cells[("p", "o", "cpu")]] == [None, "slower"]
