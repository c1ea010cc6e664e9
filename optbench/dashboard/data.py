"""What each page of the dashboard shows, as JSON-ready dicts, read from the store alone.

The numbers are those of the command line: a run's comparison is
:func:`optbench.analysis.analyze` of its stored results and its summary is the very text
``optbench report --format json`` prints (:func:`optbench.report.export.summary`); two runs are
compared by :func:`optbench.gate.check.check`, the history by :func:`optbench.gate.history.timeline`
and :func:`optbench.report.history.to_json`, a study by its stored payload and its own figures.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from optbench.api import ConfigError, TrialResult
from optbench.dashboard.readonly import ReadOnlyStore

FILTERS = ("problem", "optimizer", "device", "dtype", "ruleset")
STATES = ("complete", "failed", "timeout", "crashed", "skipped", "running")
GATE_DEFAULTS = {"alpha": 0.05, "min_effect": 0.1, "tolerance": 0.1, "min_time": 0.01}  # `optbench check`'s


def changes(store: ReadOnlyStore) -> str:
    """A token that changes whenever a trial, a run or an analysis is written (what the pages poll)."""
    def read(db: sqlite3.Connection) -> str:
        trials = db.execute("SELECT COUNT(*), MAX(updated_at), SUM(state = 'running') FROM trials").fetchone()
        runs = db.execute("SELECT COUNT(*), MAX(id) FROM runs").fetchone()
        analyses = db.execute("SELECT COUNT(*), MAX(created_at) FROM analyses").fetchone()
        return json.dumps([*trials, *runs, *analyses])
    return store.read(read)


def overview(store: ReadOnlyStore) -> dict[str, Any]:
    """Every run, newest first: command, date, machines, state and trial counts by state."""
    def read(db: sqlite3.Connection) -> dict[str, Any]:
        rows = db.execute("SELECT key, state, result IS NOT NULL, json_extract(result, '$.device_name')"
                          " FROM trials").fetchall()
        runs = db.execute("SELECT id, created_at, command, keys FROM runs ORDER BY id DESC").fetchall()
        studies = dict(db.execute("SELECT run_id, study FROM analyses").fetchall())
        return {"rows": rows, "runs": runs, "studies": studies}

    got = read_or_refuse(store, read)
    trials = {key: (state, has_result, machine) for key, state, has_result, machine in got["rows"]}
    out = []
    for run_id, created, command, keys_text in got["runs"]:
        keys = json.loads(keys_text)
        counts: Counter[str] = Counter()
        machines: Counter[str] = Counter()
        with_result = 0
        for key in keys:
            found = trials.get(key)
            if found is None:
                continue
            counts[found[0]] += 1
            with_result += bool(found[1])
            if found[2]:
                machines[found[2]] += 1
        never = len(keys) - with_result  # as `optbench report` counts a partial run: no stored result
        out.append({"id": run_id, "created": created, "command": command, "trials": len(keys),
                    "counts": {s: counts.get(s, 0) for s in STATES}, "never_ran": never,
                    "state": "complete" if never == 0 else "partial",
                    "study": got["studies"].get(run_id), "machines": [m for m, _ in machines.most_common()]})
    return {"store": str(store.path), "runs": out, "trials": len(trials)}


def read_or_refuse(store: ReadOnlyStore, fn: Any) -> Any:
    """``store.read(fn)``, with SQLite's errors as one :class:`ConfigError` line."""
    try:
        return store.read(fn)
    except sqlite3.Error as exc:
        raise ConfigError(f"the store {store.path} could not be read ({exc})") from None


def run_results(store: ReadOnlyStore, run_id: int) -> tuple[dict[str, Any], list[TrialResult]]:
    """A run's row (id, date, command, keys, study) and its stored results, in the run's key order."""
    def read(db: sqlite3.Connection) -> tuple[Any, list[tuple[str, str]], Any]:
        row = db.execute("SELECT id, created_at, command, keys FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None, [], None
        keys = json.loads(row[3])
        found: list[tuple[str, str]] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start: start + 500]
            found += db.execute("SELECT key, result FROM trials WHERE result IS NOT NULL AND key IN "
                                f"({','.join('?' * len(chunk))})", chunk).fetchall()
        study = db.execute("SELECT study, payload FROM analyses WHERE run_id = ?", (run_id,)).fetchone()
        return row, found, study

    row, found, study = read_or_refuse(store, read)
    if row is None:
        raise LookupError(f"no run {run_id} in {store.path}")
    keys = json.loads(row[3])
    by_key = dict(found)
    results = [TrialResult.from_json(json.loads(by_key[k])) for k in keys if k in by_key]
    meta = {"id": row[0], "created": row[1], "command": row[2], "trials": len(keys),
            "never_ran": len(keys) - len(results), "study": study[0] if study else None,
            "payload": json.loads(study[1]) if study else None}
    return meta, results


def _choices(results: Sequence[TrialResult]) -> dict[str, list[str]]:
    values: dict[str, dict[str, None]] = {f: {} for f in FILTERS}
    for r in results:
        if r.spec.task:
            continue
        for name, value in zip(FILTERS, _facets(r), strict=True):
            values[name][value] = None
    return {name: list(found) for name, found in values.items()}


def _facets(r: TrialResult) -> tuple[str, str, str, str, str]:
    s = r.spec
    return s.problem_label, s.optimizer_label, s.device, s.dtype, s.ruleset


def select(results: Sequence[TrialResult], chosen: Mapping[str, Sequence[str]]) -> list[TrialResult]:
    """The results whose problem, optimizer, device, dtype and ruleset are among those chosen (all where
    a filter chose nothing); tuning trials stay while any tuned ruleset is chosen."""
    wanted = {f: set(chosen.get(f, ())) for f in FILTERS}
    keep_tuning = not wanted["ruleset"] or any(wanted["ruleset"] - {""})
    out = []
    for r in results:
        if r.spec.task:
            if keep_tuning:
                out.append(r)
            continue
        if all(not wanted[f] or value in wanted[f] for f, value in zip(FILTERS, _facets(r), strict=True)):
            out.append(r)
    return out


def comparison_view(results: Sequence[TrialResult], chosen: Mapping[str, Sequence[str]],
                    taus: Sequence[float] | None = None) -> dict[str, Any]:
    """The run's comparison over the chosen results: the CLI's JSON summary, the tables' layout, the plots."""
    from optbench.analysis import analyze
    from optbench.analysis.stats import notes, table_order
    from optbench.dashboard.series import plots
    from optbench.report.export import summary

    picked = select(results, chosen)
    if not [r for r in picked if not r.spec.task]:
        return {"summary": None, "choices": _choices(results), "empty": True}
    analysis = analyze(picked, taus=taus)
    text = summary(analysis, "json")  # the very document `optbench report --format json` prints
    doc = json.loads(text)
    index = {(c["problem"], c["device"] + (f" {c['dtype']}" if c["dtype"] else ""), c["optimizer"]): i
             for i, c in enumerate(doc["cells"])}
    problems = []
    for problem, group in analysis.by_problem.items():
        problems.append({
            "problem": problem,
            "rows": [index[(c.problem, c.device, c.optimizer)] for c in table_order(group)],
            "notes": notes(group, show_device=analysis.show_device),
        })
    standings = [asdict(s) for s in analysis.standings]
    return {"summary": doc, "problems": problems, "standings": standings, "show_device": analysis.show_device,
            "resolution_warning": analysis.resolution_warning, "plots": plots(analysis),
            "choices": _choices(results), "empty": False,
            "failures": [{"problem": r.spec.problem_label, "optimizer": r.spec.optimizer_label, "seed": r.spec.seed,
                          "state": str(r.state), "reason": (r.reason or "").strip().splitlines()[-1:]}
                         for r in picked if r.state.is_failure]}


def study_view(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A study's stored payload and its figures, drawn by the study's own code from the payload alone."""
    payload = meta["payload"]
    figures: list[dict[str, str]] = []
    problem = None
    try:
        from optbench.registry import study_class

        figures = [{"name": f.name, "caption": f.caption, "png": base64.b64encode(f.png).decode("ascii")}
                   for f in study_class(payload["study"]).figures(payload)]
    except (ConfigError, KeyError, TypeError, ValueError) as exc:  # a payload this optbench cannot draw
        problem = f"the figures of study {payload.get('study')!r} could not be drawn ({type(exc).__name__}: {exc})"
    return {"payload": payload, "figures": figures, "figure_problem": problem}


def diff_view(base: Sequence[TrialResult], cand: Sequence[TrialResult],
              settings: Mapping[str, float]) -> dict[str, Any]:
    """Run ``cand`` against run ``base`` with the tests of ``optbench check`` (quality; speed on one machine)."""
    from optbench.gate.baseline import Baseline
    from optbench.gate.check import check

    machines = [sorted({r.device_name for r in rs if r.device_name}) for rs in (base, cand)]
    same_machine = machines[0] == machines[1]
    baseline = Baseline(0.0, "", {}, {}, 0.0, tuple(r for r in base if not r.spec.task))
    cells = check(baseline, [r for r in cand if not r.spec.task], time_scale=1.0 if same_machine else None,
                  **settings)
    regressed = [c for c in cells if c.regressed]
    return {"cells": [{**asdict(c), "regressed": c.regressed} for c in cells], "settings": dict(settings),
            "verdict": "regression" if regressed else "no regression", "regressed": len(regressed),
            "timings_compared": same_machine, "machines": machines}


def history_view(path: Path, machine: str | None) -> dict[str, Any]:
    """The timeline of ``path`` (``optbench history --format json``), or why there is none."""
    from optbench.gate.baseline import fingerprint
    from optbench.gate.history import default_machine, load, machine_id, timeline
    from optbench.report.history import to_json

    if not path.is_file():
        return {"timeline": None, "note": f"no history at {path}; `optbench check --history` records one"}
    entries = load(path)
    if not entries:
        return {"timeline": None, "note": f"{path} holds no entries yet"}
    machines = sorted({str(e.get("machine")) for e in entries})
    chosen = machine if machine in machines else default_machine(entries, machine_id(fingerprint()))
    return {"timeline": json.loads(to_json(timeline(entries, machine=chosen, **GATE_DEFAULTS))),
            "machines": machines, "note": None}
