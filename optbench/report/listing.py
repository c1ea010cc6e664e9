"""Tables for ``optbench list``: what is installed, where it comes from, what it runs on.

Each listing is a :class:`Listing`, which renders as a table when the console is wide enough for its
short columns plus a readable width for each long one, and otherwise (at 80 columns, or piped) as
one short block per entry: the name and the short fields on one line, each long field on its own
wrapped, indented line. A table squeezed below its natural width would fold a description into a
column one character wide.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from optbench.api import LANDSCAPES, Capability, ConfigError
from optbench.params import parameters_of
from optbench.registry import BRIDGES, OPTIMIZERS, PROBLEMS, entries, make_problem
from optbench.report.numbers import fmt_number

# a long column (description, parameters) below this width reads as a column of fragments: stack instead
LONG_MIN_WIDTH = 28
INDENT = 4  # of an entry's continuation lines when stacked

Cell = str | Text


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    Attributes:
        header: the table header.
        long: free text that wraps in the table and gets its own line when stacked.
        label: how a short value reads when stacked, ``{}`` standing for the value (``"{} seeds"``).
    """

    header: str
    long: bool = False
    label: str = "{}"


@dataclass
class Listing:
    """Rows under named columns, rendered as a table or, below the width it needs, stacked per entry.

    The first column is the entry's name. Empty cells are left out of the stacked form.
    """

    title: str
    columns: Sequence[Column]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)

    def add_row(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: a row has {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def table_width(self) -> int:
        """The narrowest width at which every short column fits unwrapped and every long one gets LONG_MIN_WIDTH."""
        width = 1  # left border
        for index, column in enumerate(self.columns):
            natural = max([cell_len(column.header)] + [cell_len(_plain(row[index])) for row in self.rows])
            width += (min(natural, LONG_MIN_WIDTH) if column.long else natural) + 3  # padding and a border
        return width

    def table(self) -> Table:
        table = Table(title=self.title, title_justify="left")
        for column in self.columns:
            if column.long:
                table.add_column(column.header, overflow="fold", ratio=1, min_width=LONG_MIN_WIDTH)
            else:
                table.add_column(column.header, no_wrap=True)
        for row in self.rows:
            table.add_row(*row)
        return table

    def stacked(self, console: Console, width: int) -> Iterator[Text]:
        """One block per entry: the name and short fields, then each long field, wrapped to ``width``.

        Continuation lines are indented, so every line but an entry's first starts with spaces.
        """
        yield Text(self.title, style="bold")
        for row in self.rows:
            (_, name), *rest = zip(self.columns, row, strict=True)
            fields = [_labelled(column.label, cell) for column, cell in rest if not column.long and _plain(cell)]
            yield from _packed(console, Text(_plain(name), style="bold"), fields, width)
            for column, cell in rest:
                if column.long and _plain(cell):
                    field_text = Text.assemble(f"{column.header}: ", cell if isinstance(cell, Text) else Text(cell))
                    yield from _hanging(console, field_text, width, first=INDENT)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.table_width() <= options.max_width:
            yield self.table()
        else:
            yield from self.stacked(console, options.max_width)


def _packed(console: Console, name: Text, fields: list[Text], width: int) -> Iterator[Text]:
    """``name`` and the short ``fields`` on as few lines as fit ``width``, never splitting a field."""
    line, separator = name, "  "
    for text in fields:
        if cell_len(line.plain) + len(separator) + cell_len(text.plain) > width and line.plain.strip():
            yield from _fitted(console, line, width)
            line, separator = Text(" " * INDENT), ""
        line = Text.assemble(line, separator, text)
        separator = "  ·  "
    yield from _fitted(console, line, width)


def _fitted(console: Console, line: Text, width: int) -> Iterator[Text]:
    """``line`` as it is when it fits, else folded (a single field wider than the console)."""
    if cell_len(line.plain) <= width:
        yield line
    else:
        yield from _hanging(console, line, width, first=0)


def _hanging(console: Console, text: Text, width: int, *, first: int) -> Iterator[Text]:
    """``text`` wrapped to ``width`` cells: the first line indented by ``first``, the others by INDENT."""
    for number, line in enumerate(text.wrap(console, max(width - INDENT, 8), overflow="fold")):
        line.rstrip()
        yield Text(" " * (first if number == 0 else INDENT)) + line


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _labelled(label: str, cell: Cell) -> Text:
    before, _, after = label.partition("{}")
    return Text.assemble(before, cell if isinstance(cell, Text) else Text(cell), after)


def _defaults(cls: type) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in parameters_of(cls).items())


def problem_row(entry: Any) -> list[Cell]:
    """The listing's cells of one problem built with its defaults (``order`` first: its landscape's rank)."""
    try:
        problem = make_problem(entry.name, {}, instance=0, device="cpu")
    except ConfigError as exc:
        return ["~", entry.name, Text("broken", style="red"), "", "", "", "", Text(str(exc), style="red")]
    grad = "yes" if Capability.DIFFERENTIABLE in problem.capabilities else "no"
    optimum = fmt_number(problem.optimal_value) if problem.optimal_value is not None else "unknown"
    order = list(LANDSCAPES).index(problem.landscape) if problem.landscape in LANDSCAPES else len(LANDSCAPES)
    return [str(order), entry.name, problem.landscape, str(problem.space.kind), str(problem.space.dim), grad, optimum,
            _defaults(type(problem))]


def optimizer_row(entry: Any) -> list[Cell]:
    from optbench.tuning.space import describe

    try:
        cls: Any = entry.load()
    except ConfigError as exc:
        return [entry.name, Text("broken", style="red"), "", Text(str(exc), style="red"), ""]
    spaces = ", ".join(sorted(str(s) for s in cls.spaces))
    needs = ", ".join(sorted(str(c) for c in cls.requires)) or "–"
    declared = getattr(cls, "search_space", None)
    space = "none declared" if declared is None else (describe(declared) or "nothing to tune")
    return [entry.name, spaces, needs, _defaults(cls), space]


def bridge_row(entry: Any) -> list[Cell]:
    """The cells of one bridge, the library it runs last (its version is read when listed)."""
    from optbench.tuning.space import describe

    prefix = entry.name
    try:
        cls = entry.load()
    except ConfigError as exc:  # e.g. Nevergrad not installed
        return [f"{prefix}:<name>", Text("unavailable", style="red"), "", str(exc), "", ""]
    spaces = ", ".join(sorted(str(s) for s in cls.spaces))
    needs = ", ".join(sorted(str(c) for c in cls.requires)) or "–"
    members = getattr(cls, "search_spaces", {})
    space = "; ".join(f"{prefix}:{target}: {describe(sp)}" for target, sp in members.items())
    space = (space + "; other members: none declared") if space else "none declared (give one with --space)"
    return [f"{prefix}:<name>", spaces, needs, getattr(cls, "summary", ""), space, getattr(cls, "library", prefix)]


def _rows(group: str, build: Any) -> list[tuple[Any, list[Cell]]]:
    """``(entry, cells)`` of every entry of ``group``: optbench's own from the shipped catalog (nothing imported),
    the others built here."""
    from optbench.report.catalog import cached

    shipped = cached(group)
    out = []
    for entry in entries(group).values():
        known = shipped.get(entry.name) if entry.distribution == "optbench" else None
        # a row that needs an optional library (bbob: cocoex) is shipped only while that library imports here
        if known is not None and known["value"] == entry.value and all(map(_importable, known.get("needs", []))):
            out.append((entry, list(known["cells"])))
        else:
            out.append((entry, build(entry)))
    return out


@functools.cache
def _importable(module: str) -> bool:
    from optbench.extras import require

    try:
        require(module, needed_by="list")
    except ConfigError:
        return False
    return True


def problems_table() -> Listing:
    """Every registered problem built with its defaults: landscape, space, dimension, gradients, optimum."""
    table = Listing("problems", [Column("name"), Column("landscape"), Column("space"), Column("dim", label="dim {}"),
                                 Column("grad", label="grad {}"), Column("optimum", label="optimum {}"),
                                 Column("parameters", long=True), Column("from", long=True)])
    rows = [(cells, f"{entry.distribution} {entry.version}") for entry, cells in _rows(PROBLEMS, problem_row)]
    for cells, source in sorted(rows, key=lambda r: (str(r[0][0]), str(r[0][1]))):
        table.add_row(*cells[1:], source)
    return table


def optimizers_table() -> Listing:
    """Every registered optimizer: the spaces it runs on, what it needs, its hyperparameters."""
    table = Listing("optimizers", [Column("name"), Column("runs on", label="runs on {}"),
                                   Column("needs", label="needs {}"),
                                   Column("hyperparameters (defaults)", long=True),
                                   Column("search space (--tuning)", long=True), Column("from", long=True)])
    for entry, cells in _rows(OPTIMIZERS, optimizer_row):
        table.add_row(*cells, f"{entry.distribution} {entry.version}")
    for _, cells in _rows(BRIDGES, bridge_row):
        *shown, library = cells
        if not library:  # unavailable
            table.add_row(*shown, "bridge")
            continue
        shown[3] = Text(str(shown[3]))  # a summary may hold brackets (optbench[optuna]): never markup
        table.add_row(*shown, f"bridge: {_version(library)}")
    return table


def _version(library: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{library} {version(library)}"
    except PackageNotFoundError:
        return f"{library} (not installed)"


def suites_table() -> Listing:
    """Every named suite: its size, its budget, what it is for."""
    from optbench.problems.suites import load_suite, suite_names

    table = Listing("suites", [Column("name"), Column("problems", label="{} problems"),
                               Column("optimizers", label="{} optimizers"), Column("seeds", label="{} seeds"),
                               Column("trials", label="{} trials"), Column("budget"),
                               Column("description", long=True)])
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


def plugins_table() -> Listing:
    """Every registered name with its source and whether it imports."""
    table = Listing("plugins", [Column("name"), Column("group"), Column("from", label="from {}"),
                                Column("target", long=True), Column("status", long=True)])
    for group in (PROBLEMS, OPTIMIZERS):
        for name, entry in entries(group).items():
            try:
                entry.load()
                status = Text("ok", style="green")
            except ConfigError as exc:
                status = Text(str(exc).rsplit("failed to import: ", 1)[-1], style="red")
            table.add_row(name, group.rsplit(".", 1)[-1], f"{entry.distribution} {entry.version}", entry.value, status)
    return table


def build_catalog() -> dict[str, dict[str, Any]]:
    """The rows of every entry optbench ships that builds here (an entry that does not, e.g. for a missing
    extra, is left out: listing builds it and shows why); ``needs``: the optional libraries a row imported."""
    from optbench.extras import EXTRAS

    out: dict[str, dict[str, Any]] = {}
    for group, row in ((PROBLEMS, problem_row), (OPTIMIZERS, optimizer_row), (BRIDGES, bridge_row)):
        table = {}
        for name, entry in entries(group).items():
            if entry.distribution != "optbench":
                continue
            before = set(sys.modules)
            cells = row(entry)
            if any(isinstance(cell, Text) for cell in cells):
                continue
            needs = sorted(module for module in set(sys.modules) - before if module in EXTRAS)  # first importer
            table[name] = {"value": entry.value, "cells": cells, **({"needs": needs} if needs else {})}
        out[group] = table
    return out


def main() -> int:
    """``python -m optbench.report.listing``: write the catalog of optbench's own rows."""
    import json

    from optbench.report.catalog import CATALOG

    text = json.dumps(build_catalog(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    CATALOG.write_text(text, encoding="utf-8")
    print(f"wrote {CATALOG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
