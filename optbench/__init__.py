"""optbench: which optimizer to use on a problem, how sure to be, and whether a change made it worse.

Importing the package is cheap: torch and the optimizer libraries load only when used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("optbench")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
