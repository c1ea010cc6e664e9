"""Discovery through entry points: problems, optimizers, optimizer bridges, studies and task kinds.

Built-ins register through the same entry points as plugins (see ``pyproject.toml``); there
is no private path and no hand-kept table. Nothing is imported until a name is used, and a
plugin that fails to import is reported with its reason instead of breaking the others. Plugin
files loaded with ``--plugin`` add to the same tables (:mod:`optbench.plugins`).

Groups:

- ``optbench.problems``: :class:`~optbench.api.Problem` subclasses by family name;
- ``optbench.optimizers``: :class:`~optbench.api.Optimizer` subclasses by name;
- ``optbench.bridges``: a prefix (``ng``) and the optimizer class that runs a whole library's
  optimizers (``ng:CMA``) through ``from_call(target, params)``;
- ``optbench.studies``: the studies of ``optbench study``;
- ``optbench.tasks``: task kinds, each with ``run_task(spec) -> TrialResult`` (:attr:`TrialSpec.task`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from optbench.api import ConfigError, Optimizer, Problem
from optbench.params import checked_params, split_dtype, torch_dtype, without_defaults

PROBLEMS = "optbench.problems"
OPTIMIZERS = "optbench.optimizers"
BRIDGES = "optbench.bridges"
STUDIES = "optbench.studies"
TASKS = "optbench.tasks"
DISABLE_AUTOLOAD_ENV = "OPTBENCH_DISABLE_PLUGIN_AUTOLOAD"

# group -> name -> (object, source): what plugin files registered (:func:`register`)
LOCAL: dict[str, dict[str, tuple[Any, str]]] = {PROBLEMS: {}, OPTIMIZERS: {}}


def autoload_disabled() -> bool:
    """``OPTBENCH_DISABLE_PLUGIN_AUTOLOAD``: 1/true/yes/on, or 0/false/no/off/unset; anything else is refused."""
    value = os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"", "0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{DISABLE_AUTOLOAD_ENV}={value!r} is neither on (1, true, yes, on) nor off (0, false, no, off)")


def register(group: str, name: str, obj: Any, *, source: str) -> None:
    """Add ``obj`` to ``group`` as ``name`` (from a plugin file); the same name twice is an error."""
    current = LOCAL.setdefault(group, {}).get(name)
    if current is not None and current[0] is not obj:
        raise ConfigError(f"{group} name {name!r} is registered twice: by {current[1]} and by {source}")
    LOCAL[group][name] = (obj, source)
    _collect.cache_clear()


@dataclass(frozen=True)
class Entry:
    """One registered name: where it comes from and how to load it."""

    name: str
    group: str
    value: str  # "module:attr", or the plugin file for local registrations
    distribution: str
    version: str
    loader: Callable[[], Any] = field(compare=False, repr=False)

    def load(self) -> Any:
        """The registered object, imported on first use and kept (every trial looks up its problem and optimizer)."""
        return self._loaded

    @cached_property
    def _loaded(self) -> Any:  # an error is not kept: the next load tries again, and says why again
        try:
            return self.loader()
        except ConfigError:
            raise
        except Exception as exc:  # a broken plugin is a reason, not a crash
            last = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
            raise ConfigError(
                f"{self.group} plugin {self.name!r} from {self.distribution} {self.version} "
                f"failed to import: {type(exc).__name__}: {last[0]}"
            ) from exc


def _from_entry_point(group: str, ep: EntryPoint) -> Entry:
    dist = ep.dist
    return Entry(
        name=ep.name,
        group=group,
        value=ep.value,
        distribution=dist.name if dist else "?",
        version=dist.version if dist else "?",
        loader=ep.load,
    )


@cache
def _collect(group: str) -> dict[str, Entry]:
    """The names of ``group``: installed entry points, then plugin files' registrations."""
    found: dict[str, Entry] = {}
    candidates = [_from_entry_point(group, ep) for ep in entry_points(group=group)]
    if autoload_disabled():
        candidates = [e for e in candidates if e.distribution == "optbench"]
    for name, (obj, source) in LOCAL.get(group, {}).items():
        candidates.append(Entry(name, group, source, source, "(local)", loader=lambda obj=obj: obj))
    for entry in candidates:
        other = found.get(entry.name)
        if other is not None and other.value != entry.value:
            message = (f"{group} name {entry.name!r} is registered twice: by {other.distribution} "
                       f"({other.value}) and by {entry.distribution} ({entry.value})")
            if entry.version == "(local)":  # a plugin file given on this command line: refuse the command
                raise ConfigError(message)
            # two installed packages: neither keeps the name (which would be a guess), every other name works
            found[entry.name] = Entry(entry.name, group, f"{other.value} | {entry.value}",
                                      f"{other.distribution} and {entry.distribution}", "(conflict)",
                                      loader=_refuse(message + "; uninstall one of them"))
            continue
        found[entry.name] = entry
    return found


def _refuse(message: str) -> Callable[[], Any]:
    def load() -> Any:
        raise ConfigError(message)

    return load


def entries(group: str) -> dict[str, Entry]:
    """All names registered in ``group``, sorted; a name claimed by two sources is an error naming both.

    Entry points of every installed distribution come first (only optbench's own when
    ``OPTBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set), then what loaded plugin files registered.
    """
    return dict(sorted(_collect(group).items()))


def clear_cache() -> None:
    """Forget what was discovered (after a plugin registered something, or in tests)."""
    _collect.cache_clear()


def _lookup(group: str, name: str, kind: str) -> Entry:
    table = entries(group)
    if name not in table:
        known = ", ".join(table) or "none installed"
        raise ConfigError(f"unknown {kind} {name!r}; known {kind}s: {known}")
    return table[name]


def problem_class(name: str) -> type[Problem]:
    return _lookup(PROBLEMS, name, "problem").load()


def optimizer_class(name: str) -> type[Optimizer]:
    return _lookup(OPTIMIZERS, name, "optimizer").load()


def task_kind(name: str) -> Any:
    """The task kind ``name`` (group ``optbench.tasks``): anything with ``run_task(spec) -> TrialResult``."""
    return _lookup(TASKS, name, "task kind").load()


def study_class(name: str) -> Any:
    """The study ``name`` (group ``optbench.studies``), imported now."""
    return _lookup(STUDIES, name, "study").load()


def canonical_params(kind: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The canonical parameters of a problem or optimizer call: type-checked, defaults dropped.

    ``rastrigin`` and ``rastrigin(rotate=False)`` (or ``sgd`` and ``sgd(lr=0.01)``, its default) are
    then one trial with one key, and ``ellipsoid(cond=100)`` is ``ellipsoid(cond=100.0)``. Bridges
    (``ng:CMA``) keep what was given, since their defaults are the library's.

    Args:
        kind: ``"problem"`` or ``"optimizer"``.
    """
    if kind == "optimizer" and ":" in name:
        return dict(params)
    cls = problem_class(name) if kind == "problem" else optimizer_class(name)
    return without_defaults(cls, checked_params(cls, name, params))


def make_problem(name: str, params: dict[str, Any], *, instance: int = 0, device: Any = "cpu",
                 dtype: str | None = None) -> Problem:
    """Construct a problem instance; bad parameters become a :class:`ConfigError`.

    Args:
        dtype: the precision to compute in (one of :data:`~optbench.api.DTYPES`); ``None``: the problem's own.
    """
    cls = problem_class(name)
    params, named = split_dtype(name, params)  # `rastrigin(dtype=float32)` given as a parameter
    params = checked_params(cls, name, params)
    dtype = named or dtype
    extra = {"dtype": torch_dtype(dtype)} if dtype else {}
    try:
        problem = cls(**params, instance=instance, device=device, **extra)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad parameters for problem {name}: {exc}") from exc
    optimum = problem.optimal_value
    if optimum is not None and (isinstance(optimum, bool) or not isinstance(optimum, int | float)):
        raise ConfigError(f"problem {name}: optimal_value must be a number or None, got {type(optimum).__name__} "
                          "(an optimum that depends on the parameters: @problem(optimal_value=lambda dim: ...))")
    return problem


def _bridge(prefix: str, target: str, params: dict[str, Any]) -> Optimizer:
    """``prefix:target`` through the bridge registered as ``prefix`` (group ``optbench.bridges``)."""
    bridges = entries(BRIDGES)
    if prefix not in bridges:
        raise ConfigError(f"unknown optimizer prefix {prefix!r}; known prefixes: {', '.join(bridges)}")
    cls = bridges[prefix].load()
    if not target:
        raise ConfigError(f"{prefix}: needs a name after the colon, e.g. {prefix}:{cls.example}")
    try:
        return cls.from_call(target, params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad hyperparameters for optimizer {prefix}:{target}: {exc}") from exc


def make_optimizer(name: str, params: dict[str, Any]) -> Optimizer:
    """Construct an optimizer; bad hyperparameters become a :class:`ConfigError`.

    ``name`` is a registered name (``adam``) or a bridge (``ng:CMA``, ``scipy:Powell``,
    ``torch:AdamW``) whose keywords pass through to the library.
    """
    prefix, colon, target = name.partition(":")
    if colon:
        return _bridge(prefix, target, params)
    cls = optimizer_class(name)
    params = checked_params(cls, name, params)
    try:
        return cls(**params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad hyperparameters for optimizer {name}: {exc}") from exc


def source_of(group: str, name: str) -> str:
    """``"distribution version"`` that provides ``name`` (the library's, for bridges)."""
    prefix, colon, _ = name.partition(":")
    if colon and group == OPTIMIZERS:
        from importlib.metadata import PackageNotFoundError, version

        library = prefix
        bridge = entries(BRIDGES).get(prefix)
        if bridge is not None:
            with contextlib.suppress(ConfigError):  # a bridge that does not import: name the prefix
                library = getattr(bridge.load(), "library", prefix)
        try:
            return f"{library} {version(library)}"
        except PackageNotFoundError:
            return f"{library} (not installed)"
    entry = _collect(group).get(name)
    return f"{entry.distribution} {entry.version}" if entry else ""
