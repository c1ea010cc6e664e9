"""The command line as a user runs it: real subprocesses, a real SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import clirun
import pytest
from clirun import run


def rows(store: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT optimizer, state FROM trials ORDER BY optimizer").fetchall()
    finally:
        db.close()


def test_compare_runs_stores_and_resumes(tmp_path):
    store = tmp_path / "r.sqlite"
    args = ["compare", "--problems", "linreg(n=50, d=5),onemax(n=16)", "--optimizers", "adam(lr=0.05),lstsq,random",
            "--seeds", "2", "--budget", "100", "--device", "cpu", "--store", str(store), "-q"]
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert "linreg" in first.stdout and "onemax" in first.stdout
    assert "skipped" in first.stdout  # lstsq and adam on bits
    assert "12 trials, 12 to run" in first.stderr
    states = rows(store)
    assert len(states) == 12
    assert sorted({s for _, s in states}) == ["complete", "skipped"]
    again = run(*args)
    assert again.returncode == 0
    assert "0 to run, 12 already" in again.stderr
    assert len(rows(store)) == 12
    forced = run(*args, "--rerun")
    assert "12 to run" in forced.stderr and len(rows(store)) == 12


def test_table_fits_100_columns(tmp_path):
    result = run("compare", "--problems", "rastrigin(dim=3)",
                 "--optimizers", "cmaes(popsize=6),ga,random,sgd(lr=0.001)",
                 "--seeds", "2", "--budget", "60", "--device", "cpu", "--store", str(tmp_path / "t.sqlite"), "-q")
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    assert "gap" in result.stdout and "IQR" in result.stdout


def test_crypto_report_puts_blind_search_beside_the_optimizers(tmp_path):
    result = run("compare", "--problems", "pow(n=32, k=5)", "--optimizers", "random,ga", "--seeds", "3",
                 "--budget", "400", "--device", "cpu", "--store", str(tmp_path / "c.sqlite"), "-q")
    assert result.returncode == 0, result.stderr
    assert "blind search ≈ 32 evals" in result.stdout
    assert "ERT" in result.stdout and "÷ blind" in result.stdout
    random_row = next(line for line in result.stdout.splitlines() if line.startswith("│ random"))
    ratio = float(random_row.rstrip(" │").rsplit("│", 1)[-1])
    assert 0.1 < ratio < 5  # random search is blind search: its ERT is near 2^k (3 seeds: loose)


@pytest.mark.parametrize(("args", "message"), [
    (["--problems", "nosuch"], "unknown problem 'nosuch'"),
    (["--optimizers", "adamm"], "unknown optimizer 'adamm'"),
    (["--optimizers", "adam(lr=)"], "cannot parse"),
    (["--optimizers", "adam(learning_rate=0.1)"], "no parameter 'learning_rate'"),
    (["--optimizers", "adam(lr=-1)"], "lr"),
    (["--problems", "sphere(dim=0)"], "dim"),
    (["--budget", "0"], "positive number"),
    (["--budget", "-5"], "positive number"),
    (["--time-budget", "abc"], "positive number"),
    (["--seeds", "0"], "seeds"),
    (["--suite", "nosuch"], "unknown suite"),
    (["--device", "tpu"], "unknown device"),
    (["--bogus"], "unrecognized arguments"),
])
def test_user_mistakes_get_one_line_and_exit_2_and_touch_no_store(tmp_path, args, message):
    store = tmp_path / "never.sqlite"
    result = run("compare", *args, "--store", str(store)) if args[0] != "--bogus" else run("compare", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and lines[0].startswith("optbench: error:")
    assert "Traceback" not in result.stderr
    assert not store.exists()


def test_cuda_on_a_machine_without_gpu_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = run("compare", "--device", "cuda", "--store", str(tmp_path / "x.sqlite"))
    assert result.returncode == 2 and "no CUDA GPU" in result.stderr


def test_list_commands_and_version():
    problems = run("list", "problems")
    assert problems.returncode == 0 and "rastrigin" in problems.stdout and "continuous" in problems.stdout
    for landscape in ("smooth", "rugged", "deceptive", "crypto", "training"):
        assert landscape in problems.stdout
    optimizers = run("list", "optimizers")
    assert optimizers.returncode == 0
    for name in ("sgd", "adam", "cmaes", "ga", "random", "lstsq"):
        assert name in optimizers.stdout
    suites = run("list", "suites")
    assert suites.returncode == 0 and "quick" in suites.stdout
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("optbench ")


@pytest.mark.parametrize("argv", [["--help"], ["study", "--help"], ["study", "crossover", "--help"],
                                  ["study", "connectivity", "--help"]])
def test_help_does_not_import_heavy_libraries(argv: list[str]):
    code = (f"import sys\nfrom optbench.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'cma', 'nevergrad', 'numpy') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_plugin_option_works_before_and_after_the_subcommand():
    plugin = str(Path(__file__).parent / "data" / "chaos_plugin.py")
    for args in (["--plugin", plugin, "list", "optimizers"], ["list", "optimizers", "--plugin", plugin]):
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert "slow_guess" in result.stdout, args
    without = run("list", "optimizers")
    assert "slow_guess" not in without.stdout


def test_report_default_folder_is_the_one_help_names(tmp_path):
    for command in ("report", "compare"):
        text = " ".join(run(command, "--help").stdout.split())
        assert "run-<id> beside the store file" in text, command
    store = tmp_path / "deep" / "r.sqlite"
    compared = run("compare", "--problems", "sphere(dim=2)", "--optimizers", "random", "--seeds", "2", "--budget", "20",
                   "--device", "cpu", "-q", "--store", str(store), "--report", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert (tmp_path / "deep" / "run-1" / "report.html").is_file()
    assert not (tmp_path / "reports").exists()
    (tmp_path / "deep" / "run-1" / "report.html").unlink()
    reported = run("report", "--store", str(store), cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    assert (tmp_path / "deep" / "run-1" / "report.html").is_file()


@pytest.mark.parametrize(("switch", "value"), [("OPTBENCH_KERNELS", "fast"), ("OPTBENCH_CUDA_GRAPHS", "maybe")])
@pytest.mark.parametrize("command", [["compare", "--problems", "onemax(n=8)", "--optimizers", "random", "--budget",
                                      "10", "--seeds", "1"], ["study", "seeds", "--quick"]])
def test_a_bad_environment_switch_is_one_line_and_exit_2_before_any_work(tmp_path, switch, value, command):
    """The switches are read deep inside trials (a bits problem never reads OPTBENCH_KERNELS on the CPU):
    the CLI refuses a bad value before anything runs, whatever the problem."""
    store = tmp_path / "s.sqlite"
    proc = clirun.run(*command, "--store", str(store), cwd=tmp_path, env={**clirun.ENV, switch: value})
    clirun.assert_one_line_exit_2(proc, switch)
    assert not store.exists()
