"""The Python API: :func:`compare` and :func:`study`, and the results they return.

Both run through the same grid, store and campaign loop as ``optbench compare`` and ``optbench study``,
so a result here is the command line's result: ``compare(...).to_json()`` is the text of
``optbench compare --format json`` for the same grid and store.

Example::

    import optbench

    result = optbench.compare(problems=["sphere(dim=5)", "rastrigin(dim=5)"], optimizers=["cmaes", "random"],
                              seeds=5, budget=500, store="reports/example.sqlite")
    print(result.to_markdown())
    best = result.analysis  # the one analysis every renderer reads
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from optbench.api import ConfigError, TrialResult, TrialSpec, TrialState


@dataclass(frozen=True)
class ComparisonResult:
    """One comparison: every trial's result and the analysis computed from them once.

    Attributes:
        run_id: the run's id in the store (``optbench report RUN --store STORE`` redraws it).
        store: the store file; empty when the comparison ran in a temporary store.
        results: every trial of the grid, problem-major, as stored.
        ran: how many trials this call ran (the rest were in the store already, or run by another process).
        taus: the Moré–Wild tolerances of the analysis (``None``: the defaults).
    """

    run_id: int
    store: str
    results: tuple[TrialResult, ...]
    ran: int
    taus: tuple[float, ...] | None = None

    @cached_property
    def analysis(self) -> Any:
        """The :class:`~optbench.analysis.Comparison`: cells, ties, profiles and ECDFs, computed once."""
        from optbench.analysis import analyze

        return analyze(self.results, taus=self.taus)

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per trial: the spec's fields and the result's (as the store keeps them)."""
        return [result.to_json() for result in self.results]

    @property
    def counts(self) -> dict[str, int]:
        """Trials by state, e.g. ``{"complete": 20}``."""
        return {str(state): n for state in TrialState if (n := sum(r.state is state for r in self.results))}

    def summary(self, fmt: str) -> str:
        """The summary as ``optbench compare --format FMT`` prints it (``json``, ``csv`` or ``markdown``)."""
        from optbench.report.export import summary

        return summary(self.analysis, fmt)

    def to_json(self) -> str:
        return self.summary("json")

    def to_markdown(self) -> str:
        return self.summary("markdown")

    def to_csv(self) -> str:
        return self.summary("csv")

    def print(self, console: Any = None) -> None:
        """The rich tables of ``optbench compare``, on ``console`` (default: stdout)."""
        from rich.console import Console

        from optbench.report.terminal import print_comparison

        print_comparison(console or Console(), self.analysis)

    def write_report(self, out_dir: str | Path, *, title: str | None = None) -> Path:
        """The HTML and Markdown report of ``optbench compare --report DIR``; returns the HTML file."""
        from optbench.report.document import write_report

        return write_report(self.analysis, str(out_dir), title=title or f"optbench run {self.run_id}")


@dataclass(frozen=True)
class StudyResult:
    """One study: its tasks' results and its analysis (the payload ``optbench study --format json`` prints)."""

    name: str
    run_id: int
    store: str
    payload: dict[str, Any]
    results: tuple[TrialResult, ...] = field(repr=False)

    @property
    def tables(self) -> list[dict[str, Any]]:
        return list(self.payload.get("tables", []))

    @property
    def findings(self) -> list[str]:
        return list(self.payload.get("findings", []))

    def records(self) -> list[dict[str, Any]]:
        return [result.to_json() for result in self.results]

    def to_json(self) -> str:
        from optbench.studies.render import to_json

        return to_json(self.payload)

    def to_markdown(self) -> str:
        from optbench.studies.render import to_markdown

        return to_markdown(self.payload)


@contextmanager
def _store_path(store: str | Path | None) -> Iterator[str]:
    """``store``, or a temporary store that is removed afterwards."""
    if store is not None:
        yield str(store)
        return
    with tempfile.TemporaryDirectory(prefix="optbench-") as folder:
        yield str(Path(folder) / "optbench.sqlite")


def _seed_list(seeds: int | Sequence[int] | None, what: str) -> list[int] | None:
    if seeds is None:
        return None
    if isinstance(seeds, bool) or not isinstance(seeds, int | Sequence):
        raise ConfigError(f"{what} must be a count or a list of integers, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"{what}={seeds} must be at least 1 (a count), or pass a list such as [0, 3, 7]")
        return list(range(seeds))
    return [int(s) for s in seeds]


def _call(function: str, **arguments: Any) -> str:
    """How the run row records an API call: ``optbench.compare(problems=[...], seeds=5)``."""
    given = ", ".join(f"{key}={value!r}" for key, value in arguments.items() if value is not None)
    return f"optbench.{function}({given})"


def compare(problems: Sequence[str] | None = None, optimizers: Sequence[str] | None = None, *,
            suite: str | None = None, seeds: int | Sequence[int] | None = None,
            instances: int | Sequence[int] | None = None, budget: float | None = None,
            time_budget: float | None = None, device: str = "auto", dtype: str | None = None,
            store: str | Path | None = None, jobs: int = 1, executor: str | None = None, rerun: bool = False,
            taus: Sequence[float] | None = None, plugins: Sequence[str] = (), tuning: str | None = None,
            spaces: Sequence[str] = ()) -> ComparisonResult:
    """Run every optimizer on every problem for every seed, as ``optbench compare`` does.

    Args:
        problems: ``name(key=value)`` strings, e.g. ``["rastrigin(dim=20)", "sphere"]`` (default: the suite's).
        optimizers: likewise, e.g. ``["adam(lr=0.01)", "cmaes"]`` (default: the suite's).
        suite: a suite name or ``.toml`` file supplying every default (default: ``quick``).
        seeds: a count (``5`` = seeds 0..4) or a list of seeds.
        instances: problem instances (data, shifts), a count or a list.
        budget: evaluations per trial (cost units), for every problem; time_budget: seconds per trial.
        device: ``cpu``, ``cuda``, ``cuda:N``, ``auto`` or a list such as ``"cpu,cuda"``.
        dtype: ``float32`` or ``float64`` for every trial (default: each problem's own).
        store: the SQLite file that keeps results (reopening it resumes); ``None``: a temporary one.
        jobs: trials in parallel; executor: ``inline``, ``process`` or ``dask`` (as ``--executor``).
        rerun: run every trial again, even those in the store.
        taus: Moré–Wild tolerances of the analysis.
        plugins: ``.py`` files or modules to load first (and in every worker).
        tuning: a ruleset, ``none``, ``random:K``, ``optuna:SAMPLER:K`` or ``self:K`` (default: the suite's, else none).
        spaces: search spaces replacing the optimizers' own, e.g. ``["adam(lr=loguniform(1e-5, 1))"]``.

    Raises:
        ConfigError: any mistake in the grid, found before the store is touched.
    """
    from optbench.campaign.grid import build_specs, suite_grid
    from optbench.campaign.run import run_campaign
    from optbench.plugins import load_plugins, plugin_specs
    from optbench.runners.executors import make_executor
    from optbench.store import Store
    from optbench.store.paths import check_store_path

    load_plugins(list(plugins))
    specs = build_specs(suite_grid(suite=suite, problems=problems, optimizers=optimizers,
                                   seeds=_seed_list(seeds, "seeds"), instances=_seed_list(instances, "instances"),
                                   device=device, budget=budget, time_budget=time_budget, dtype=dtype))
    from optbench.tuning.campaign import tuned

    campaign = tuned(specs, tuning=tuning, spaces=spaces, suite=suite)
    command = _call("compare", problems=problems, optimizers=optimizers, suite=suite, seeds=seeds,
                    instances=instances, budget=budget, time_budget=time_budget, device=device, dtype=dtype,
                    tuning=tuning, spaces=list(spaces) or None)
    with _store_path(store) as path:
        check_store_path(Path(path))
        runner = make_executor(jobs=jobs, kind=executor, plugins=plugin_specs(list(plugins)))
        with Store(path) as db:
            run_id = db.add_run(command, campaign.first() if campaign else specs)
            if campaign is None:
                ran = run_campaign(specs, db, executor=runner, rerun=rerun)
            else:
                ran = campaign.run(db, executor=runner, rerun=rerun, on_specs=lambda more: db.extend_run(run_id, more))
            results = tuple(db.results(db.run(run_id)[1]))
    return ComparisonResult(run_id=run_id, store="" if store is None else str(store), results=results,
                            ran=len(ran), taus=None if taus is None else tuple(taus))


def finish_study(study: Any, store: Any, run_id: int, specs: Sequence[TrialSpec]) -> tuple[dict[str, Any], list]:
    """The study's analysis of its stored tasks, saved with the run: ``(payload, results)``.

    Raises:
        ConfigError: some tasks are still being run by another process on the same store.
    """
    results = store.results(s.key for s in specs)
    missing = len(specs) - len(results)
    if missing:
        raise ConfigError(f"{missing} of {len(specs)} tasks are being run by another optbench process on "
                          f"{store.path}; run the command again when it is done")
    data = study.analyze(results)
    data["question"] = study.question
    store.save_analysis(run_id, study.name, data)
    return data, results


def study_options(cls: Any, *, problem: str | None, optimizer: str | None, seeds: int | None, device: str,
                  quick: bool, extra: dict[str, Any], store: str) -> Any:
    """The :class:`~optbench.studies.base.StudyOptions` of a study run: the study's defaults where not given."""
    from optbench.runners.devices import resolve_devices
    from optbench.studies.base import StudyOptions

    devices = resolve_devices(device)
    if len(devices) != 1:
        raise ConfigError("--device takes one device for a study (e.g. cpu or cuda)")
    extra = {**extra, "store_path": store}  # a study may read an earlier run of the same store (landscape --from-run)
    return StudyOptions(problem=problem or cls.default_problem, optimizer=optimizer or cls.default_optimizer,
                        seeds=seeds or (cls.quick_seeds if quick else cls.default_seeds), device=devices[0],
                        quick=quick, extra=extra)


def study_flags(cls: Any) -> set[str]:
    """The study's own options by name (the dest of each flag its ``add_arguments`` declares)."""
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    cls.add_arguments(parser)
    return {action.dest for action in parser._actions}  # argparse lists a parser's options only here


def study(name: str, *, problem: str | None = None, optimizer: str | None = None, seeds: int | None = None,
          quick: bool = False, device: str = "cpu", store: str | Path | None = None, jobs: int = 1,
          executor: str | None = None, rerun: bool = False, plugins: Sequence[str] = (),
          **options: Any) -> StudyResult:
    """Run the study ``name`` as ``optbench study NAME`` does; ``options`` are its own flags by name
    (``optbench study NAME --help`` lists them; ``--max-sparsity`` is ``max_sparsity=``).

    Raises:
        ConfigError: an unknown study or option, or a bad value, found before the store is touched.
    """
    from optbench.campaign.run import run_campaign
    from optbench.plugins import load_plugins, plugin_specs
    from optbench.registry import study_class
    from optbench.runners.executors import make_executor
    from optbench.store import Store
    from optbench.store.paths import check_store_path

    load_plugins(list(plugins))
    cls = study_class(name)
    own = study_flags(cls)
    unknown = sorted(set(options) - own)
    if unknown:
        raise ConfigError(f"study {name} has no option {unknown[0]!r}; its options: {', '.join(sorted(own)) or 'none'}")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ConfigError(f"seeds={seeds!r} must be an integer >= 1 (seeds per setting)")
    with _store_path(store) as path:
        check_store_path(Path(path))
        instance = cls(study_options(cls, problem=problem, optimizer=optimizer, seeds=seeds, device=device,
                                     quick=quick, extra=dict(options), store=path))
        specs = instance.tasks()
        runner = make_executor(jobs=jobs, kind=executor, plugins=plugin_specs(list(plugins)))
        command = _call("study", name=name, problem=problem, optimizer=optimizer, seeds=seeds, quick=quick or None,
                        device=device, **options)
        with Store(path) as db:
            run_id = db.add_run(command, specs)
            run_campaign(specs, db, executor=runner, rerun=rerun)
            payload, results = finish_study(instance, db, run_id, specs)
    return StudyResult(name=name, run_id=run_id, store="" if store is None else str(store), payload=payload,
                       results=tuple(results))
