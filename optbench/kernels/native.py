"""Small C kernels for the CPU, compiled on first use with the system C compiler and loaded with ctypes.

The sources (``*.c`` beside this module) are plain C99 without dependencies. The first process that
needs one compiles it into a per-user cache directory, under a name keyed by a hash of the source,
the compiler and its flags, so a changed source or compiler builds afresh and nothing stale is
loaded. Compilation writes a temporary file and renames it into place, so processes racing to build
the same library each load a complete one. ctypes releases the GIL during a call.

Where there is no compiler, or compiling or loading fails, :func:`library` returns ``None`` (once
per process a debug line says why) and the caller keeps its torch or NumPy path, which gives the
same values: every native kernel is tested against that path. ``OPTBENCH_KERNELS=eager`` turns the
native kernels off too.

Environment:
    ``OPTBENCH_CC``: the compiler (a name on ``PATH`` or a path); ``none`` builds nothing. Default:
        sysconfig's ``CC``, else ``cc``, ``gcc`` or ``clang``, the first found.
    ``OPTBENCH_KERNEL_CACHE``: the cache directory. Default ``$XDG_CACHE_HOME/optbench/kernels``
        (``~/.cache/optbench/kernels``).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

from optbench.kernels import switches

log = logging.getLogger(__name__)

CC_ENV = "OPTBENCH_CC"
CACHE_ENV = "OPTBENCH_KERNEL_CACHE"
SOURCES = Path(__file__).resolve().parent
# -ffp-contract=off: a C compiler may fuse a * b + c into one rounding, which torch's kernels do only
# where they say so; the sources call fma() where torch fuses. -fno-math-errno and -fno-trapping-math
# change no value (no errno from fma or fabs; selects between computed values may be vectorized)
BASE_FLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
              "-pthread")
COMPILE_SECONDS = 120

_LOADED: dict[tuple[str, str, str, tuple[str, ...]], ctypes.CDLL | None] = {}


def enabled() -> bool:
    """Whether native kernels may be used now: not under ``OPTBENCH_KERNELS=eager`` (read at every call)."""
    return switches.kernel_mode() != "eager"


def compiler() -> str | None:
    """The C compiler's path, or ``None`` (``OPTBENCH_CC=none``, a named compiler that is missing, none found)."""
    chosen = os.environ.get(CC_ENV, "").strip()
    if chosen:
        return None if chosen.lower() == "none" else shutil.which(chosen)
    configured = shlex.split(sysconfig.get_config_var("CC") or "")
    for name in ([configured[0]] if configured else []) + ["cc", "gcc", "clang"]:
        found = shutil.which(name)
        if found:
            return found
    return None


def flags() -> tuple[str, ...]:
    """The compiler flags: :data:`BASE_FLAGS`, plus FMA and AVX2 on an x86-64 CPU where torch uses them.

    torch's vectorized CPU kernels fuse multiply-adds where its CPU capability is AVX2 or AVX-512
    (both imply FMA); there the native kernels can use the same instruction inline.
    """
    extra: tuple[str, ...] = ()
    if platform.machine().lower() in ("x86_64", "amd64"):
        import torch

        if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
            extra = ("-mavx2", "-mfma")
    return BASE_FLAGS + extra


def cache_dir() -> Path:
    """Where compiled libraries are kept (``OPTBENCH_KERNEL_CACHE``, else the user's cache directory)."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "optbench" / "kernels"


def library(name: str) -> ctypes.CDLL | None:
    """The compiled ``<name>.c`` of this package, built on first use; ``None`` where it cannot be.

    Looked up once per process for each compiler, cache directory and flags, so a test can point
    ``OPTBENCH_CC`` or ``OPTBENCH_KERNEL_CACHE`` elsewhere and get a fresh answer.
    """
    cc, where, options = compiler(), cache_dir(), flags()
    key = (name, cc or "", str(where), options)
    if key not in _LOADED:
        _LOADED[key] = _build(name, cc, where, options)
    return _LOADED[key]


def _build(name: str, cc: str | None, where: Path, options: tuple[str, ...]) -> ctypes.CDLL | None:
    source = SOURCES / f"{name}.c"
    if cc is None:
        log.debug("native kernel %s: no C compiler (%s=%r); using the torch path", name, CC_ENV,
                  os.environ.get(CC_ENV))
        return None
    try:
        text = source.read_bytes()
        digest = hashlib.sha256(b"\0".join([text, cc.encode(), " ".join(options).encode(),
                                            platform.machine().encode()])).hexdigest()[:20]
        target = where / f"{name}-{digest}.so"
        if not target.exists():
            where.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{name}-", suffix=".so", dir=where)
            os.close(handle)
            try:
                result = subprocess.run([cc, *options, "-o", temporary, str(source), "-lm"], capture_output=True,
                                        text=True, timeout=COMPILE_SECONDS, check=False)
                if result.returncode != 0:
                    log.debug("native kernel %s: %s failed (%s); using the torch path", name, cc,
                              result.stderr.strip()[-2000:])
                    return None
                os.replace(temporary, target)  # atomic: a racing process loads one complete library or the other
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        return ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError) as error:
        log.debug("native kernel %s: not built (%s: %s); using the torch path", name, type(error).__name__, error)
        return None
