"""Named suites: TOML files in ``optbench/problems/suites`` or any path a user passes.

A suite names its problems, optimizers, seeds, instances and a budget. A problem entry is a
string (``"rastrigin(dim=20)"``) or, where one problem needs its own budget (a training run
counts epochs, a hash counts guesses), a table::

    problems = ["sphere", { problem = "digits(hidden=32)", budget = 50 }]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from optbench.api import Budget, ConfigError

_KEYS = {"description", "seeds", "instances", "budget", "time_budget", "optimizers", "problems", "tuning", "spaces"}
MAX_COUNT = 10_000  # seeds or instances of one suite, as on the command line


@dataclass(frozen=True)
class Suite:
    """A suite as written in its file; the command line may override any field."""

    name: str
    description: str
    problems: tuple[str, ...]
    optimizers: tuple[str, ...]
    seeds: tuple[int, ...]
    instances: tuple[int, ...]
    budget: float | None
    time_budget: float | None
    budgets: dict[str, Budget] = field(default_factory=dict)  # per-problem overrides, keyed by entry
    source: str = ""  # how errors name it: the file's path, or "suite quick"
    tuning: str | None = None  # the ruleset `--tuning` defaults to (checked where it is used)
    spaces: tuple[str, ...] = ()  # `--space` entries: search spaces that replace the optimizers' own


def suite_names() -> list[str]:
    folder = resources.files("optbench.problems") / "suites"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read suite file {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                              "save the suite file as UTF-8") from None
    resource = resources.files("optbench.problems") / "suites" / f"{name_or_path}.toml"
    if not resource.is_file():
        known = ", ".join(suite_names())
        raise ConfigError(f"unknown suite {name_or_path!r}; known suites: {known} (or pass a .toml file)")
    return f"suite {name_or_path}", resource.read_text(encoding="utf-8")


def _int_list(value: Any, key: str, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_COUNT:
            raise ConfigError(f"{where}: {key} must be a count from 1 to {MAX_COUNT}, got {value}")
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        bad = next((v for v in value if not 0 <= v < 2**63), None)
        if bad is not None:
            raise ConfigError(f"{where}: {key} must hold integers >= 0 (below 2**63), got {bad} in {value!r}")
        if len(value) > MAX_COUNT:
            raise ConfigError(f"{where}: {key} may list at most {MAX_COUNT} values, got {len(value)}")
        return tuple(value)
    raise ConfigError(f"{where}: {key} must be a count or a non-empty list of integers, got {value!r}")


def _str_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: {key} must be a non-empty list of strings like \"adam(lr=0.01)\"")


def _problems(value: Any, where: str) -> tuple[tuple[str, ...], dict[str, Budget]]:
    """Problem entries and the budgets of those that carry their own."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: problems must be a non-empty list of strings like \"rastrigin(dim=20)\"")
    names: list[str] = []
    budgets: dict[str, Budget] = {}
    for entry in value:
        if isinstance(entry, str):
            names.append(entry)
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("problem"), str):
            raise ConfigError(f"{where}: a problem entry is a string or a table with a 'problem' string, "
                              f"got {entry!r}")
        unknown = sorted(set(entry) - {"problem", "budget", "time_budget"})
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} in the entry for {entry['problem']!r}; "
                              "valid keys: problem, budget, time_budget")
        evaluations = _number(entry.get("budget"), "budget", where)
        seconds = _number(entry.get("time_budget"), "time_budget", where)
        if evaluations is None and seconds is None:
            raise ConfigError(f"{where}: the entry for {entry['problem']!r} needs a budget or a time_budget")
        names.append(entry["problem"])
        budgets[entry["problem"]] = Budget(evaluations=evaluations, seconds=seconds)
    return tuple(names), budgets


def _number(value: Any, key: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ConfigError(f"{where}: {key} must be a positive number, got {value!r}")


def load_suite(name_or_path: str) -> Suite:
    """Load a suite by name (``quick``) or path (``my_suite.toml``); errors name file and line."""
    where, text = _read(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: malformed TOML: {exc}") from None
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(_KEYS))}")
    for required in ("problems", "optimizers"):
        if required not in data:
            raise ConfigError(f"{where}: missing the {required!r} list")
    budget = _number(data.get("budget"), "budget", where)
    time_budget = _number(data.get("time_budget"), "time_budget", where)
    if budget is None and time_budget is None:
        raise ConfigError(f"{where}: needs a budget (evaluations) or a time_budget (seconds)")
    problems, budgets = _problems(data["problems"], where)
    return Suite(
        name=Path(name_or_path).stem,
        description=str(data.get("description", "")),
        problems=problems,
        budgets=budgets,
        optimizers=_str_list(data["optimizers"], "optimizers", where),
        seeds=_int_list(data.get("seeds", 3), "seeds", where),
        instances=_int_list(data.get("instances", [0]), "instances", where),
        budget=budget,
        time_budget=time_budget,
        source=where,
        tuning=None if data.get("tuning") is None else _text(data["tuning"], "tuning", where),
        spaces=_str_list(data["spaces"], "spaces", where) if "spaces" in data else (),
    )


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string such as \"random:8\", got {value!r}")
    return value
