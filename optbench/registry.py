"""Entry-point discovery for the groups ``optbench.problems`` and ``optbench.optimizers``.

Built-ins register through the same entry points as plugins (see ``pyproject.toml``); there
is no private path. Nothing is imported until a name is used, and a plugin that fails to
import is reported with its reason instead of breaking the others.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from optbench.api import ConfigError, Optimizer, Problem

PROBLEMS = "optbench.problems"
OPTIMIZERS = "optbench.optimizers"


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
        try:
            return self.loader()
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
def entries(group: str) -> dict[str, Entry]:
    """All names registered in ``group``; a name claimed by two sources is an error naming both.

    Entry points of every installed distribution come first (only optbench's own when
    ``OPTBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set), then what loaded plugin files registered.
    """
    from optbench.plugins import LOCAL, autoload_disabled

    found: dict[str, Entry] = {}
    candidates = [_from_entry_point(group, ep) for ep in entry_points(group=group)]
    if autoload_disabled():
        candidates = [e for e in candidates if e.distribution == "optbench"]
    for name, (obj, source) in LOCAL.get(group, {}).items():
        candidates.append(Entry(name, group, source, source, "(local)", loader=lambda obj=obj: obj))
    for entry in candidates:
        other = found.get(entry.name)
        if other is not None and other.value != entry.value:
            raise ConfigError(
                f"{group} name {entry.name!r} is registered twice: by {other.distribution} "
                f"({other.value}) and by {entry.distribution} ({entry.value})"
            )
        found[entry.name] = entry
    return dict(sorted(found.items()))


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


def parameters_of(cls: type) -> dict[str, Any]:
    """Settable keyword parameters and their defaults (dataclass fields or ``__init__``)."""
    if dataclasses.is_dataclass(cls):
        return {f.name: f.default for f in dataclasses.fields(cls) if f.init}
    skip = {"self", "instance", "device", "dtype"}
    sig = inspect.signature(cls.__init__)
    return {
        p.name: p.default
        for p in sig.parameters.values()
        if p.name not in skip and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def _check_params(cls: type, name: str, params: dict[str, Any]) -> None:
    known = parameters_of(cls)
    unknown = sorted(set(params) - set(known))
    if unknown:
        valid = ", ".join(known) or "none"
        raise ConfigError(f"{name} has no parameter {unknown[0]!r}; valid parameters: {valid}")


def make_problem(name: str, params: dict[str, Any], *, instance: int = 0, device: Any = "cpu") -> Problem:
    """Construct a problem instance; bad parameters become a :class:`ConfigError`."""
    cls = problem_class(name)
    _check_params(cls, name, params)
    try:
        return cls(**params, instance=instance, device=device)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad parameters for problem {name}: {exc}") from exc


# ``prefix:Name`` runs a whole library's optimizers through one bridge class
BRIDGES = {
    "ng": "optbench.optimizers.nevergrad_bridge:NevergradOptimizer",
    "scipy": "optbench.optimizers.scipy_bridge:ScipyOptimizer",
    "torch": "optbench.optimizers.torch_bridge:TorchOptimOptimizer",
}


def _bridge(prefix: str, target: str, params: dict[str, Any]) -> Optimizer:
    if prefix not in BRIDGES:
        raise ConfigError(f"unknown optimizer prefix {prefix!r}; known prefixes: {', '.join(BRIDGES)}")
    if not target:
        raise ConfigError(f"{prefix}: needs a name after the colon, e.g. {prefix}:{_EXAMPLES[prefix]}")
    module, _, attr = BRIDGES[prefix].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    try:
        return cls.from_call(target, params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad hyperparameters for optimizer {prefix}:{target}: {exc}") from exc


_EXAMPLES = {"ng": "CMA", "scipy": "L-BFGS-B", "torch": "AdamW"}


def make_optimizer(name: str, params: dict[str, Any]) -> Optimizer:
    """Construct an optimizer; bad hyperparameters become a :class:`ConfigError`.

    ``name`` is a registered name (``adam``) or a bridge (``ng:CMA``, ``scipy:Powell``,
    ``torch:AdamW``) whose keywords pass through to the library.
    """
    prefix, colon, target = name.partition(":")
    if colon:
        return _bridge(prefix, target, params)
    cls = optimizer_class(name)
    _check_params(cls, name, params)
    try:
        return cls(**params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad hyperparameters for optimizer {name}: {exc}") from exc


_BRIDGE_LIBRARIES = {"ng": "nevergrad", "scipy": "scipy", "torch": "torch"}


def source_of(group: str, name: str) -> str:
    """``"distribution version"`` that provides ``name`` (the library's, for bridges)."""
    prefix, colon, _ = name.partition(":")
    if colon and group == OPTIMIZERS:
        from importlib.metadata import PackageNotFoundError, version

        library = _BRIDGE_LIBRARIES.get(prefix, prefix)
        try:
            return f"{library} {version(library)}"
        except PackageNotFoundError:
            return f"{library} (not installed)"
    entry = entries(group).get(name)
    return f"{entry.distribution} {entry.version}" if entry else ""
