"""Every user mistake we know of, through the real command line: exit code 2, one line on stderr that
says what was wrong, no traceback, nothing on stdout, and every file exactly as it was (no file
changed, none created, none removed: the store and report files are compared byte by byte)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from clirun import ENV, OPTBENCH

from optbench.api import Budget, TrialResult, TrialSpec, TrialState, freeze_params
from optbench.store import SCHEMA_VERSION, Store

TINY = ["--problems", "sphere(dim=2)", "--optimizers", "random", "--seeds", "1", "--budget", "20", "--device", "cpu",
        "-q"]
COMPARE = ["compare", *TINY, "--store", "store.sqlite"]
HUGE = "a" * 100_000


def valid_store(root: Path) -> None:
    """A store holding one run of one finished trial."""
    spec = TrialSpec(problem="sphere", optimizer="random", budget=Budget(evaluations=20), seed=0,
                     problem_params=freeze_params({"dim": 2}), optimizer_params=freeze_params({}))
    with Store(root / "store.sqlite") as store:
        store.add_run("optbench compare (test)", [spec])
        store.save(TrialResult(spec=spec, state=TrialState.COMPLETE, final_value=0.5))


def foreign_db(root: Path) -> None:
    db = sqlite3.connect(root / "store.sqlite")
    db.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ada', '555-0100')")
    db.commit()
    db.close()


def newer_store(root: Path) -> None:
    db = sqlite3.connect(root / "store.sqlite")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()


def write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def folder(name: str) -> Callable[[Path], None]:
    return lambda root: (root / name).mkdir()


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for step in setups:
            step(root)
    return setup


SUITE = 'problems = ["sphere(dim=2)"]\noptimizers = ["random"]\nbudget = 20\n'


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    message: str  # a fragment of the one error line
    setup: Callable[[Path], None] | None = None


CASES = [
    Case("unterminated-string", ["compare", "--problems", "sphere", "--optimizers", "cmaes(name='x)", "--seeds", "1"],
         "unterminated string"),
    # --- the store
    Case("store-is-a-folder", ["compare", *TINY, "--store", "results"], "is a folder", folder("results")),
    Case("store-under-a-file", ["compare", *TINY, "--store", "notes.txt/store.sqlite"], "is a file, not a folder",
         write("notes.txt", "hello")),
    Case("store-in-proc", ["compare", *TINY, "--store", "/proc/optbench-test.sqlite"], "cannot write the store"),
    Case("store-under-missing-proc-folder", ["compare", *TINY, "--store", "/proc/optbench/missing/s.sqlite"],
         "cannot write the store"),
    Case("store-in-sys", ["compare", *TINY, "--store", "/sys/optbench-test.sqlite"], "cannot write the store"),
    Case("store-foreign-sqlite", COMPARE, "not an optbench store (it has contacts)", foreign_db),
    Case("store-not-sqlite", COMPARE, "not an optbench store", write("store.sqlite", b"just some notes\n" * 200)),
    Case("store-newer-schema", COMPARE, "newer optbench", newer_store),
    Case("report-store-foreign", ["report", "--store", "store.sqlite"], "not an optbench store", foreign_db),
    Case("report-store-folder", ["report", "--store", "results"], "is a folder", folder("results")),
    Case("report-store-missing", ["report", "--store", "nothing.sqlite"], "no store at nothing.sqlite"),
    Case("report-unknown-run", ["report", "7", "--store", "store.sqlite"], "no run 7", valid_store),
    # --- outputs checked before anything runs
    Case("compare-report-is-a-file", [*COMPARE, "--report", "out.html"], "it is a file",
         both(valid_store, write("out.html", "<p>mine</p>"))),
    Case("compare-report-in-proc", [*COMPARE, "--report", "/proc/optbench-report"], "cannot write the report",
         valid_store),
    Case("report-out-is-a-file", ["report", "--store", "store.sqlite", "-o", "out.html"], "it is a file",
         both(valid_store, write("out.html", "<p>mine</p>"))),
    Case("report-out-in-proc", ["report", "--store", "store.sqlite", "-o", "/proc/optbench-report"],
         "cannot write the report", valid_store),
    Case("baseline-out-in-proc", ["baseline", "save", "--store", "store.sqlite", "-o", "/proc/b.json"],
         "cannot write the baseline", valid_store),
    Case("baseline-out-is-a-folder", ["baseline", "save", "--store", "store.sqlite", "-o", "base"], "is a folder",
         both(valid_store, folder("base"))),
    Case("check-baseline-not-utf8", ["check", "--baseline", "b.json", "--store", "store.sqlite"], "not UTF-8",
         both(valid_store, write("b.json", b"\xff\xfe{\x00"))),
    Case("check-baseline-missing", ["check", "--baseline", "b.json", "--store", "store.sqlite"], "no baseline at"),
    # --- suites
    Case("suite-not-utf8", [*COMPARE, "--suite", "s.toml"], "s.toml: not UTF-8",
         write("s.toml", SUITE.replace("random", "r\xe9ndom").encode("latin-1"))),
    Case("suite-negative-instance", ["compare", "--suite", "s.toml", "--store", "store.sqlite"],
         "s.toml: instances must hold integers >= 0", write("s.toml", SUITE + "instances = [0, -1]\n")),
    Case("suite-billion-seeds", ["compare", "--suite", "s.toml", "--store", "store.sqlite"],
         "s.toml: seeds must be a count from 1 to", write("s.toml", SUITE + "seeds = 1000000000\n")),
    Case("suite-bad-problem", ["compare", "--suite", "s.toml", "--store", "store.sqlite"],
         "s.toml: problems: sphere: dim", write("s.toml", SUITE.replace("sphere(dim=2)", "sphere(dim=0)"))),
    Case("suite-bad-optimizer", ["compare", "--suite", "s.toml", "--store", "store.sqlite"],
         "s.toml: optimizers: adam: lr", write("s.toml", SUITE.replace('"random"', '"adam(lr=-1)"'))),
    Case("suite-malformed", ["compare", "--suite", "s.toml", "--store", "store.sqlite"], "s.toml: malformed TOML",
         write("s.toml", "problems = [\n")),
    Case("suite-unknown-key", ["compare", "--suite", "s.toml", "--store", "store.sqlite"], "unknown key 'seed'",
         write("s.toml", SUITE + "seed = 3\n")),
    Case("suite-unknown", [*COMPARE, "--suite", "nosuch"], "unknown suite"),
    # --- sizes
    Case("billion-seeds", [*COMPARE, "--seeds", "1000000000"], "expected a count from 1 to 10000"),
    Case("billion-instances", [*COMPARE, "--instances", "1000000000"], "expected a count from 1 to 10000"),
    Case("seed-beyond-64-bits", [*COMPARE, "--seeds", "0,18446744073709551616"], "below 2**63"),
    Case("grid-too-large", [*COMPARE, "--seeds", "10000", "--instances", "11"], "the grid has 110000 trials"),
    Case("seeds-zero", [*COMPARE, "--seeds", "0"], "--seeds"),
    Case("seeds-negative-in-list", [*COMPARE, "--seeds", "1,-2"], "integers >= 0"),
    Case("seeds-not-a-number", [*COMPARE, "--seeds", "many"], "expected a count"),
    # --- lists and names
    Case("problems-empty", ["compare", "--problems", "", "--store", "store.sqlite"], "--problems is empty"),
    Case("optimizers-empty", ["compare", "--optimizers", " , ", "--store", "store.sqlite"], "--optimizers is empty"),
    Case("unknown-problem", ["compare", "--problems", "nosuch", "--store", "store.sqlite"], "unknown problem 'nosuch'"),
    Case("unknown-optimizer", ["compare", "--optimizers", "adamm", "--store", "store.sqlite"],
         "unknown optimizer 'adamm'"),
    Case("param-syntax", ["compare", "--optimizers", "adam(lr=)", "--store", "store.sqlite"], "cannot parse"),
    Case("unknown-param", ["compare", "--optimizers", "adam(learning_rate=0.1)", "--store", "store.sqlite"],
         "no parameter 'learning_rate'"),
    Case("bad-param-value", ["compare", "--optimizers", "adam(lr=-1)", "--store", "store.sqlite"], "lr"),
    Case("bad-problem-param", ["compare", "--problems", "sphere(dim=0)", "--store", "store.sqlite"], "dim"),
    Case("string-for-bool-problem", ["compare", "--problems", "rastrigin(rotate='false')", "--store", "store.sqlite"],
         "rotate='false' is a string, but rotate takes True or False"),
    Case("string-for-bool-sgd", ["compare", "--optimizers", "sgd(nesterov='yes')", "--store", "store.sqlite"],
         "nesterov='yes' is a string"),
    Case("string-for-bool-adam", ["compare", "--optimizers", "adam(amsgrad='no')", "--store", "store.sqlite"],
         "amsgrad='no' is a string"),
    Case("string-for-number", ["compare", "--optimizers", "adam(lr='0.1')", "--store", "store.sqlite"],
         "lr='0.1' is a string, but lr takes a number"),
    Case("bool-for-int", ["compare", "--problems", "sphere(dim=True)", "--store", "store.sqlite"],
         "dim=True is a bool, but dim takes an integer"),
    Case("key-given-twice", ["compare", "--problems", "sphere(dim=2, dim=3)", "--store", "store.sqlite"],
         "dim is given twice"),
    Case("huge-name", ["compare", "--problems", HUGE, "--store", "store.sqlite"], "unknown problem 'aaaa"),
    Case("huge-name-in-params", ["compare", "--optimizers", f"adam(lr={HUGE})", "--store", "store.sqlite"], "adam"),
    # --- options
    Case("budget-zero", [*COMPARE, "--budget", "0"], "positive number"),
    Case("time-budget-text", [*COMPARE, "--time-budget", "abc"], "positive number"),
    Case("device-unknown", [*COMPARE, "--device", "tpu"], "unknown device"),
    Case("unknown-option", ["compare", "--bogus"], "unrecognized arguments"),
    Case("jobs-zero", [*COMPARE, "--jobs", "0"], "--jobs"),
    Case("retries-negative", [*COMPARE, "--retries", "-1"], "--retries"),
    Case("jobs-with-inline", [*COMPARE, "--jobs", "2", "--executor", "inline"], "--executor inline cannot"),
    Case("timeout-with-inline", [*COMPARE, "--trial-timeout", "5", "--executor", "inline"], "--trial-timeout"),
    Case("scheduler-with-process", [*COMPARE, "--scheduler", "tcp://127.0.0.1:8786", "--executor", "process"],
         "--scheduler runs trials on a Dask cluster"),
    Case("scheduler-not-an-address", [*COMPARE, "--scheduler", "notaurl"], "--scheduler expects a Dask scheduler"),
    Case("plugin-missing", ["--plugin", "nosuch_plugin.py", "list", "problems"], "nosuch_plugin.py"),
    # --- precision (--dtype and a problem's dtype=)
    Case("dtype-float16", [*COMPARE, "--dtype", "float16"], "--dtype: expected one of float32, float64"),
    Case("dtype-int8-in-problem", ["compare", "--problems", "sphere(dim=2,dtype=int8)", "--store", "store.sqlite"],
         "sphere: dtype='int8' is not a precision optbench runs in; choose one of float32, float64"),
    Case("dtype-number-in-problem", ["compare", "--problems", "sphere(dtype=32)", "--store", "store.sqlite"],
         "sphere: dtype=32 is not a precision"),
    Case("suite-bad-dtype", ["compare", "--suite", "s.toml", "--store", "store.sqlite"],
         "s.toml: problems: sphere: dtype='float16' is not a precision",
         write("s.toml", SUITE.replace("sphere(dim=2)", "sphere(dim=2, dtype=float16)"))),
]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (``None``) under ``root``."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def assert_refused(root: Path, args: list[str], message: str) -> str:
    before = snapshot(root)
    result = subprocess.run([*OPTBENCH, *args], capture_output=True, text=True, cwd=root, env=ENV, timeout=300)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("optbench: error: ") and message in lines[0], lines[0][:500]
    assert len(lines[0]) < 600  # a 100 kB value is cut, not echoed
    assert result.stdout == ""
    assert snapshot(root) == before  # nothing written, created or removed (no -wal/-shm either)
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_input_is_one_line_exit_2_and_changes_no_file(tmp_path, case):
    if case.setup is not None:
        case.setup(tmp_path)
    assert_refused(tmp_path, case.args, case.message)


def test_an_unreachable_scheduler_is_refused_before_the_store_exists(tmp_path):
    pytest.importorskip("distributed")
    line = assert_refused(tmp_path, [*COMPARE, "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler")
    assert "tcp://127.0.0.1:9" in line
    assert not (tmp_path / "store.sqlite").exists()


def test_an_immutable_store_is_refused(tmp_path):
    valid_store(tmp_path)
    store = tmp_path / "store.sqlite"
    if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs CAP_LINUX_IMMUTABLE and a file system with the flag)")
    try:
        assert_refused(tmp_path, COMPARE, "cannot write the store")
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)


def test_a_store_in_a_read_only_folder_is_refused(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the /proc and /sys cases cover root")
    valid_store(tmp_path / "ro")
    (tmp_path / "ro").chmod(0o500)
    try:
        assert_refused(tmp_path, ["compare", *TINY, "--store", "ro/store.sqlite"], "cannot write the store")
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_read_only_and_immutable_targets_are_named_as_such():
    import errno

    from optbench.store.paths import why_not

    assert "read-only file system" in why_not(OSError(errno.EROFS, "Read-only file system"))
    assert "immutable" in why_not(OSError(errno.EPERM, "Operation not permitted"))
    assert why_not(OSError(errno.EACCES, "Permission denied")) == "permission denied"


def test_an_empty_file_and_a_new_path_become_stores(tmp_path):
    (tmp_path / "empty.sqlite").touch()
    for name in ("empty.sqlite", "new/folder/new.sqlite"):
        with Store(tmp_path / name) as store:
            assert store.count() == 0
        assert sqlite3.connect(tmp_path / name).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
