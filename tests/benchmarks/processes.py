"""Whole commands timed as a user waits for them: wall time, time to first output, peak memory.

The peak is ``ru_maxrss`` of the command's own ``wait4`` rusage, read by the small launcher
``plain/peak.py``: the largest resident set of the command or any process it waited for (a pool
worker included), as ``/usr/bin/time`` reports it. The launcher's start-up (about 20 ms) is in every
command's time alike.
"""

from __future__ import annotations

import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPTBENCH = [sys.executable, "-m", "optbench.cli"]
PLAIN = Path(__file__).parent / "plain"


@dataclass(frozen=True)
class Measured:
    """One run of a command."""

    seconds: float
    first_output: float  # seconds until its first byte on stdout or stderr (its whole time if it printed none)
    peak_mb: float
    stdout: str


def measure(argv: Sequence[str], *, env: dict | None = None, check: bool = True) -> Measured:
    """Run ``argv`` to its end; raise if it fails and ``check``."""
    with tempfile.NamedTemporaryFile(suffix=".peak", delete=False) as handle:
        peak_file = Path(handle.name)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(PLAIN / "peak.py"), str(peak_file), *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                            env={**os.environ, **(env or {})})
    first = None
    chunks: dict[int, list[bytes]] = {1: [], 2: []}
    with selectors.DefaultSelector() as sel:
        assert proc.stdout is not None and proc.stderr is not None
        sel.register(proc.stdout, selectors.EVENT_READ, 1)
        sel.register(proc.stderr, selectors.EVENT_READ, 2)
        open_streams = 2
        while open_streams:
            for key, _ in sel.select():
                data = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                if not data:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if first is None:
                    first = time.perf_counter() - start
                chunks[key.data].append(data)
    proc.wait()
    seconds = time.perf_counter() - start
    peak_kb = float(peak_file.read_text(encoding="ascii") or 0)
    peak_file.unlink()
    out, err = b"".join(chunks[1]).decode(), b"".join(chunks[2]).decode()
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}: {err[-2000:]}")
    return Measured(seconds, seconds if first is None else first, peak_kb / 1024, out)


def interleaved(commands: dict[str, Sequence[str]], *, rounds: int, before: dict | None = None,
                env: dict | None = None) -> dict[str, list[Measured]]:
    """Run every command once per round, in turn (A, B, A, B, ...), ``before[name]()`` ahead of each run."""
    runs: dict[str, list[Measured]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            if before and name in before:
                before[name]()
            runs[name].append(measure(argv, env=env))
    return runs


def median(runs: list[Measured], field: str = "seconds") -> float:
    return statistics.median(getattr(m, field) for m in runs)


def load() -> str:
    """``load 0.42, 0.31, 0.20``: the machine's load averages when a row was measured."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}, {five:.2f}, {fifteen:.2f}"
