"""Environment switches that are read deep inside trials, and checked once up front.

``OPTBENCH_KERNELS`` (fused and compiled problem kernels, :mod:`optbench.kernels.fused`) and
``OPTBENCH_CUDA_GRAPHS`` (the GA's generations as a CUDA graph, :mod:`optbench.optimizers.ga`) are
read where they act, at every call, so a test or a user can change them between runs. A bad value
would otherwise surface only in a trial that happens to read it (or in none); the CLI checks both
before any work and refuses a bad one with one line. No torch here: ``optbench --help`` imports it.
"""

from __future__ import annotations

import os

from optbench.api import ConfigError

KERNELS = "OPTBENCH_KERNELS"
KERNEL_MODES = ("auto", "eager", "triton", "compile")
CUDA_GRAPHS = "OPTBENCH_CUDA_GRAPHS"
_ON, _OFF = ("1", "on", "true", "yes"), ("0", "off", "false", "no")


def kernel_mode() -> str:
    """``OPTBENCH_KERNELS``: ``auto`` (default), ``eager``, ``triton`` or ``compile``."""
    value = os.environ.get(KERNELS, "auto").strip().lower() or "auto"
    if value not in KERNEL_MODES:
        raise ConfigError(f"{KERNELS} must be one of {', '.join(KERNEL_MODES)}, got {value!r}")
    return value


def cuda_graphs() -> bool | None:
    """``OPTBENCH_CUDA_GRAPHS``: ``True`` (always on CUDA), ``False`` (never), ``None`` (unset or ``auto``:
    where they pay)."""
    value = os.environ.get(CUDA_GRAPHS, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value in _ON or value in _OFF:
        return value in _ON
    raise ConfigError(f"{CUDA_GRAPHS} must be 1 or 0 (on/off, true/false, yes/no) or auto, got {value!r}")


def check() -> None:
    """Refuse a bad value of any switch (a :class:`ConfigError` naming it)."""
    kernel_mode()
    cuda_graphs()
