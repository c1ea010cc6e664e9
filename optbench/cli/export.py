"""``optbench export --format coco|ioh DIR``: a stored run in COCO's or IOHanalyzer's data format.

Only the CLI prints: :func:`export_lines` returns the lines to show.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.api import ConfigError
from optbench.cli.common import add_run, add_store, check_store_file, chosen_run, say

FORMATS = ("coco", "ioh")


def add_parser(commands: Any) -> None:
    export = commands.add_parser(
        "export", help="write a stored run in COCO's (cocopp) or IOHanalyzer's data format",
        description="Write a stored run's trials as a COCO data set (post-process with `python -m cocopp DIR`) "
                    "or as IOHanalyzer data (written by ioh's own Analyzer logger).")
    export.add_argument("out", metavar="DIR", help="folder to write the data set into (created if missing)")
    add_run(export, help="run id as printed by compare (default: the latest)")
    export.add_argument("--format", choices=FORMATS, required=True,
                        help="coco: bbob trials for cocopp; ioh: any trial for IOHanalyzer")
    add_store(export)
    export.add_argument("--optimizer", action="append", metavar="LABEL",
                        help="only this optimizer (as labelled in the run, e.g. cmaes or optuna:TPESampler); "
                             "may repeat. With one optimizer the COCO data set is DIR itself")
    export.set_defaults(func=cmd_export)


def _results(args: argparse.Namespace) -> tuple[int, list[Any]]:
    from optbench.store import Store

    check_store_file(args.store)
    with Store(args.store) as store:
        run_id, keys = store.run(chosen_run(args))
        results = store.results(keys)
        study = store.analysis(run_id)
    if study is not None:
        raise ConfigError(f"run {run_id} is a study ({study[0]}), not a comparison; COCO's and IOHanalyzer's formats "
                          "hold comparisons (its tables: optbench report --format json)")
    results = [r for r in results if not r.spec.task]  # tuning trials ran on a tuning instance: not the comparison
    if getattr(args, "optimizer", None):
        labels = {r.spec.optimizer_label for r in results}
        missing = [o for o in args.optimizer if o not in labels]
        if missing:
            raise ConfigError(f"run {run_id} has no optimizer {missing[0]!r}; it has: {', '.join(sorted(labels))}")
        results = [r for r in results if r.spec.optimizer_label in args.optimizer]
    if not results:
        raise ConfigError(f"run {run_id} in {args.store} has no stored results yet")
    return run_id, results


def _check_out(out: Path) -> None:
    """``out`` must be new or empty: a data set mixed with an older one would be read as one."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; export writes a folder, pass a folder path")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty; export into a new folder (cocopp and IOHanalyzer read all of it)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out}: {exc.strerror}") from None


def cmd_export(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    for line in export_lines(args):
        say(line)
    return 0


def export_lines(args: argparse.Namespace) -> list[str]:
    """Export a stored run; returns the lines for the CLI to print (stderr)."""
    run_id, results = _results(args)
    if args.format == "ioh":  # before the folder exists: a missing extra leaves nothing behind
        from optbench.extras import require

        require("ioh", needed_by="export --format ioh")
    out = Path(args.out)
    _check_out(out)
    if args.format == "coco":
        from optbench.report.coco_export import write_coco

        report = write_coco(results, out)
        if not report.folders:
            out.rmdir()
            raise ConfigError(f"run {run_id} has no bbob trial with a result; COCO's format holds bbob runs "
                              "(use --format ioh for other problems)")
        folders = " ".join(str(f) for f in report.folders)
        lines = [f"run {run_id}: {report.runs} runs in COCO's format in {out}",
                 f"post-process: python -m cocopp {folders}"]
    else:
        from optbench.report.ioh_export import write_ioh

        report = write_ioh(results, out)
        lines = [f"run {run_id}: {report.runs} runs in IOHanalyzer's format in {out} "
                 f"({', '.join(f.name for f in report.folders)}); load the folder (or a zip of it) in IOHanalyzer"]
    lines += [f"left out {n} trial(s): {reason}" for reason, n in sorted(report.left_out.items())]
    return lines


def cmd_reference(args: argparse.Namespace) -> list[str]:
    """``optbench report --reference DIR``: the run and a COCO/IOH data set on one ECDF (a PNG in the report folder)."""
    from optbench.report.reference import write_reference_ecdf

    run_id, results = _results(args)
    out = Path(args.out) if args.out else Path(args.store).parent / f"run-{run_id}"
    path, summary = write_reference_ecdf(results, args.reference, out)
    return [f"run {run_id} next to {args.reference}: {path} ({summary})"]
