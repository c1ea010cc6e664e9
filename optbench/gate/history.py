"""Quality and speed across commits: a history of runs and the step changes between neighbouring commits.

``optbench check --history FILE`` and ``optbench baseline save --history FILE`` append one entry (a JSON
line) to the history: every trial's final outcome (raw, per seed, no trace), the git commit the working
tree was at (when inside a repository, with whether it had uncommitted changes), the machine fingerprint
and the date. ``optbench history`` reads it back as a timeline per machine, like airspeed velocity keeps
results per machine: timings are only comparable on one machine; quality would be anywhere, but one
timeline keeps both on the same commits.

Between every two neighbouring commits of a timeline, each (problem, optimizer, device) cell is judged
with exactly the tests of ``optbench check`` (:func:`optbench.gate.check.check`): a one-sided Wilcoxon
signed-rank test on the per-seed difference of the final gaps (Mann–Whitney U when the seeds differ),
Holm-corrected across the cells of that pair of commits, plus the minimum effect; the time ratio with
its bootstrap interval against the tolerance. Improvements are the same tests with the commits swapped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optbench.api import ConfigError, TrialResult

log = logging.getLogger(__name__)

SCHEMA = "optbench.history/1"
DEFAULT_HISTORY = "reports/history.jsonl"


def git_state(cwd: str | Path = ".") -> dict[str, Any] | None:
    """The commit checked out in ``cwd``: sha, commit time, depth, subject, branch, uncommitted changes.

    ``None`` outside a git repository (or without git). ``depth`` (commits reachable from HEAD) orders
    a linear history even when commits share a timestamp.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        stamp, subject = git("log", "-1", "--format=%ct%x00%s").split("\x00", 1)
        depth = int(git("rev-list", "--count", "HEAD"))
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None
    return {"commit": sha, "time": int(stamp), "depth": depth, "subject": subject, "branch": branch, "dirty": dirty}


def machine_id(fingerprint: dict[str, Any]) -> str:
    """A short stable id of what makes timings comparable (the keys that
    :func:`optbench.gate.check.comparable_machines` uses)."""
    keys = ("cpu", "cores", "machine", "system", "torch", "gpu")
    text = json.dumps({k: fingerprint.get(k) for k in keys}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def record(results: Sequence[TrialResult], path: str | Path, *, source: str, command: str,
           git: dict[str, Any] | None = None, fingerprint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Append one entry for ``results`` to the history file at ``path`` (created with its folder).

    Args:
        git: the commit the results belong to; by default the one checked out in the current folder.
        fingerprint: the machine; by default this one.

    Returns:
        The entry written.
    """
    from optbench.gate.baseline import fingerprint as this_machine
    from optbench.gate.baseline import slim_result

    fp = fingerprint if fingerprint is not None else this_machine()
    entry = {"schema": SCHEMA, "recorded": time.time(), "source": source, "command": command,
             "git": git if git is not None else git_state(), "fingerprint": fp, "machine": machine_id(fp),
             "trials": [slim_result(r) for r in results]}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True, allow_nan=True) + "\n")
    return entry


def load(path: str | Path) -> list[dict[str, Any]]:
    """Every entry of a history file, in the order recorded; :class:`ConfigError` naming a bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no history at {path}; record one with `optbench check --history {path}` "
                          f"or `optbench baseline save --history {path}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a readable history: {exc}") from None
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number} is not JSON ({exc.msg}); each line of a history is one entry") from None
        if not isinstance(entry, dict) or entry.get("schema") != SCHEMA:
            found = entry.get("schema") if isinstance(entry, dict) else None
            raise ConfigError(f"{path}:{number} is not an entry of schema {SCHEMA} (found {found!r})")
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Version:
    """One commit on one machine: the trials of every entry recorded for it (later runs of a seed win)."""

    label: str  # short sha, "+" when the working tree had uncommitted changes; the date outside a repository
    commit: str | None
    subject: str
    commit_time: float | None
    recorded: float
    machine: str
    fingerprint: dict[str, Any]
    results: tuple[TrialResult, ...]


def _order(entry: dict[str, Any]) -> tuple:
    g = entry.get("git") or {}
    return (g.get("depth", math.inf), g.get("time", math.inf), entry["recorded"])


def versions(entries: Sequence[dict[str, Any]], *, machine: str) -> list[Version]:
    """The timeline of one machine: one :class:`Version` per commit (and dirty state), in commit order."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for e in sorted((e for e in entries if e.get("machine") == machine), key=_order):
        g = e.get("git") or {}
        # without git every entry is its own version (nothing says two runs saw the same code)
        groups[(g.get("commit"), bool(g.get("dirty"))) if g.get("commit") else (None, e["recorded"])].append(e)
    out = []
    for (commit, dirty), group in groups.items():
        merged: dict[tuple, TrialResult] = {}
        for e in group:
            for t in e["trials"]:
                r = TrialResult.from_json(t)
                merged[(r.spec.problem_label, r.spec.optimizer_label, r.spec.lane, r.spec.seed, r.spec.instance)] = r
        g = group[-1].get("git") or {}
        label = (commit[:8] + ("+" if dirty else "")) if commit else time.strftime(
            "%Y-%m-%d %H:%M:%S", time.gmtime(group[-1]["recorded"]))
        out.append((_order(group[-1]), Version(label, commit, g.get("subject", ""), g.get("time"),
                                               group[-1]["recorded"], machine, group[-1]["fingerprint"],
                                               tuple(merged.values()))))
    return [v for _, v in sorted(out, key=lambda item: item[0])]


def default_machine(entries: Sequence[dict[str, Any]], here: str | None) -> str:
    """This machine when it has entries, else the machine of the latest entry."""
    machines = [e.get("machine") for e in entries]
    if here is not None and here in machines:
        return here
    return max(entries, key=lambda e: e["recorded"])["machine"]


@dataclass(frozen=True)
class Point:
    """One cell at one version, and the step from the previous version that has the cell."""

    version: str
    n: int
    quality: float | None  # median final gap (or value)
    quality_ci: tuple[float, float] | None  # bootstrap 95% interval of the median
    seconds: float | None
    seconds_ci: tuple[float, float] | None
    quality_step: str | None = None  # worse, better, failing (against the previous version)
    speed_step: str | None = None  # slower, faster
    p_holm: float | None = None
    speed_ratio: float | None = None
    speed_ratio_ci: tuple[float, float] | None = None

    @property
    def regressed(self) -> bool:
        return self.quality_step in ("worse", "failing") or self.speed_step == "slower"


def median_ci(values: Sequence[float], *, seed: int = 0) -> tuple[float, tuple[float, float] | None]:
    """Median and its percentile-bootstrap 95% interval (deterministic); no interval below 2 values."""
    arr = np.asarray(values, dtype=np.float64)
    arr = np.where(np.isnan(arr), np.inf, arr)
    median = float(np.median(arr))
    if arr.size < 2:
        return median, None
    rng = np.random.default_rng(seed)
    medians = np.median(arr[rng.integers(0, arr.size, (2000, arr.size))], axis=1)
    low, high = np.quantile(medians, [0.025, 0.975])
    return median, (float(low), float(high))


Cell = tuple[str, str, str]  # problem, optimizer, device


@dataclass(frozen=True)
class Timeline:
    """Every cell of one machine's history across its versions."""

    machine: str
    versions: tuple[Version, ...]
    cells: dict[Cell, list[Point]]  # one point per version that has the cell, in version order
    other_machines: dict[str, int]  # machine -> entries, for the note

    @property
    def marked(self) -> dict[str, list[tuple[Cell, Point]]]:
        """Version label -> the cells with a significant step there."""
        out: dict[str, list[tuple[Cell, Point]]] = defaultdict(list)
        for cell, points in self.cells.items():
            for p in points:
                if p.quality_step or p.speed_step:
                    out[p.version].append((cell, p))
        return dict(out)


def timeline(entries: Sequence[dict[str, Any]], *, machine: str, alpha: float = 0.05, min_effect: float = 0.1,
             tolerance: float = 0.1, min_time: float = 0.01) -> Timeline:
    """Medians with intervals per cell and version, and the steps between neighbouring versions."""
    from optbench.gate.baseline import Baseline
    from optbench.gate.check import cell_key, check, score

    vs = versions(entries, machine=machine)
    cells: dict[Cell, list[Point]] = defaultdict(list)
    previous: Version | None = None
    for v in vs:
        steps: dict[Cell, dict[str, Any]] = defaultdict(dict)
        if previous is not None:
            kwargs = {"alpha": alpha, "min_effect": min_effect, "tolerance": tolerance, "time_scale": 1.0,
                      "min_time": min_time}
            before = Baseline(previous.recorded, "", previous.fingerprint, {}, 0.0, previous.results)
            after = Baseline(v.recorded, "", v.fingerprint, {}, 0.0, v.results)
            for c in check(before, v.results, **kwargs):
                key = (c.problem, c.optimizer, c.device)
                steps[key]["p_holm"] = c.p_holm
                steps[key]["speed_ratio"], steps[key]["speed_ratio_ci"] = c.speed_ratio, c.speed_ci
                if c.quality in ("worse", "failing"):
                    steps[key]["quality_step"] = c.quality
                if c.speed == "slower":
                    steps[key]["speed_step"] = "slower"
            for c in check(after, previous.results, **kwargs):  # the same tests, the other way round
                key = (c.problem, c.optimizer, c.device)
                if c.quality == "worse" and "quality_step" not in steps[key]:
                    steps[key]["quality_step"] = "better"
                    steps[key]["p_holm"] = c.p_holm
                if c.speed == "slower" and "speed_step" not in steps[key]:
                    steps[key]["speed_step"] = "faster"
        grouped: dict[Cell, list[TrialResult]] = defaultdict(list)
        for r in v.results:
            grouped[cell_key(r)].append(r)
        for key, rs in grouped.items():
            useful = [r for r in rs if r.state.has_result]
            quality = median_ci([score(r) for r in useful]) if useful else (None, None)
            speed = median_ci([r.seconds for r in useful]) if useful else (None, None)
            cells[key].append(Point(v.label, len(useful), quality[0], quality[1], speed[0], speed[1],
                                    **steps.get(key, {})))
        previous = v
    counts: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.get("machine") != machine:
            counts[e.get("machine", "?")] += 1
    return Timeline(machine, tuple(vs), dict(cells), dict(counts))
