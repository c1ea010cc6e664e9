"""optbench: which optimizer to use on a problem, how sure to be, and whether a change made it worse.

The public Python API::

    import optbench

    result = optbench.compare(problems=["sphere(dim=5)", "rastrigin(dim=5)"], optimizers=["cmaes", "random"],
                              seeds=5, budget=500)
    print(result.to_markdown())

- :func:`compare` and :func:`study` run a comparison or a study and return a :class:`ComparisonResult`
  or a :class:`StudyResult` (tables, per-trial records, the analysis, ``to_json()``);
- :class:`Problem`, :class:`Optimizer`, :class:`Evaluator` and the :func:`problem` decorator are what a
  plugin is written with; :func:`register_problem` and :func:`register_optimizer` register one;
- :func:`check_problem` and :func:`check_optimizer` test a plugin against the contract.

Importing the package is cheap: each name is imported when first used, and torch and the optimizer
libraries load only when a trial needs them.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("optbench")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

# public name -> the module that defines it
_EXPORTS = {
    "compare": "optbench.campaign.api",
    "study": "optbench.campaign.api",
    "ComparisonResult": "optbench.campaign.api",
    "StudyResult": "optbench.campaign.api",
    "Problem": "optbench.api",
    "Optimizer": "optbench.api",
    "Space": "optbench.api",
    "SpaceKind": "optbench.api",
    "Capability": "optbench.api",
    "Budget": "optbench.api",
    "BudgetExhausted": "optbench.api",
    "ConfigError": "optbench.api",
    "TrialSpec": "optbench.api",
    "TrialResult": "optbench.api",
    "TrialState": "optbench.api",
    "Evaluator": "optbench.evaluator",
    "problem": "optbench.plugins",
    "register_problem": "optbench.plugins",
    "register_optimizer": "optbench.plugins",
    "check_problem": "optbench.testing",
    "check_optimizer": "optbench.testing",
}

__all__ = [  # the keys of _EXPORTS (a test checks they agree), written out for readers and linters
    "Budget", "BudgetExhausted", "Capability", "ComparisonResult", "ConfigError", "Evaluator", "Optimizer",
    "Problem", "Space", "SpaceKind", "StudyResult", "TrialResult", "TrialSpec", "TrialState", "__version__",
    "check_optimizer", "check_problem", "compare", "problem", "register_optimizer", "register_problem", "study",
]

if TYPE_CHECKING:
    from optbench.api import (
        Budget,
        BudgetExhausted,
        Capability,
        ConfigError,
        Optimizer,
        Problem,
        Space,
        SpaceKind,
        TrialResult,
        TrialSpec,
        TrialState,
    )
    from optbench.campaign.api import ComparisonResult, StudyResult, compare, study
    from optbench.evaluator import Evaluator
    from optbench.plugins import problem, register_optimizer, register_problem
    from optbench.testing import check_optimizer, check_problem


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562), so ``import optbench`` loads no torch."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'optbench' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
