"""Device names chosen at run time: ``cpu``, ``cuda``, ``cuda:1``, ``auto``, or lists of them."""

from __future__ import annotations

from optbench.api import ConfigError


def resolve_devices(text: str) -> list[str]:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cpu,cuda"`` into concrete device names.

    ``auto`` is CUDA when a GPU is visible and the CPU otherwise. Asking for CUDA on a machine
    without one is a configuration error, reported before any trial runs.
    """
    import torch

    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError("--device needs a value: cpu, cuda, auto, or a list such as cpu,cuda")
    resolved: list[str] = []
    for name in names:
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        if name != "cpu" and not name.startswith("cuda"):
            raise ConfigError(f"unknown device {name!r}; use cpu, cuda, cuda:N, auto, or a list such as cpu,cuda")
        if name.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ConfigError(f"device {name!r} asked for, but no CUDA GPU is available here; use --device cpu")
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
    import torch

    if device.startswith("cuda"):
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
