"""The ``optbench`` command line: one module per subcommand, each owning its parser; only this package prints."""

from optbench.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
