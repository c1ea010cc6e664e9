"""One crossover task: time one least-squares method on one system to every target accuracy.

Closed forms are timed as one call (under a second: the best of two calls after a warm-up). Iterative methods
run once with the accuracy checked after every step on a paused clock, so the time to each
``eps`` is the time of the steps alone; they stop when every target is reached or at the cap
(on dense systems at least twice what a Cholesky solve of the same size costs, so a method is
never cut before it could have won).
LSQR (one SciPy call) is rerun with the fewest iterations that reach each target, found by
doubling and bisection; the time of that run is the time to the target.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from optbench.evaluator import Stopwatch
from optbench.studies.crossover import methods as lm

# a conservative Cholesky cost per n*d^2 on one core of this machine (fitted: about 1.1e-10)
CHOLESKY_SECONDS_PER_ND2 = 2e-10


def _key(eps: float) -> str:
    return f"{eps:g}"


def drive(steps: Iterator[Any], system: lm.System, *, eps: tuple[float, ...], cap: float,
          sync: Callable[[], None]) -> tuple[dict[str, float], dict[str, int], float, int]:
    """Run an iterate sequence until every target is reached or ``cap`` seconds of steps have passed.

    Returns:
        ``(times, iterations, suboptimality, steps)``: seconds and step counts to each reached
        target (keyed ``f"{eps:g}"``), the last suboptimality and the steps taken.
    """
    watch = Stopwatch(sync=sync)
    times: dict[str, float] = {}
    counts: dict[str, int] = {}
    sub, k = math.inf, 0
    watch.start()
    for x in steps:
        k += 1
        with watch.paused():
            now = watch.elapsed()
            sub = system.suboptimality(x)
            for e in eps:
                if _key(e) not in times and sub <= e:
                    times[_key(e)], counts[_key(e)] = now, k
        if len(times) == len(eps) or now > cap or not math.isfinite(sub):
            break
    return times, counts, sub, k


def _lsqr(system: lm.System, *, eps: tuple[float, ...], cap: float) -> dict[str, Any]:
    def run(k: int) -> tuple[float, float]:
        seconds, x = lm.timed(lambda: lm.lsqr(system, k), lambda: None)
        return seconds, system.suboptimality(x)

    spent = 0.0
    times, counts = {}, {}
    sub = math.inf
    for e in eps:
        k, reached = 1, None
        while spent < cap:
            seconds, sub = run(k)
            spent += seconds
            if sub <= e:
                reached = (k, seconds)
                break
            k *= 2
        if reached is None:
            break
        low, high = k // 2 + 1, k
        while low < high and spent < cap:
            mid = (low + high) // 2
            seconds, s = run(mid)
            spent += seconds
            if s <= e:
                high, reached = mid, (mid, seconds)
            else:
                low = mid + 1
        counts[_key(e)], times[_key(e)] = reached
    return {"times": times, "iterations": counts, "suboptimality": sub}


def time_method(params: Mapping[str, Any], *, device: str) -> dict[str, Any]:
    """Time ``params["method"]`` on the system of ``params`` (kind, n, d, cond, seed[, density]).

    Returns:
        The task's data: the system (``kappa`` included), ``times`` and ``iterations`` per target
        (missing: not reached within the cap), the final ``suboptimality``, and for SGD/Adam the
        step size chosen per target.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # SciPy's LAPACK and NumPy's BLAS on one thread, like torch (task_threads)
        return _time_method(params, device=device)


def _time_method(params: Mapping[str, Any], *, device: str) -> dict[str, Any]:
    start = time.perf_counter()
    kind, method, eps, cap = params["kind"], params["method"], tuple(params["eps"]), float(params["cap"])
    n, d, cond, seed = int(params["n"]), int(params["d"]), float(params["cond"]), int(params["seed"])
    if kind == "sparse":
        system = lm.sparse_system(n, d, cond, seed, float(params["density"]))
    else:
        system = lm.dense_system(n, d, cond, seed, device)
    if kind == "dense":  # never cut an iterative method before it could have matched a Cholesky solve
        cap = max(cap, 2 * CHOLESKY_SECONDS_PER_ND2 * n * d * d)
    cuda = kind == "dense" and torch.device(device).type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    out: dict[str, Any] = {"kind": kind, "method": method, "n": n, "d": d, "cond": cond, "kappa": system.L / system.mu,
                           "eps": list(eps), "cap": cap, "density": params.get("density"), "lr": None}
    if method in lm.CLOSED_FORMS:
        seconds, x = lm.timed(lambda: lm.closed_form(system, method), sync)
        if seconds < 1.0:  # the first call also loads kernels and wakes threads: time two more, keep the best
            seconds = min(lm.timed(lambda: lm.closed_form(system, method), sync)[0] for _ in range(2))
        sub = system.suboptimality(x)
        out |= {"times": {_key(e): seconds for e in eps if sub <= e}, "iterations": {}, "suboptimality": sub}
    elif method == "lsqr":
        out |= _lsqr(system, eps=eps, cap=cap)
    elif method in ("sgd", "adam"):
        best: dict[str, tuple[float, int, float]] = {}
        last = math.inf
        for lr in lm.learning_rates(system, method):
            steps = lm.minibatch(system, lr=lr, adam=method == "adam", seed=seed)
            times, counts, sub, _ = drive(steps, system, eps=eps, cap=cap / 3, sync=sync)
            last = min(last, sub)
            for key, t in times.items():
                if key not in best or t < best[key][0]:
                    best[key] = (t, counts[key], lr)
        out |= {"times": {k: v[0] for k, v in best.items()}, "iterations": {k: v[1] for k, v in best.items()},
                "lr": {k: v[2] for k, v in best.items()}, "suboptimality": last}
    else:
        times, counts, sub, _ = drive(lm.iterations(system, method), system, eps=eps, cap=cap, sync=sync)
        out |= {"times": times, "iterations": counts, "suboptimality": sub}
    out["seconds"] = time.perf_counter() - start
    return out
