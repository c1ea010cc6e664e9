"""One crossover task: time one least-squares method on one system to every target accuracy.

A task is one repeat: the study repeats every (system, method) and interleaves the repeats across methods
(:func:`optbench.studies.crossover.stats.interleaved`). Closed forms are timed as one call (under a second: the
second of two calls, the first having loaded kernels and woken threads). Iterative methods run once with the
accuracy checked after every step on a paused clock, so the time to each target is the time of the steps
alone; they stop when every target is reached or at the cap (on dense systems at least 1.5 times what a Cholesky
solve of the same size costs, so a method is never cut before it could have won). The targets are the fixed
``eps`` grid and the statistical accuracy ``"stat"``: ``eps = sigma^2 d / ||r*||^2``, the relative
suboptimality of an error as large as the noise's own (``E ||X (x* - x_true)||^2 = sigma^2 d``), below which
further digits say nothing about ``x_true``. Estimated-step methods pay for their power iteration inside
their first step (time and matrix-vector products).
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

# a Cholesky cost per n*d^2 on one core (fitted on this machine: 3.4e-11 at n=10000, d=1000; 5.5e-11 over the
# default grid), so the cap floor CAP_FLOOR * this * n * d^2 is about 1.5-2.6 times a measured Cholesky solve
# (and the analysis names any method the cap cut before the winner's time)
CHOLESKY_SECONDS_PER_ND2 = 6e-11
CAP_FLOOR = 1.5


def _key(eps: float) -> str:
    return f"{eps:g}"


def targets(system: lm.System, eps: tuple[float, ...]) -> dict[str, float]:
    """The targets of a task: each ``eps`` (keyed ``f"{eps:g}"``) and ``"stat"``, ``sigma^2 d / ||r*||^2``."""
    return {_key(e): e for e in eps} | {"stat": statistical_eps(system)}


def statistical_eps(system: lm.System) -> float:
    """The relative suboptimality at the noise level: ``sigma^2 d / ||r*||^2`` (about ``d / (n - d)``)."""
    return lm.NOISE**2 * system.d / system.r_norm2


def drive(steps: Iterator[Any], system: lm.System, *, eps: Mapping[str, float] | tuple[float, ...], cap: float,
          sync: Callable[[], None]) -> tuple[dict[str, float], dict[str, int], float, int]:
    """Run an iterate sequence until every target is reached or ``cap`` seconds of steps have passed.

    Args:
        eps: the targets, ``{key: eps}`` (a tuple of ``eps``: keyed ``f"{eps:g}"``).

    Returns:
        ``(times, iterations, suboptimality, steps)``: seconds and step counts to each reached
        target (by its key), the last suboptimality and the steps taken.
    """
    goals = dict(eps) if isinstance(eps, Mapping) else {_key(e): e for e in eps}
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
            for key, e in goals.items():
                if key not in times and sub <= e:
                    times[key], counts[key] = now, k
        if len(times) == len(goals) or now > cap or not math.isfinite(sub):
            break
    return times, counts, sub, k


def _lsqr(system: lm.System, *, eps: Mapping[str, float], cap: float) -> dict[str, Any]:
    def run(k: int) -> tuple[float, float]:
        seconds, x = lm.timed(lambda: lm.lsqr(system, k), lambda: None)
        return seconds, system.suboptimality(x)

    spent = 0.0
    times, counts = {}, {}
    sub = math.inf
    for key, e in sorted(eps.items(), key=lambda item: -item[1]):  # the loosest first
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
        counts[key], times[key] = reached
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
    kind, method, cap = params["kind"], params["method"], float(params["cap"])
    n, d, cond, seed = int(params["n"]), int(params["d"]), float(params["cond"]), int(params["seed"])
    power = int(params.get("power_iterations", lm.POWER_ITERATIONS))
    if kind == "sparse":
        system = lm.sparse_system(n, d, cond, seed, float(params["density"]))
    else:
        system = lm.dense_system(n, d, cond, seed, device)
    goals = targets(system, tuple(params["eps"]))
    if kind == "dense":  # never cut an iterative method before it could have matched a Cholesky solve
        cap = max(cap, CAP_FLOOR * CHOLESKY_SECONDS_PER_ND2 * n * d * d)
    cuda = kind == "dense" and torch.device(device).type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    out: dict[str, Any] = {"kind": kind, "method": method, "n": n, "d": d, "cond": cond, "kappa": system.L / system.mu,
                           "eps": list(params["eps"]), "targets": goals, "cap": cap, "density": params.get("density"),
                           "repeat": int(params.get("repeat", 0)), "lr": None, "matvecs": {},
                           "power_iterations": power if method in lm.ESTIMATED.values() else None}
    if method in lm.CLOSED_FORMS:
        seconds, x = lm.timed(lambda: lm.closed_form(system, method), sync)
        if seconds < 1.0:  # the first call also loads kernels and wakes threads: time a second one
            seconds, x = lm.timed(lambda: lm.closed_form(system, method), sync)
        sub = system.suboptimality(x)
        out |= {"times": {k: seconds for k, e in goals.items() if sub <= e}, "iterations": {}, "suboptimality": sub}
    elif method == "lsqr":
        out |= _lsqr(system, eps=goals, cap=cap)
    elif method in ("sgd", "adam"):
        best: dict[str, tuple[float, int, float]] = {}
        last = math.inf
        for lr in lm.learning_rates(system, method):
            steps = lm.minibatch(system, lr=lr, adam=method == "adam", seed=seed)
            times, counts, sub, _ = drive(steps, system, eps=goals, cap=cap / 3, sync=sync)
            last = min(last, sub)
            for key, t in times.items():
                if key not in best or t < best[key][0]:
                    best[key] = (t, counts[key], lr)
        out |= {"times": {k: v[0] for k, v in best.items()}, "iterations": {k: v[1] for k, v in best.items()},
                "lr": {k: v[2] for k, v in best.items()}, "suboptimality": last}
    else:
        steps = lm.iterations(system, method, power_iterations=power)
        times, counts, sub, _ = drive(steps, system, eps=goals, cap=cap, sync=sync)
        out |= {"times": times, "iterations": counts, "suboptimality": sub}
    if method in lm.ESTIMATED.values():  # the estimate again, off the clock: how close the step came to 1/L
        out["l_hat_ratio"] = lm.power_iteration(system, power) / system.L
    if method not in lm.CLOSED_FORMS:
        setup, per_step = lm.matvec_cost(system, method, power_iterations=power)
        out["matvecs"] = {k: setup + per_step * c for k, c in out["iterations"].items()}
    out["seconds"] = time.perf_counter() - start
    return out
