"""``optbench report``: a stored run's HTML/Markdown report or summary, rebuilt from the store alone."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.api import ConfigError
from optbench.cli.common import REPORT_DEFAULT, add_run, add_store, add_taus, check_store_file, chosen_run


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="HTML and Markdown report of a stored run (no rerun, no plugin imported)",
        description="Write a self-contained HTML report (plots embedded) and a Markdown summary of a stored run.",
    )
    add_run(report, help="run id as printed by compare (default: the latest)")
    add_store(report)
    report.add_argument("-o", "--out", metavar="DIR", help=f"report directory ({REPORT_DEFAULT})")
    report.add_argument("--format", choices=["html", "json", "csv", "markdown"], default="html",
                        help="html (report files, default) or a summary on stdout")

    add_taus(report)
    report.add_argument("--reference", metavar="DIR",
                        help="also draw the run next to a COCO or IOHanalyzer data set (a folder) on one runtime ECDF")
    report.set_defaults(func=cmd_report, loads_plugins=False)  # a report is rebuilt from stored JSON alone


def cmd_report(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Rebuild a run's report from the store alone: no trial runs, no plugin is imported."""
    from optbench.cli.common import say

    lines: list[str] = []
    if args.reference:
        from optbench.cli.export import cmd_reference

        lines = cmd_reference(args)  # the data set is read (and refused) before the report is written
    status = _report(args)
    for line in lines:
        say(line)
    return status


def _report(args: argparse.Namespace) -> int:
    from optbench.cli.common import say
    from optbench.cli.compare import print_summary
    from optbench.store import Store
    from optbench.store.paths import check_output_dir

    check_store_file(args.store)
    if args.format == "html":  # before reading anything: where the report goes must be writable
        check_output_dir(Path(args.out) if args.out else Path(args.store).parent, what="the report")
    with Store(args.store) as store:
        run_id, keys = store.run(chosen_run(args))
        results = store.results(keys)
        analysis = store.analysis(run_id)
    if analysis is not None:  # a study's run: redrawn from its stored analysis
        from optbench.cli.study import redraw

        return redraw(analysis[1], run_id=run_id, fmt=args.format, out=args.out, store=args.store)
    if not results:
        raise ConfigError(f"run {run_id} in {args.store} has no stored results yet")
    partial = len(keys) - len(results)
    if partial:  # a killed or interrupted run: say so wherever the report goes
        say(f"run {run_id} is partial: {partial} of {len(keys)} trials never ran; run its command again to finish it")
    from optbench.analysis import analyze

    comparison = analyze(results, taus=args.tau)  # once, for whichever output
    if args.format != "html":
        print_summary(comparison, args.format)
        return 0
    out = args.out or str(Path(args.store).parent / f"run-{run_id}")
    from optbench.report.document import write_report

    title = f"optbench run {run_id}" + (f" (partial: {len(results)} of {len(keys)} trials)" if partial else "")
    path = write_report(comparison, out, title=title)
    say(f"report of run {run_id} ({len(results)} trials): {path}")
    return 0
