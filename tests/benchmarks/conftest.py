"""Shared helpers for the pytest-benchmark comparisons (run with `make bench`).

Every comparison times optbench and its baseline alternately in the same process
(:func:`interleaved_medians`), checks first that both computed the same thing, and files one
:class:`Row` with :func:`record`; `make bench` ends with all rows in one table against their
targets. Targets are reported, never asserted: the machines are shared and timings are noisy.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _bench_threads() -> None:
    """``OPTBENCH_BENCH_THREADS=1`` pins torch to one thread: steadier numbers on a machine shared with
    other jobs, where a two-thread kernel waits for whichever core the scheduler lends it last."""
    threads = os.environ.get("OPTBENCH_BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))


@pytest.fixture
def bench_device() -> str:
    """``OPTBENCH_BENCH_DEVICE=cuda`` (``make bench-gpu``) runs the benchmarks on the GPU."""
    device = os.environ.get("OPTBENCH_BENCH_DEVICE", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return device


def sync_for(device: str | torch.device) -> Callable[[], None]:
    """What to call before reading the clock: ``torch.cuda.synchronize`` on CUDA, nothing on the CPU."""
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def interleaved_medians(a: Callable[[], object], b: Callable[[], object], *, rounds: int = 15,
                        sync: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """Median wall time of ``a`` and of ``b``, measured alternately so drift hits both alike."""
    times_a, times_b = [], []
    for _ in range(rounds):
        for fn, times in ((a, times_a), (b, times_b)):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def median_seconds(fn: Callable[[], object], *, rounds: int, sync: Callable[[], None] = lambda: None) -> float:
    """Median wall time of ``rounds`` synchronized calls of ``fn``."""
    times = []
    for _ in range(rounds):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class Row:
    """One line of the closing table: a measured ratio or throughput against its target."""

    comparison: str
    metric: str
    value: float
    target: float | None
    higher_is_better: bool
    detail: str = ""
    device: str = "cpu"

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


ROWS: list[Row] = []


def record(benchmark: Any, comparison: str, metric: str, value: float, *, target: float | None,
           higher_is_better: bool = False, detail: str = "", device: str = "cpu", **extra: Any) -> Row:
    """File a row for the closing table and put it, with ``extra``, into the benchmark's ``extra_info``."""
    row = Row(comparison, metric, float(value), target, higher_is_better, detail, str(device))
    ROWS.append(row)
    _write_markdown(os.environ.get("OPTBENCH_BENCH_TABLE"))  # after every row: a run cut short keeps its rows
    benchmark.extra_info.update({"comparison": comparison, metric: row.value, "target": target,
                                 "target_met": row.met, **extra})
    return row


def _format(value: float) -> str:
    if value >= 1e5:
        return f"{value:.3g}".replace("e+0", "e").replace("e+", "e")
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _device_description() -> str:
    """The card and torch version (or the CPU) the rows were measured on, for the table's heading."""
    import platform

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"


def _write_markdown(path: str | None) -> None:
    """``OPTBENCH_BENCH_TABLE=FILE``: the closing table as Markdown too, ready for the README."""
    if not path:
        return
    lines = [f"Measured on {_device_description()}.", "",
             "| comparison | metric | measured | target | met | detail |", "| --- | --- | ---: | ---: | :---: | --- |"]
    for row in sorted(ROWS, key=lambda r: (r.target is None, r.comparison)):
        target = "—" if row.target is None else f"{'≥' if row.higher_is_better else '≤'} {_format(row.target)}"
        device = "" if row.device == "cpu" else f" [{row.device}]"
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        lines.append(f"| {row.comparison}{device} | {row.metric} | {_format(row.value)} | {target} | {met} | "
                     f"{row.detail.replace('|', '/')} |")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One table of every recorded ratio and throughput against its target, after pytest-benchmark's own."""
    if not ROWS:
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title="optbench performance against its targets (make bench)", box=box.SIMPLE_HEAVY)
    for column, justify in (("comparison", "left"), ("metric", "left"), ("measured", "right"),
                            ("target", "right"), ("met", "center"), ("detail", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    # rows with a target first; the reference throughputs of the problems last
    for row in sorted(ROWS, key=lambda r: (r.target is None, r.comparison.startswith("problem throughput"))):
        target = "—" if row.target is None else f"{'≥' if row.higher_is_better else '≤'} {_format(row.target)}"
        met = {True: "yes", False: "NO", None: ""}[row.met]
        device = "" if row.device == "cpu" else f" [{row.device}]"
        table.add_row(row.comparison + device, row.metric, _format(row.value), target, met, row.detail)
    _write_markdown(os.environ.get("OPTBENCH_BENCH_TABLE"))
    console = Console(width=max(terminalreporter._tw.fullwidth, 150), force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(table)
    terminalreporter.write_line("")
    for line in capture.get().rstrip().splitlines():
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """`make bench` fails (exit 1) when a measured row misses its target; the table says which."""
    if exitstatus == 0 and any(row.met is False for row in ROWS):
        session.exitstatus = 1
