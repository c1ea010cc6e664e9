"""Measures shared by the studies of training: spread over seeds, agreement between networks."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

BOOTSTRAP_RESAMPLES = 2000


def bootstrap_std_ci(values: Sequence[float], *, level: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the sample standard deviation; ``None`` below 3 values.

    It under-covers with few seeds (about 73 % at n = 8 for nominal 95 %); the studies use
    :func:`optbench.studies.intervals.std_ci`. Deterministic (fixed resampling seed), so a report
    redrawn from the store is identical.
    """
    arr = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if arr.size < 3:
        return None
    rng = np.random.default_rng(seed)
    stds = arr[rng.integers(0, arr.size, size=(BOOTSTRAP_RESAMPLES, arr.size))].std(axis=1, ddof=1)
    low, high = np.quantile(stds, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def spread(values: Sequence[float], labels: Sequence[Any]) -> dict[str, Any]:
    """Mean, std (ddof 1) with its chi-square 95 % interval, min, max, best–worst gap and the outliers' labels.

    Outliers: Rosner's generalized ESD test at 5 % per sample (under normality a sample of any size n >= 5
    is flagged with probability about 5 %; :func:`optbench.studies.intervals.esd_outliers`).
    """
    from optbench.studies.intervals import esd_outliers, std_ci

    arr = np.asarray(values, dtype=np.float64)
    out: dict[str, Any] = {"n": int(arr.size), "mean": None, "std": None, "std_ci": None, "min": None, "max": None,
                           "gap": None, "outliers": []}
    if arr.size == 0:
        return out
    out.update(mean=float(arr.mean()), min=float(arr.min()), max=float(arr.max()), gap=float(np.ptp(arr)))
    if arr.size >= 2:
        out["std"] = float(arr.std(ddof=1))
    out["std_ci"] = std_ci(arr.tolist())
    out["outliers"] = esd_outliers(arr, labels)
    return out


def disagreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """Share of inputs two classifiers label differently, from their outputs ``(n, k)`` or labels ``(n,)``."""
    la = a.argmax(dim=-1) if a.ndim == 2 else a
    lb = b.argmax(dim=-1) if b.ndim == 2 else b
    return float((la != lb).to(torch.float64).mean())


def output_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square difference of two networks' outputs ``(n, k)`` (a function-space distance)."""
    return float(((a.to(torch.float64) - b.to(torch.float64)) ** 2).mean().sqrt())


def relative_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b|| / ((||a|| + ||b||) / 2)`` for weight vectors ``(d,)`` (0 = equal, 2 = opposite)."""
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    scale = (a64.norm() + b64.norm()) / 2
    return float((a64 - b64).norm() / scale) if scale > 0 else 0.0


def pairwise(items: Sequence[Any], fn: Any) -> list[float]:
    """``fn(a, b)`` over every unordered pair of ``items``."""
    return [fn(a, b) for a, b in itertools.combinations(items, 2)]


def digest(x: torch.Tensor) -> str:
    """SHA-256 of a tensor's bytes: equal digests mean bit-identical weights."""
    return hashlib.sha256(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def mean_or_none(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None
