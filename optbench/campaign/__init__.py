"""A campaign: a grid of trial specs, validated before anything runs, then run into a store.

- :mod:`optbench.campaign.grid`: :func:`suite_grid` and :func:`build_specs`;
- :mod:`optbench.campaign.run`: :func:`run_campaign`, shared by every command that runs trials;
- :mod:`optbench.campaign.api`: the Python API, :func:`compare` and :func:`study`, and their results.

The command line (:mod:`optbench.cli`) is a layer over these, adding progress, signals and rendering.
"""

from importlib import import_module
from typing import Any

# imported on first use, so the command line's parsers (which read DEFAULT_SUITE) load no store
_EXPORTS = {"Grid": "grid", "build_specs": "grid", "suite_grid": "grid", "run_campaign": "run"}
__all__ = ["Grid", "build_specs", "run_campaign", "suite_grid"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'optbench.campaign' has no attribute {name!r}")
    return getattr(import_module(f"optbench.campaign.{_EXPORTS[name]}"), name)
