"""The dashboard's run overview of a store of 10,000 trials (target: under 1 s), read the way the page reads it.

The store is written through :class:`optbench.store.Store` (20 runs of 500 trials, each with a trace of
30 points, as a campaign saves them); the overview is timed as a function call and as the HTTP request
the Runs page makes to a running ``optbench dashboard``.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.benchmarks.conftest import median_seconds, record

pytest.importorskip("starlette", reason="the dashboard extra is not installed (pip install 'optbench[dashboard]')")

TRIALS, RUNS, TRACE = 10_000, 20, 30


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optbench.api import Budget, TracePoint, TrialResult, TrialSpec, TrialState
    from optbench.store import Store

    path = tmp_path_factory.mktemp("bench-dashboard") / "store.sqlite"
    per_run = TRIALS // RUNS
    with Store(path) as store:
        for run in range(RUNS):
            specs = [TrialSpec(problem="sphere", optimizer=("random", "cmaes", "ga", "adam")[i % 4],
                               budget=Budget(evaluations=1000), problem_params=(("dim", 2 + run),), seed=i // 4)
                     for i in range(per_run)]
            store.add_run(f"optbench compare --problems sphere(dim={2 + run}) --seeds {per_run // 4}", specs)
            for i, spec in enumerate(specs):
                trace = tuple(TracePoint(float(2**k), 1e-4 * k, 10.0 / (k + 1)) for k in range(TRACE))
                state = TrialState.FAILED if i % 97 == 0 else TrialState.COMPLETE
                store.save(TrialResult(
                    spec=spec, state=state, final_value=0.3, optimal_value=0.0, target=1e-8, evaluations=1000.0,
                    seconds=0.01, trace=trace, problem_id=f"sphere_d{2 + run}_i0", device_name="cpu: bench",
                    reason="RuntimeError: x" if i % 97 == 0 else None))
        assert store.count() == TRIALS
    return path


def test_dashboard_overview_of_10000_trials(benchmark, big_store: Path) -> None:
    from optbench.dashboard.data import overview
    from optbench.dashboard.readonly import open_checked
    from tests.test_dashboard import start_server, stop

    store = open_checked(big_store)
    got = overview(store)
    assert len(got["runs"]) == RUNS and got["trials"] == TRIALS
    assert sum(r["counts"]["complete"] + r["counts"]["failed"] for r in got["runs"]) == TRIALS
    call = median_seconds(lambda: overview(store), rounds=7)
    benchmark.pedantic(overview, args=(store,), rounds=3, iterations=1)

    server, url = start_server(big_store)
    try:
        parts = urlsplit(url)

        def fetch() -> dict:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            try:
                conn.request("GET", "/api/runs")
                response = conn.getresponse()
                assert response.status == 200
                return json.loads(response.read())
            finally:
                conn.close()

        assert len(fetch()["runs"]) == RUNS
        request = median_seconds(fetch, rounds=7)
    finally:
        stop(server)
    record(benchmark, f"dashboard run overview, {TRIALS:,} trials in {RUNS} runs", "seconds (HTTP)", request,
           target=1.0, detail=f"{call * 1e3:.0f} ms in the function, {request * 1e3:.0f} ms over HTTP",
           function_seconds=call)
