"""Device names chosen at run time: ``cpu``, ``cuda``, ``cuda:1``, ``auto``, or lists of them."""

from __future__ import annotations

import os
import sys

from optbench.api import ConfigError

# Device files a GPU driver creates (NVIDIA's, ROCm's which torch.cuda also drives, WSL's): without any of
# them no CUDA device can be visible, and ``auto`` is the CPU without importing torch (seconds, 200+ MB).
_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/proc/driver/nvidia", "/dev/dxg")


def gpu_possible() -> bool:
    """Whether a CUDA (or ROCm) device may be visible to torch here: a driver's device file exists, or
    torch is already imported and has initialised CUDA. ``False`` is certain; ``True`` means ask torch."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return True
    return any(os.path.exists(node) for node in _GPU_NODES)


def _cuda_available() -> bool:
    if not gpu_possible():
        return False
    import torch

    return torch.cuda.is_available()


def resolve_devices(text: str) -> list[str]:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cpu,cuda"`` into concrete device names.

    ``auto`` is CUDA when a GPU is visible and the CPU otherwise. Asking for CUDA on a machine
    without one is a configuration error, reported before any trial runs. torch is imported only
    when a CUDA device is named or ``auto`` may find one (see :func:`gpu_possible`).
    """
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError("--device needs a value: cpu, cuda, auto, or a list such as cpu,cuda")
    resolved: list[str] = []
    for name in names:
        if name == "auto":
            name = "cuda" if _cuda_available() else "cpu"
        if name != "cpu" and not name.startswith("cuda"):
            raise ConfigError(f"unknown device {name!r}; use cpu, cuda, cuda:N, auto, or a list such as cpu,cuda")
        if name.startswith("cuda"):
            if not _cuda_available():
                raise ConfigError(f"device {name!r} asked for, but no CUDA GPU is available here; use --device cpu")
            import torch

            try:
                index = torch.device(name).index or 0
            except RuntimeError:
                raise ConfigError(f"bad CUDA device {name!r}; use cuda or cuda:N") from None
            if index >= torch.cuda.device_count():
                raise ConfigError(f"{name} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
        if name not in resolved:
            resolved.append(name)
    return resolved


def device_name(device: str) -> str:
    """A human name for reports: the CPU model is not portable, the GPU's name is."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


def available_memory(device: str) -> float | None:
    """Bytes a new allocation can take on ``device`` now (``MemAvailable`` on the CPU, free memory on a
    CUDA device), or ``None`` when it cannot be read."""
    if device.startswith("cuda"):
        import torch

        try:
            free, _ = torch.cuda.mem_get_info(torch.device(device))
        except (RuntimeError, AssertionError):
            return None
        return float(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def size(nbytes: float) -> str:
    """``12.3 GB``: a byte count as a line says it."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.0f} B"
