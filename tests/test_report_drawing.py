"""A report's figures drawn in forked worker processes are the same bytes as drawn in one process, the pool's
workers end quietly, and drawing falls back to one process where forking is not safe."""

from __future__ import annotations

import threading

from clirun import ENV, run

from optbench.report import drawing


def test_parallel_and_serial_reports_have_byte_identical_figures_and_a_quiet_stderr(tmp_path):
    store = tmp_path / "s.sqlite"
    done = run("compare", "--problems", "sphere(dim=3),rastrigin(dim=3)", "--optimizers", "cmaes,random",
               "--seeds", "3", "--budget", "200", "--device", "cpu", "--store", str(store), "-q")
    assert done.returncode == 0, done.stderr
    outputs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"report-{workers}"
        proc = run("report", "--store", str(store), "-o", str(out), env={**ENV, drawing.ENV: workers})
        assert proc.returncode == 0, proc.stderr
        # the report's one line, and nothing from the workers (no traceback when the pool ends them)
        assert proc.stderr.strip().splitlines() == [f"report of run 1 (12 trials): {out / 'report.html'}"], proc.stderr
        outputs[workers] = {p.name: p.read_bytes() for p in sorted((out / "plots").glob("*.png"))}
    assert len(outputs["1"]) >= 6  # three overview figures and two per problem
    assert outputs["1"] == outputs["2"]


def test_drawing_stays_in_process_where_forking_is_unsafe_or_useless(monkeypatch):
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        assert drawing.workers_for(8) == 1
        return
    real_count = threading.active_count
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as in the CLI (pytest-xdist runs its own threads)
    monkeypatch.setenv(drawing.ENV, "4")
    assert drawing.workers_for(8) == 4
    assert drawing.workers_for(2) == 1  # too few figures to pay for the workers
    monkeypatch.setenv(drawing.ENV, "1")
    assert drawing.workers_for(8) == 1
    monkeypatch.setenv(drawing.ENV, "4")
    monkeypatch.setattr(threading, "active_count", real_count)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert drawing.workers_for(8) == 1  # another thread's locks could be inherited held
    finally:
        stop.set()
        other.join()


def test_a_batch_returns_each_figure_in_the_order_added(monkeypatch):
    monkeypatch.setenv(drawing.ENV, "2")
    batch = drawing.Drawings()
    indices = [batch.add(bytes, [i] * (i + 1)) for i in range(5)]
    assert indices == list(range(5))
    assert batch.draw() == [bytes([i] * (i + 1)) for i in range(5)]
