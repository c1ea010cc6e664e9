"""``optbench``: the parser of every subcommand and the one place a user's mistake becomes exit code 2.

Each subcommand's module owns its parser (``add_parser``) and names its handler with
``set_defaults(func=...)``; heavy imports (torch, the optimizer libraries) happen inside the handlers,
so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from optbench import __version__
from optbench.api import ConfigError
from optbench.cli import baseline, check, compare, dashboard, export, history, listing, report, study
from optbench.cli.common import PLUGIN_HELP, Parser

SUBCOMMANDS = (compare, report, baseline, check, history, study, listing, export, dashboard)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="optbench", description="Benchmark optimizers on problems, over seeds, on CPU and GPU.")
    parser.add_argument("--version", action="version", version=f"optbench {__version__}")
    # also before the subcommand (`optbench --plugin FILE list problems`); its own dest, because a
    # subcommand's default would overwrite a value parsed here
    parser.add_argument("--plugin", action="append", dest="global_plugin", metavar="FILE_OR_MODULE", help=PLUGIN_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in SUBCOMMANDS:
        module.add_parser(commands)
    return parser


# errors of the file system a user's output lands on (a full disk, a read-only mount, no permission, a quota):
# the user's to fix, so one line; any other OSError is a fault of optbench and keeps its traceback
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG})
OUTPUT_OPTIONS = ("out", "report", "html")  # where the subcommands' user-visible files go (-o, --report, --html)


def output_error(exc: OSError, args: argparse.Namespace | None) -> str:
    """One line for ``exc`` on a user's file system: the path (the error's own, else the output option
    given), the OS's reason, and that the store's finished trials are kept."""
    where = exc.filename or next((getattr(args, name) for name in OUTPUT_OPTIONS
                                  if isinstance(getattr(args, name, None), str) and getattr(args, name)), None)
    place = f"{where}: " if where else ""
    return (f"optbench: error: {place}{exc.strerror or exc} (errno {exc.errno}); free space or use another path; "
            "the store and its finished trials are unchanged")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from optbench.cli.loop import INTERRUPTED, sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():  # SIGTERM before or after the campaign loop too: Ctrl-C's one line
            return run_command(argv)
    except KeyboardInterrupt:
        from optbench.cli.common import stderr

        stderr().print("optbench: interrupted; every trial that finished is in the store (none when it had not "
                       "started); rerun the same command to resume", markup=False, soft_wrap=True)
        return INTERRUPTED


def run_command(argv: list[str]) -> int:
    """The command ``argv``: exit code 2 and one line for a user's mistake or a user's file system error."""
    args: argparse.Namespace | None = None
    try:
        from optbench.kernels import switches

        switches.check()  # read deep inside trials: a bad value is refused before any work
        study_argv = study.split_argv(argv)  # `optbench study ...` parses its own flags (imported on demand)
        if study_argv is not None:
            return study.main(study_argv[1], plugins=study_argv[0])
        args = build_parser().parse_args(argv)
        if args.global_plugin:  # `optbench --plugin FILE list problems`: as if given after the subcommand
            args.plugin = [*args.global_plugin, *(getattr(args, "plugin", None) or [])]
        if getattr(args, "loads_plugins", True) and (getattr(args, "plugin", None)
                                                     or "OPTBENCH_PLUGINS" in os.environ):
            from optbench.plugins import load_plugins

            load_plugins(args.plugin if args.command else None)
        if not args.command:
            build_parser().print_help()
            return 0
        return args.func(args, argv)
    except ConfigError as exc:
        from optbench.cli.common import stderr
        from optbench.cli.messages import one_line

        # one line, whatever the message holds: a 100 kB name typed by mistake is cut, not echoed
        stderr().print(one_line(f"optbench: error: {exc}"), markup=False, soft_wrap=True)
        return 2
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            raise
        from optbench.cli.common import stderr
        from optbench.cli.messages import one_line

        stderr().print(one_line(output_error(exc, args)), markup=False, soft_wrap=True)
        # a campaign's report failing after its trials finished is a fault mid-run (1); a report alone is 2
        return 1 if args is not None and args.command in ("compare", "check") else 2
