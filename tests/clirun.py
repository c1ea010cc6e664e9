"""The optbench CLI as a user runs it: a subprocess, a fresh process, so nothing of other tests leaks in."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

OPTBENCH = [sys.executable, "-m", "optbench.cli"]
ENV = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}  # tables laid out for 100 columns, no colour codes


def run(*args: str, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``optbench ARGS...`` in ``env`` (default :data:`ENV`); the result whatever its exit code."""
    return subprocess.run([*OPTBENCH, *args], capture_output=True, text=True, cwd=cwd, env=dict(env or ENV),
                          timeout=timeout, check=False)


def assert_one_line_exit_2(proc: subprocess.CompletedProcess[str], message: str = "") -> None:
    """A user's mistake: exit code 2 and one line on stderr (naming ``message``), never a traceback."""
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]
    assert message in proc.stderr, proc.stderr[-2000:]


def stored_states(store: Path) -> list[tuple[str, str]]:
    """``(key, state)`` of every trial row of ``store``; empty while a campaign is still creating it."""
    import sqlite3

    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT key, state FROM trials").fetchall()
    except sqlite3.OperationalError as exc:  # polled while the campaign is still creating its store
        if "no such table" not in str(exc):
            raise
        return []
    finally:
        db.close()
