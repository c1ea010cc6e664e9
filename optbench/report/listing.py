"""Tables for ``optbench list``: what is installed, where it comes from, what it runs on."""

from __future__ import annotations

import importlib
from typing import Any

from rich.table import Table
from rich.text import Text

from optbench.api import LANDSCAPES, Capability, ConfigError
from optbench.registry import BRIDGES, OPTIMIZERS, PROBLEMS, entries, make_problem, parameters_of, source_of
from optbench.report.terminal import fmt_number


def _defaults(cls: type) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in parameters_of(cls).items())


def problems_table() -> Table:
    """Every registered problem built with its defaults: landscape, space, dimension, gradients, optimum."""
    table = Table(title="problems", title_justify="left")
    for column in ("name", "landscape", "space", "dim", "grad", "optimum", "parameters", "from"):
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "landscape", "space", "dim", "grad"))
    rows = []
    for name, entry in entries(PROBLEMS).items():
        source = f"{entry.distribution} {entry.version}"
        try:
            problem = make_problem(name, {}, instance=0, device="cpu")
        except ConfigError as exc:
            rows.append(("~", name, Text("broken", style="red"), "", "", "", "", Text(str(exc), style="red"),
                         source))
            continue
        grad = "yes" if Capability.DIFFERENTIABLE in problem.capabilities else "no"
        optimum = fmt_number(problem.optimal_value) if problem.optimal_value is not None else "unknown"
        order = list(LANDSCAPES).index(problem.landscape) if problem.landscape in LANDSCAPES else len(LANDSCAPES)
        rows.append((order, name, problem.landscape, str(problem.space.kind), str(problem.space.dim), grad, optimum,
                     _defaults(type(problem)), source))
    for _, *row in sorted(rows, key=lambda r: (str(r[0]), r[1])):
        table.add_row(*row)
    return table


def optimizers_table() -> Table:
    """Every registered optimizer: the spaces it runs on, what it needs, its hyperparameters."""
    table = Table(title="optimizers", title_justify="left")
    for column in ("name", "runs on", "needs", "hyperparameters (defaults)", "from"):
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for name, entry in entries(OPTIMIZERS).items():
        source = f"{entry.distribution} {entry.version}"
        try:
            cls: Any = entry.load()
        except ConfigError as exc:
            table.add_row(name, Text("broken", style="red"), "", Text(str(exc), style="red"), source)
            continue
        spaces = ", ".join(sorted(str(s) for s in cls.spaces))
        needs = ", ".join(sorted(str(c) for c in cls.requires)) or "–"
        table.add_row(name, spaces, needs, _defaults(cls), source)
    for prefix, target in BRIDGES.items():
        module, _, attr = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except Exception as exc:  # e.g. Nevergrad not installed
            table.add_row(f"{prefix}:<name>", Text("unavailable", style="red"), "", str(exc), "bridge")
            continue
        spaces = ", ".join(sorted(str(s) for s in cls.spaces))
        needs = ", ".join(sorted(str(c) for c in cls.requires)) or "–"
        table.add_row(f"{prefix}:<name>", spaces, needs, _BRIDGE_HELP.get(prefix, ""),
                      f"bridge: {source_of(OPTIMIZERS, prefix + ':')}")
    return table


_BRIDGE_HELP = {
    "ng": "any nevergrad.optimizers.registry name, or a nevergrad.families class with its keywords; "
          "num_workers=N asks N candidates per batch",
    "scipy": "scipy.optimize.minimize methods (L-BFGS-B, Nelder-Mead, Powell, …), differential_evolution, "
             "dual_annealing; keywords are the method's options",
    "torch": "any torch.optim class (AdamW, RMSprop, LBFGS, …) with its keywords; batch_size=64 "
             "(None: full gradients)",
}


def suites_table() -> Table:
    from optbench.suites import load_suite, suite_names

    table = Table(title="suites", title_justify="left")
    for column in ("name", "problems", "optimizers", "seeds", "trials", "budget", "description"):
        table.add_column(column, overflow="fold", no_wrap=column != "description")
    for name in suite_names():
        suite = load_suite(name)
        budget = " + ".join(
            label for label in (
                f"{suite.budget:g} evals" if suite.budget else "",
                f"{suite.time_budget:g} s" if suite.time_budget else "",
            ) if label
        )
        if suite.budgets:
            budget += f" ({len(suite.budgets)} own)"
        trials = len(suite.problems) * len(suite.optimizers) * len(suite.seeds) * len(suite.instances)
        table.add_row(name, str(len(suite.problems)), str(len(suite.optimizers)), str(len(suite.seeds)),
                      f"{trials:,}", budget, suite.description)
    return table


def plugins_table() -> Table:
    """Every registered name with its source and whether it imports."""
    table = Table(title="plugins", title_justify="left")
    for column in ("group", "name", "from", "target", "status"):
        table.add_column(column, overflow="fold", no_wrap=column in ("group", "name"))
    for group in (PROBLEMS, OPTIMIZERS):
        for name, entry in entries(group).items():
            try:
                entry.load()
                status = Text("ok", style="green")
            except ConfigError as exc:
                status = Text(str(exc).rsplit("failed to import: ", 1)[-1], style="red")
            table.add_row(group.rsplit(".", 1)[-1], name, f"{entry.distribution} {entry.version}", entry.value, status)
    return table
    "optuna": "an optuna.samplers class (TPESampler, CmaEsSampler, GPSampler, QMCSampler, RandomSampler) with its "
              "keywords, through ask-and-tell; n_parallel=N asks N trials per batch (extra: optbench[optuna])",
    "evotorch": "an evotorch.algorithms class (CMAES, SNES, XNES, PGPE, CEM, GeneticAlgorithm) with its keywords, "
                "population on the problem's device (extra: optbench[evotorch])",
