"""A campaign: a grid of trial specs, validated before anything runs, then run into a store.

- :mod:`optbench.campaign.grid`: :func:`suite_grid` and :func:`build_specs`;
- :mod:`optbench.campaign.run`: :func:`run_campaign`, shared by every command that runs trials;
- :mod:`optbench.campaign.api`: the Python API, :func:`compare` and :func:`study`, and their results.

The command line (:mod:`optbench.cli`) is a layer over these, adding progress, signals and rendering.
"""

from optbench.campaign.grid import Grid, build_specs, suite_grid
from optbench.campaign.run import run_campaign

__all__ = ["Grid", "build_specs", "run_campaign", "suite_grid"]
