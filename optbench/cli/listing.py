"""``optbench list`` and ``optbench plugins``: what is registered, and where each entry comes from."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from optbench.cli.common import plugin_parent


def add_parser(commands: Any) -> None:
    listing = commands.add_parser("list", parents=[plugin_parent()], help="list problems, optimizers or suites")
    listing.add_argument("what", choices=["problems", "optimizers", "suites"])
    listing.set_defaults(func=cmd_list)
    plugins = commands.add_parser("plugins", parents=[plugin_parent()],
                                  help="where each problem and optimizer comes from; broken plugins")
    plugins.set_defaults(func=cmd_plugins)


def cmd_list(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    from rich.console import Console

    from optbench.report.listing import optimizers_table, problems_table, suites_table

    table = {"problems": problems_table, "optimizers": optimizers_table, "suites": suites_table}[args.what]()
    Console().print(table)
    return 0


def cmd_plugins(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    from rich.console import Console

    from optbench.report.listing import plugins_table

    Console().print(plugins_table())
    return 0
