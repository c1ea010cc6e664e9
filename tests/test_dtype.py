"""Precision as a choice: ``--dtype`` and a problem's ``dtype=`` reach every problem and optimizer, are
part of a trial's identity, and keep float32 and float64 trials apart in the store and in every table."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from clirun import ENV, run

import optbench.runners.trial as trial_module
from optbench.analysis.stats import speedups, summarize
from optbench.api import Budget, ConfigError, SpaceKind, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.campaign import Grid, build_specs
from optbench.registry import PROBLEMS, entries, problem_class

WIDE = {**ENV, "COLUMNS": "200"}
BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline-quick.json"

# small instances of the problems whose defaults are slow to build or to search
SMALL = {"teacher": {"examples": 32}, "pow": {"k": 4}, "digits": {"hidden": 8}}


class Spy:
    """What the problem of one trial was given and gave back, through the real runner.

    Wraps ``make_problem`` and ``make_optimizer`` as the runner imported them, so the problem
    instance of the trial records each ``evaluate`` and ``loss`` call (input and output dtypes) and
    the optimizer's ``minimize`` records the point it recommends.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.evaluated: list[tuple[torch.dtype, torch.dtype]] = []
        self.losses: list[tuple[torch.dtype, torch.dtype]] = []
        self.recommended: list[torch.Tensor] = []
        self.problem: Any = None
        make_problem, make_optimizer = trial_module.make_problem, trial_module.make_optimizer

        def spied_problem(*args: Any, **kwargs: Any) -> Any:
            problem = make_problem(*args, **kwargs)
            evaluate, loss = problem.evaluate, problem.loss

            def evaluate_spy(X: torch.Tensor) -> torch.Tensor:
                values = evaluate(X)
                self.evaluated.append((X.dtype, values.dtype))
                return values

            def loss_spy(x: torch.Tensor, **kw: Any) -> torch.Tensor:
                value = loss(x, **kw)
                self.losses.append((x.dtype, value.dtype))
                return value

            problem.evaluate, problem.loss = evaluate_spy, loss_spy
            self.problem = problem
            return problem

        def spied_optimizer(*args: Any, **kwargs: Any) -> Any:
            optimizer = make_optimizer(*args, **kwargs)
            minimize = optimizer.minimize

            def minimize_spy(evaluator: Any, **kw: Any) -> torch.Tensor:
                x = minimize(evaluator, **kw)
                if x is not None:
                    self.recommended.append(x)
                return x

            object.__setattr__(optimizer, "minimize", minimize_spy)  # a frozen dataclass
            return optimizer

        monkeypatch.setattr(trial_module, "make_problem", spied_problem)
        monkeypatch.setattr(trial_module, "make_optimizer", spied_optimizer)

    def check(self, result: TrialResult, dtype: torch.dtype) -> None:
        """The trial completed and everything that crossed to or from the problem was in ``dtype``."""
        assert result.state is TrialState.COMPLETE, result.reason
        assert result.final_value is not None
        assert self.problem.dtype == dtype
        bits = self.problem.space.kind is SpaceKind.BITS
        assert self.evaluated or self.losses, "the problem was never evaluated"
        for given, values in self.evaluated:
            assert values == dtype
            # bit strings cross as integers (uint8 or bool); continuous points in the problem's precision
            assert (not given.is_floating_point) if bits else given == dtype
        for given, value in self.losses:
            assert given == dtype and value == dtype
        for x in self.recommended:
            assert (not x.dtype.is_floating_point) if bits else x.dtype == dtype


def _loadable(name: str) -> bool:
    try:
        problem_class(name)
    except ConfigError:  # an optional ecosystem (cocoex, ioh) that is not installed
        return False
    return True


PROBLEM_NAMES = list(entries(PROBLEMS))


@pytest.mark.parametrize("name", PROBLEM_NAMES)
def test_every_problem_computes_a_float32_trial_in_float32(monkeypatch, name):
    if not _loadable(name):
        pytest.skip(f"{name} needs an optional extra")
    spy = Spy(monkeypatch)
    spec = TrialSpec(problem=name, problem_params=freeze_params(SMALL.get(name, {})), optimizer="random",
                     budget=Budget(evaluations=40), dtype="float32")
    spy.check(trial_module.run_trial(spec), torch.float32)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


OPTIMIZER_CASES = [
    ("random", "rastrigin", {"dim": 4}), ("ga", "rastrigin", {"dim": 4}), ("cmaes", "rastrigin", {"dim": 4}),
    ("sgd", "rastrigin", {"dim": 4}), ("adam", "rastrigin", {"dim": 4}), ("lstsq", "linreg", {}),
    ("sgd", "linreg", {}), ("adam", "teacher", {"examples": 32}), ("torch:AdamW", "rastrigin", {"dim": 4}),
    ("random", "onemax", {"n": 16}), ("ga", "onemax", {"n": 16}),
    ("ng:CMA", "rastrigin", {"dim": 4}), ("ng:OnePlusOne", "onemax", {"n": 16}),
    ("scipy:L-BFGS-B", "rastrigin", {"dim": 4}), ("scipy:Nelder-Mead", "rastrigin", {"dim": 4}),
    ("optuna:TPESampler", "rastrigin", {"dim": 4}), ("evotorch:CMAES", "rastrigin", {"dim": 4}),
]
_LIBRARIES = {"ng": "nevergrad", "scipy": "scipy", "optuna": "optuna", "evotorch": "evotorch", "cmaes": "cma"}


@pytest.mark.parametrize(("optimizer", "problem", "params"), OPTIMIZER_CASES,
                         ids=[f"{o}-{p}" for o, p, _ in OPTIMIZER_CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_optimizer_hands_the_problem_its_precision(monkeypatch, optimizer, problem, params, dtype):
    library = _LIBRARIES.get(optimizer.split(":")[0])
    if library and not _has(library):
        pytest.skip(f"{optimizer} needs {library}")
    spy = Spy(monkeypatch)
    spec = TrialSpec(problem=problem, problem_params=freeze_params(params), optimizer=optimizer,
                     budget=Budget(evaluations=60), dtype=dtype)
    spy.check(trial_module.run_trial(spec), getattr(torch, dtype))


# ---------------------------------------------------------------------------- identity


def _specs(problems: list[str], dtype: str | None = None) -> list[TrialSpec]:
    return build_specs(Grid(problems=problems, optimizers=["random"], seeds=[0], instances=[0], devices=["cpu"],
                            budget=Budget(evaluations=10), dtype=dtype))


def test_a_problems_dtype_and_the_option_make_one_trial():
    (named,) = _specs(["rastrigin(dim=3, dtype=float32)"])
    (option,) = _specs(["rastrigin(dim=3)"], dtype="float32")
    (quoted,) = _specs(["rastrigin(dim=3, dtype='float32')"])
    assert named == option == quoted and named.key == option.key
    assert named.dtype == "float32" and dict(named.problem_params) == {"dim": 3}  # in the spec, not the params
    assert named.to_json()["dtype"] == "float32" and named.lane == "cpu float32"
    (plain,) = _specs(["rastrigin(dim=3)"])
    assert plain.key != named.key


def test_the_problems_own_precision_is_no_choice():
    """float64 for a function and float32 for a network are what they run in anyway: no dtype, the old key."""
    (plain,) = _specs(["rastrigin(dim=3)"])
    (explicit,) = _specs(["rastrigin(dim=3)"], dtype="float64")
    assert plain == explicit and plain.dtype == "" and "dtype" not in plain.to_json() and plain.lane == "cpu"
    (network,) = _specs(["teacher(examples=32)"], dtype="float32")
    assert network.dtype == ""
    (network64,) = _specs(["teacher(examples=32)"], dtype="float64")
    assert network64.dtype == "float64" and network64.key != network.key


def test_a_problems_dtype_overrides_the_option():
    rastrigin, sphere = _specs(["rastrigin(dim=3, dtype=float64)", "sphere(dim=3)"], dtype="float32")
    assert rastrigin.dtype == "" and sphere.dtype == "float32"


def test_the_committed_baseline_keeps_its_keys():
    """The quick suite's specs (at the baseline's seeds), built today without a dtype, are the baseline's."""
    from optbench.problems.suites import load_suite

    stored = [t["spec"] for t in json.loads(BASELINE.read_text())["trials"]]
    assert all(json.loads(json.dumps(TrialSpec.from_json(s).to_json())) == s for s in stored)  # no dtype field
    suite = load_suite("quick")
    specs = build_specs(Grid(problems=list(suite.problems), optimizers=list(suite.optimizers),
                             seeds=sorted({s["seed"] for s in stored}), instances=list(suite.instances),
                             devices=["cpu"], budget=Budget(evaluations=suite.budget), budgets=suite.budgets))
    assert {s.key for s in specs} == {TrialSpec.from_json(s).key for s in stored}


# ---------------------------------------------------------------------------- cells


def _result(dtype: str, device: str, seconds: float, seed: int = 0) -> TrialResult:
    spec = TrialSpec(problem="sphere", optimizer="random", budget=Budget(evaluations=10), seed=seed,
                     device=device, dtype=dtype)
    return TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=1.0 + seed, optimal_value=0.0,
                       target=1e-8, seconds=seconds, evaluations=10)


def test_float32_and_float64_trials_are_separate_cells_with_their_own_speedups():
    results = [_result(d, dev, s, seed) for d, dev, s in (("", "cpu", 4.0), ("float32", "cpu", 2.0),
                                                           ("float32", "cuda", 0.5)) for seed in range(2)]
    cells = summarize(results)
    assert [(c.device, c.bare_device, c.dtype, c.with_result) for c in cells] == [
        ("cpu", "cpu", "", 2), ("cpu float32", "cpu", "float32", 2), ("cuda float32", "cuda", "float32", 2)]
    ups = speedups(cells)
    # float32 on the CPU against float64 on the CPU; float32 on CUDA against float32 on the CPU
    assert ups == {("sphere", "random", "cpu float32"): 2.0, ("sphere", "random", "cuda float32"): 4.0}


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """One campaign of rastrigin in float64 and float32 (random and ga, two seeds) into a SQLite store."""
    store = tmp_path_factory.mktemp("dtype") / "store.sqlite"
    args = ["compare", "--problems", "rastrigin(dim=3),rastrigin(dim=3,dtype=float32)", "--optimizers", "random,ga",
            "--seeds", "2", "--budget", "40", "--device", "cpu", "--store", str(store), "-q", "--format", "json"]
    done = run(*args, env=WIDE)
    assert done.returncode == 0, done.stderr[-2000:]
    yield store, json.loads(done.stdout)


def test_float32_and_float64_are_distinct_trials_in_the_store(mixed_run):
    store, _ = mixed_run
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT key, spec, state FROM trials").fetchall()
    assert len({key for key, _, _ in rows}) == len(rows) == 8
    dtypes = sorted(json.loads(spec).get("dtype", "") for _, spec, _ in rows)
    assert dtypes == [""] * 4 + ["float32"] * 4
    assert {state for _, _, state in rows} == {"complete"}


def test_float32_and_float64_are_separate_rows_of_the_json_summary(mixed_run):
    _, summary = mixed_run
    cells = {(c["problem"], c["optimizer"], c["device"], c["dtype"]): c for c in summary["cells"]}
    assert set(cells) == {("rastrigin(dim=3)", o, "cpu", d) for o in ("random", "ga") for d in (None, "float32")}
    assert all(c["trials"] == 2 and c["with_result"] == 2 for c in cells.values())


def test_the_option_finds_the_trials_a_problems_dtype_stored_and_the_table_shows_the_precision(mixed_run):
    store, _ = mixed_run
    args = ["compare", "--problems", "rastrigin(dim=3)", "--dtype", "float32", "--optimizers", "random,ga",
            "--seeds", "2", "--budget", "40", "--device", "cpu", "--store", str(store), "-q"]
    done = run(*args, env=WIDE)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 trials, 0 to run, 4 already in" in done.stderr  # the same trials, not new ones
    title = next(line for line in done.stdout.splitlines() if line.startswith("rastrigin(dim=3)"))
    assert "  ·  float32  ·  " in title


def test_a_table_of_both_precisions_names_each_rows_precision(mixed_run):
    from rich.console import Console

    from optbench.analysis import analyze
    from optbench.report.terminal import comparison
    from optbench.store import Store

    store, _ = mixed_run
    with Store(store) as opened:
        results = opened.results(opened.run(1)[1])  # the fixture's campaign: both precisions
    console = Console(width=200, record=True, no_color=True)
    console.print(comparison(analyze(results)))
    rows = [line for line in console.export_text().splitlines() if line.startswith("│")]
    assert sum("│ cpu float32 │" in row for row in rows) == 2 and sum("│ cpu         │" in row for row in rows) == 2


CUDA_CASES = [("random", "rastrigin", {"dim": 8}), ("ga", "rastrigin", {"dim": 8}), ("cmaes", "rastrigin", {"dim": 8}),
              ("adam", "linreg", {}), ("lstsq", "linreg", {}), ("ga", "onemax", {"n": 32}),
              ("adam", "teacher", {"examples": 32})]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("optimizer", "problem", "params"), CUDA_CASES, ids=[f"{o}-{p}" for o, p, _ in CUDA_CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_cuda_trial_computes_in_its_precision(monkeypatch, optimizer, problem, params, dtype):
    if optimizer == "cmaes" and not _has("cma"):
        pytest.skip("cmaes needs cma")
    spy = Spy(monkeypatch)
    spec = TrialSpec(problem=problem, problem_params=freeze_params(params), optimizer=optimizer,
                     budget=Budget(evaluations=200), device="cuda", dtype=dtype)
    result = trial_module.run_trial(spec)
    spy.check(result, getattr(torch, dtype))
    assert spy.problem.device.type == "cuda" and result.spec.lane == f"cuda {dtype}"
