"""Optional ecosystems (COCO, IOH, Optuna, EvoTorch): imported where used, one line when missing.

Each library is an extra of the ``optbench`` distribution; a problem or bridge that needs one
calls :func:`require`, which imports it or raises a :class:`~optbench.api.ConfigError` naming the
extra to install (``optbench compare`` turns that into one line and exit code 2).
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Extra:
    """An optional dependency: the module to import, its distribution, and the extra that installs it."""

    module: str
    distribution: str
    extra: str
    label: str  # how a message names the library


EXTRAS = {
    "cocoex": Extra("cocoex", "coco-experiment", "coco", "COCO (cocoex)"),
    "cocopp": Extra("cocopp", "cocopp", "coco", "COCO (cocopp)"),
    "ioh": Extra("ioh", "ioh", "ioh", "IOHexperimenter (ioh)"),
    "optuna": Extra("optuna", "optuna", "optuna", "Optuna"),
    "cmaes": Extra("cmaes", "cmaes", "optuna", "cmaes (imported by Optuna when CmaEsSampler samples)"),
    "evotorch": Extra("evotorch", "evotorch", "evotorch", "EvoTorch"),
}


def install_hint(module: str) -> str:
    """``pip install 'optbench[coco]'`` style advice for ``module``."""
    extra = EXTRAS[module]
    return f"{extra.label} (package {extra.distribution}), an optional extra: pip install 'optbench[{extra.extra}]'"


def require(module: str, *, needed_by: str) -> ModuleType:
    """Import ``module`` or raise a one-line :class:`ConfigError` saying which extra installs it.

    Args:
        module: a key of :data:`EXTRAS` (``"cocoex"``, ``"ioh"``, ``"optuna"``, ``"evotorch"``).
        needed_by: what needs it, e.g. ``"bbob"`` or ``"optuna:TPESampler"``; starts the message.
    """
    from optbench.api import ConfigError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # import-time chatter (deprecations, missing plotting backends)
            return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{needed_by} needs {install_hint(module)} ({type(exc).__name__}: {exc})") from None
