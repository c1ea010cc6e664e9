"""A saved baseline: every trial's raw result (not medians), the machine fingerprint, package versions
and a calibration time, as versioned JSON. :mod:`optbench.gate.check` compares a candidate with it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optbench.api import ConfigError, TrialResult

SCHEMA = "optbench.baseline/1"
PACKAGES = ("optbench", "torch", "numpy", "scipy", "cma", "nevergrad")


def fingerprint() -> dict[str, Any]:
    """What makes timings comparable: CPU model and count, platform, Python, torch, GPU."""
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "machine": platform.machine(), "system": platform.system(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "gpu": gpu}


def package_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def calibrate(rounds: int = 15) -> float:
    """Fastest of ``rounds`` runs of a fixed CPU workload (matmuls and a sort), after a warm-up round.

    The minimum, not the median: on a shared machine noise only ever adds time, so the fastest
    run is the most repeatable measure of the machine itself.
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    A = torch.randn(256, 256, generator=gen, dtype=torch.float64)
    values = torch.rand(200_000, generator=gen)
    times = []
    for _ in range(rounds + 1):
        start = time.perf_counter()
        B = A
        for _ in range(20):
            B = torch.tanh(B @ A)
        torch.sort(values)
        times.append(time.perf_counter() - start)
    return min(times[1:])


@dataclass(frozen=True)
class Baseline:
    created: float
    command: str
    fingerprint: dict[str, Any]
    packages: dict[str, str | None]
    calibration_seconds: float
    results: tuple[TrialResult, ...]


def save_baseline(results: Sequence[TrialResult], path: str | Path, *, command: str) -> Path:
    """Write a versioned JSON baseline of ``results`` (every trial, raw) with this machine's fingerprint."""
    data = {"schema": SCHEMA, "created": time.time(), "command": command, "fingerprint": fingerprint(),
            "packages": package_versions(), "calibration_seconds": calibrate(),
            "trials": [slim_result(r) for r in results]}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    return target


def slim_result(result: TrialResult) -> dict[str, Any]:
    data = result.to_json()
    data["trace"] = []  # the check compares final outcomes and times; traces stay in the store
    return data


def load_baseline(path: str | Path) -> Baseline:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no baseline at {path}; create one with `optbench baseline save -o {path}`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not a readable baseline: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise ConfigError(f"{path} is not an optbench baseline of schema {SCHEMA} (found {found!r})")
    try:
        trials = []
        for index, trial in enumerate(data["trials"]):
            try:
                trials.append(TrialResult.from_json(trial))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ConfigError(f"{path}: trial {index} of the baseline is malformed ({type(exc).__name__}: {exc}); "
                                  "write the baseline again with `optbench baseline save`") from None
        return Baseline(data["created"], data["command"], data["fingerprint"], data["packages"],
                        float(data["calibration_seconds"]), tuple(trials))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} is a malformed baseline (missing or bad {exc}); write it again with "
                          "`optbench baseline save`") from None


