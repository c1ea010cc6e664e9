"""Run a study: its tasks through the campaign machinery into the store, then analyze and render."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from optbench.api import ConfigError
from optbench.studies.base import Payload, Study


def report_dir(args: argparse.Namespace, name: str, run_id: int) -> str:
    """Where ``--report`` writes: the given folder, or ``study-NAME-RUN`` next to the store."""
    return args.report or str(Path(args.store).parent / f"study-{name}-{run_id}")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse an unusable ``--store`` or ``--report`` before anything runs."""
    from optbench.paths import check_output_dir, check_store_path

    check_store_path(Path(args.store))
    if args.report is not None:
        check_output_dir(Path(args.report) if args.report else Path(args.store).parent, what="the report")


def run_study(study: Study, args: argparse.Namespace, *, command: str, plugins: list[str]) -> int:
    """Run the study's tasks (resuming what the store has), store and print its analysis."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optbench.campaign import run_campaign
    from optbench.runners.executors import make_executor
    from optbench.store import Store

    check_outputs(args)
    specs = study.tasks()  # every mistake in the study's flags is found here, before the store is touched
    err = Console(stderr=True, highlight=False)
    executor = make_executor(jobs=args.jobs, kind=args.executor, scheduler=args.scheduler, plugins=plugins)
    with Store(args.store) as store:
        run_id = store.add_run(command, specs)
        todo = len(store.pending(specs, rerun=args.rerun))
        err.print(f"study {study.name}: {len(specs)} tasks, {todo} to run, {len(specs) - todo} already in "
                  f"{args.store}", markup=False)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err, disable=args.quiet or todo == 0, transient=True)
        task = progress.add_task(study.name, total=todo)
        try:
            with progress:
                run_campaign(specs, store, executor=executor, rerun=args.rerun,
                             on_result=lambda _r: progress.update(task, advance=1))
        except KeyboardInterrupt:
            done = len(store.done_keys(s.key for s in specs))
            err.print(f"interrupted: {done} of {len(specs)} tasks are stored in {args.store}; "
                      "run the same command again to resume", markup=False)
            return 130
        results = store.results(s.key for s in specs)
        missing = len(specs) - len(results)
        if missing:
            raise ConfigError(f"{missing} of {len(specs)} tasks are being run by another optbench process on "
                              f"{args.store}; run the command again when it is done")
        data = study.analyze(results)
        data["question"] = study.question
        store.save_analysis(run_id, study.name, data)
    render(data, args.format)
    err.print(f"run {run_id}: study {study.name}, {len(results)} tasks · results in {args.store}", markup=False)
    if args.report is not None:
        path = write(data, report_dir(args, study.name, run_id), run_id=run_id)
        err.print(f"report: {path}", markup=False)
    return 0


def render(data: Payload, fmt: str) -> None:
    """Print a payload on stdout as a rich table, JSON or Markdown."""
    from optbench.studies import render as out

    if fmt == "json":
        sys.stdout.write(out.to_json(data) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(out.to_markdown(data))
    else:
        from rich.console import Console

        out.print_payload(Console(), data)


def write(data: Payload, out_dir: str, *, run_id: int) -> Path:
    """Draw the study's figures from the payload and write its report."""
    from optbench.studies import render as out
    from optbench.studies import study_class

    figures = study_class(data["study"]).figures(data)
    return out.write_report(data, figures, out_dir, title=f"optbench study {data['study']} (run {run_id})")


def redraw(data: Payload, *, run_id: int, fmt: str, out: str | None, store: str) -> int:
    """``optbench report`` of a study's run: from the stored analysis alone, nothing rerun."""
    if fmt == "csv":
        raise ConfigError(f"run {run_id} is a study ({data['study']}); its summary is --format json, markdown "
                          "or html")
    if fmt != "html":
        render(data, "markdown" if fmt == "markdown" else "json")
        return 0
    from rich.console import Console

    path = write(data, out or str(Path(store).parent / f"study-{data['study']}-{run_id}"), run_id=run_id)
    Console(stderr=True, highlight=False).print(f"report of run {run_id} (study {data['study']}): {path}",
                                                markup=False, soft_wrap=True)
    return 0
