"""Probes of a landscape: uniform samples, random walks, one-flip neighbourhoods and local searches.

Every objective value goes through an :class:`~optbench.evaluator.Evaluator` (so it is counted),
in batches on the problem's device: a whole sample, every step of every walk, all neighbours of
all centres, one step of all hill climbers at once. Points are drawn on the CPU from explicit
generators, so a probe is the same on every device.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from optbench.api import Capability, SpaceKind
from optbench.evaluator import Evaluator

CHUNK = 4096  # points per evaluate call: bounds memory for big batches (network problems)


def values_of(evaluator: Evaluator, X: torch.Tensor) -> np.ndarray:
    """Objective values of ``X`` ``(m, d)`` as float64 NumPy ``(m,)``, in chunks of :data:`CHUNK`."""
    parts = [evaluator.evaluate(chunk).detach().to("cpu", torch.float64) for chunk in torch.split(X, CHUNK)]
    return torch.cat(parts).numpy() if parts else np.empty(0)


def uniform_sample(problem: Any, m: int, generator: torch.Generator) -> torch.Tensor:
    """``m`` random points, shape ``(m, d)`` on the CPU: uniform bits, uniform in the box, or the
    problem's own random initialisation for module parameters."""
    space = problem.space
    if space.kind is SpaceKind.BITS:
        return torch.randint(0, 2, (m, space.dim), generator=generator, dtype=torch.uint8)
    if space.kind is SpaceKind.PARAMS:
        return torch.stack([problem.initial_point(generator).cpu() for _ in range(m)])
    lo, hi = space.bounds(dtype=torch.float64)
    return lo + (hi - lo) * torch.rand(m, space.dim, generator=generator, dtype=torch.float64)


def step_sizes(problem: Any, scale: float) -> torch.Tensor:
    """Per-coordinate standard deviation of a continuous walk step: ``scale`` times the box width
    (for module parameters: times the spread of the initialisation), shape ``(d,)``."""
    if problem.space.kind is SpaceKind.PARAMS:
        sample = uniform_sample(problem, 64, torch.Generator().manual_seed(0))
        return scale * 2.0 * sample.abs().amax(dim=0).clamp_min(1e-12)
    lo, hi = problem.space.bounds(dtype=torch.float64)
    return scale * (hi - lo)


def random_walks(problem: Any, starts: torch.Tensor, length: int, *, scale: float,
                 generator: torch.Generator) -> torch.Tensor:
    """Random walks in the space's neighbourhood: one uniformly chosen bit flip per step, or a
    Gaussian step (reflected into the box).

    Args:
        starts: first points, shape ``(w, d)``.
        length: points per walk ``T`` (the start included).
        scale: continuous step standard deviation as a share of the box width.

    Returns:
        The walks, shape ``(w, T, d)``, on the CPU.
    """
    w, d = starts.shape
    if problem.space.kind is SpaceKind.BITS:
        flips = torch.randint(0, d, (w, length - 1), generator=generator)
        onehot = torch.nn.functional.one_hot(flips, d).to(torch.uint8)
        parity = torch.cumsum(onehot, dim=1) % 2  # bits flipped an odd number of times so far
        rest = starts.unsqueeze(1) ^ parity.to(torch.uint8)
        return torch.cat([starts.unsqueeze(1), rest], dim=1)
    sigma = step_sizes(problem, scale)
    noise = torch.randn(w, length - 1, d, generator=generator, dtype=torch.float64) * sigma
    walk = torch.cat([starts.unsqueeze(1).to(torch.float64), noise], dim=1).cumsum(dim=1)
    if problem.space.kind is SpaceKind.CONTINUOUS:
        lo, hi = problem.space.bounds(dtype=torch.float64)
        width = hi - lo
        folded = torch.remainder(walk - lo, 2 * width)  # reflection at both walls, as a triangle wave
        walk = lo + torch.where(folded > width, 2 * width - folded, folded)
    return walk


def one_flip_neighbours(centres: torch.Tensor) -> torch.Tensor:
    """All one-bit-flip neighbours of each centre, shape ``(m, n, n)`` (row ``j`` flips bit ``j``)."""
    n = centres.shape[1]
    return centres.unsqueeze(1) ^ torch.eye(n, dtype=torch.uint8)


def first_improvement(evaluator: Evaluator, starts: torch.Tensor, *, generator: torch.Generator,
                      max_rounds: int, block: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """First-improvement hill climbing with one-bit flips, all climbers advanced in one batch.

    Each climber walks through the bits in its own random order and moves to the first strictly
    better neighbour in that order; it stops at a local optimum (``n`` flips in a row without
    improvement) or after ``max_rounds`` rounds. A round evaluates the next ``block`` flips of
    every running climber in one call (the trajectory is that of flipping one at a time; the
    flips after the first improvement of a block are evaluated and counted, not taken).

    Args:
        starts: start strings, shape ``(r, n)`` uint8.
        block: flips per climber per round.

    Returns:
        ``(ends, values)``: end strings ``(r, n)`` and their values ``(r,)``.
    """
    x = starts.clone()
    r, n = x.shape
    block = max(1, min(block, n))
    f = values_of(evaluator, x)
    order = torch.argsort(torch.rand(r, n, generator=generator), dim=1)
    position = np.zeros(r, dtype=np.int64)
    failures = np.zeros(r, dtype=np.int64)
    for _ in range(max_rounds):
        running = np.flatnonzero(failures < n)
        if running.size == 0:
            break
        k = len(running)
        idx = torch.from_numpy(running)
        columns = torch.from_numpy((position[running, None] + np.arange(block)) % n)  # (k, block)
        bits = order[idx.unsqueeze(1), columns]
        trial = x[idx].unsqueeze(1).repeat(1, block, 1)  # (k, block, n)
        trial[torch.arange(k).unsqueeze(1), torch.arange(block), bits] ^= 1
        tv = values_of(evaluator, trial.reshape(k * block, n)).reshape(k, block)
        improves = tv < f[running, None]
        has = improves.any(axis=1)
        first = np.where(has, improves.argmax(axis=1), block - 1)
        movers = np.flatnonzero(has)
        x[idx[movers]] = trial[movers, first[movers]]
        f[running[movers]] = tv[movers, first[movers]]
        failures[running] = np.where(has, 0, failures[running] + block)
        position[running] += first + 1
    return x.numpy(), f


def lbfgsb(evaluator: Evaluator, problem: Any, starts: torch.Tensor, *,
           max_iterations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L-BFGS-B (SciPy) from each start; gradients by autograd through the evaluator when the
    problem is differentiable, else by forward differences evaluated as one batch of ``d + 1`` points.

    Args:
        starts: shape ``(r, d)``.

    Returns:
        ``(ends, values, converged)`` of shapes ``(r, d)``, ``(r,)`` and ``(r,)`` (SciPy's success flag:
        a run stopped by the iteration limit has not reached a local optimum).
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    bounded = problem.space.kind is SpaceKind.CONTINUOUS
    bounds = list(zip(problem.space.lower, problem.space.upper, strict=True)) if bounded else None
    differentiable = Capability.DIFFERENTIABLE in problem.capabilities

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float64))
        if differentiable:
            loss, grad = evaluator.loss_and_grad(x)
            return float(loss), grad.detach().to("cpu", torch.float64).numpy()
        h = math.sqrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(z))
        if bounded:  # step inwards at an upper bound, so every point stays in the box
            h = np.where(z + h > np.asarray(problem.space.upper), -h, h)
        X = torch.from_numpy(np.vstack([z, z + np.diag(h)]))
        f = values_of(evaluator, X)
        return float(f[0]), (f[1:] - f[0]) / h

    ends, values, converged = [], [], []
    with threadpool_limits(1, user_api="blas"):  # a tiny L-BFGS-B update; BLAS threads only contend
        for start in starts:
            result = minimize(fun, start.to(torch.float64).numpy(), jac=True, method="L-BFGS-B", bounds=bounds,
                              options={"maxiter": max_iterations})
            ends.append(result.x)
            values.append(float(result.fun))
            converged.append(bool(result.success))
    return np.stack(ends), np.asarray(values), np.asarray(converged)


def _optimum_points(problem: Any, X: torch.Tensor, values: np.ndarray) -> tuple[torch.Tensor | None, str]:
    """The known optimum ``(1, d)``, else the sampled points that reach the known optimal value ``(k, d)``."""
    optimum = getattr(problem, "optimum", None)
    if optimum is not None:
        return optimum.detach().cpu().reshape(1, -1), "known"
    if problem.optimal_value is not None:
        hits = np.flatnonzero(values <= problem.optimal_value + problem.target)
        if hits.size:
            return X[torch.from_numpy(hits)], "sampled"
    return None, "unknown"


def _distances(problem: Any, X: torch.Tensor, optima: torch.Tensor) -> np.ndarray:
    """Distance of each point ``(m, d)`` to the nearest optimum: Hamming on bits, else Euclidean."""
    if problem.space.kind is SpaceKind.BITS:
        return (X.unsqueeze(1) != optima.to(X.dtype).unsqueeze(0)).sum(dim=2).amin(dim=1).double().numpy()
    return torch.cdist(X.double(), optima.double()).amin(dim=1).numpy()


def generalization(problem: Any, ends: np.ndarray) -> dict[str, Any] | None:
    """Train and held-out metric of local-search solutions of a network problem (``None`` otherwise).

    The train metric is the problem's own held-out metric computed on its training data (accuracy
    or MSE), so the gap compares like with like; positive gap = worse on held-out data.
    """
    if getattr(problem, "module", None) is None or getattr(problem, "test_outputs", None) is None:
        return None
    train, test = [], []
    for end in ends:
        x = torch.as_tensor(end, dtype=problem.dtype, device=problem.device)
        with torch.no_grad():
            train.append(problem._test(problem._outputs(x, problem.inputs), problem.targets))
        test.append(problem.test_metric(x))
    sign = -1.0 if problem.test_metric_higher_is_better else 1.0
    gaps = [sign * (te - tr) for tr, te in zip(train, test, strict=True)]
    return {"metric": problem.test_metric_name, "train": float(np.median(train)), "test": float(np.median(test)),
            "gap": float(np.median(gaps))}


def measure(problem: Any, evaluator: Evaluator, *, sample: int, seed: int, step: float = 0.01,
            lags: int = 10) -> dict[str, Any]:
    """Every landscape feature of one problem from probes of size ``sample``
    (:mod:`~optbench.studies.landscape.features` defines them).

    Args:
        sample: uniform sample size; the random walks take ``sample`` points in all, the
            neutrality probe ``min(sample // 10, 100)`` centres, local search ``max(10, sample // 25)``
            starts (at most 64).
        seed: seeds every probe's generator.
        step: continuous walk step, as a share of the box width.
        lags: autocorrelation lags ``1..lags``.
    """
    from optbench.studies.landscape import features as ft

    gen = torch.Generator().manual_seed(seed)
    bits = problem.space.kind is SpaceKind.BITS
    X = uniform_sample(problem, sample, gen)
    y = values_of(evaluator, X)
    finite = np.isfinite(y)
    out: dict[str, Any] = {"space": str(problem.space.kind), "dim": problem.space.dim, "landscape": problem.landscape,
                           "problem_id": problem.id, "sample": sample}
    optima, source = _optimum_points(problem, X, y)
    out["optimum"] = source
    if optima is not None:
        dist = _distances(problem, X, optima)
        # sampled optima are their own nearest optimum: (0, f*) points would correlate by construction
        use = finite & (dist > 0) if source == "sampled" else finite
        out["fdc"] = ft.fitness_distance_correlation(y[use], dist[use])
    else:
        out["fdc"] = None
    out["skewness"], out["kurtosis"] = ft.skewness(y[finite]), ft.kurtosis(y[finite])
    metric = "cityblock" if bits else "euclidean"
    Xd = X.double().numpy()
    out["dispersion"] = ft.dispersion(Xd[finite], y[finite], metric=metric)
    # random walks: 8 walks of sample/8 points (at least 4 * lags), evaluated as one batch
    walks, length = 8, max(sample // 8, 4 * lags)
    W = random_walks(problem, uniform_sample(problem, walks, gen), length, scale=step, generator=gen)
    wy = values_of(evaluator, W.reshape(walks * length, -1)).reshape(walks, length)
    rho = ft.walk_autocorrelation(wy, range(1, lags + 1))
    out |= {"walks": walks, "walk_length": length, "step": None if bits else step, "rho": rho.tolist(),
            "correlation_length": ft.correlation_length(float(rho[0]))}
    if bits:  # Vassilev's sequences: along the walks, one flip per step
        ic = [ft.information_content(w, np.ones(length - 1)) for w in wy]
        out["ic"] = {k: _mean([c[k] for c in ic]) for k in ic[0]}
    else:  # Muñoz et al.: the nearest-neighbour tour through the uniform sample
        keep = np.flatnonzero(finite)[: min(sample, 2000)]
        order, steps = ft.nearest_neighbour_tour(Xd[keep], start=0)
        out["ic"] = ft.information_content(y[keep][order], steps)
    if bits:
        centres = X[: min(sample // 10, 100)]
        ny = values_of(evaluator, one_flip_neighbours(centres).reshape(-1, problem.space.dim))
        out["neutrality"] = ft.neutrality(y[: len(centres)], ny.reshape(len(centres), -1))
    else:
        out["neutrality"] = None
    starts = uniform_sample(problem, min(max(10, sample // 25), 64), gen)
    if bits:
        ends, end_values = first_improvement(evaluator, starts, generator=gen, max_rounds=40 * problem.space.dim)
        converged = np.ones(len(ends), dtype=bool)  # a climb that ran out of rounds is rare; count it as ended
        distinct = ft.distinct_points(ends, tolerance=0)
        method = "first-improvement bit flips"
    else:
        ends, end_values, converged = lbfgsb(evaluator, problem, starts, max_iterations=200)
        lo, hi = (np.asarray(b) for b in (problem.space.lower, problem.space.upper))
        distinct = ft.distinct_points(ends, tolerance=1e-3 * float(np.linalg.norm(hi - lo)))
        method = "L-BFGS-B"
    out["local_search"] = {"method": method, "starts": len(starts), "distinct": distinct,
                           "share": distinct / len(starts), "best": float(np.min(end_values)),
                           "converged": float(converged.mean()),
                           "median": float(np.median(end_values))}
    out["generalization"] = generalization(problem, ends)
    return out


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None
