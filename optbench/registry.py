"""Entry-point discovery for the groups ``optbench.problems`` and ``optbench.optimizers``.

Built-ins register through the same entry points as plugins (see ``pyproject.toml``); there
is no private path. Nothing is imported until a name is used, and a plugin that fails to
import is reported with its reason instead of breaking the others.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from optbench.api import ConfigError, Optimizer, Problem, check_dtype

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


_SKIP = frozenset({"self", "instance", "device", "dtype"})  # set by the runner, never by a user


@dataclass(frozen=True)
class Parameter:
    """A settable keyword of a problem or optimizer.

    Attributes:
        name: the keyword.
        default: its default, or ``inspect.Parameter.empty`` when it must be given.
        annotation: the declared type (from the annotation, else the default's type); ``Any`` when unknown.
    """

    name: str
    default: Any
    annotation: Any


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:  # an annotation that names what its module never imports: fall back to defaults
        return {}


def _fallback(default: Any) -> Any:
    if default is inspect.Parameter.empty or default is None:
        return Any
    return type(default)


def declared_parameters(cls: type) -> dict[str, Parameter]:
    """Settable keyword parameters with defaults and declared types (dataclass fields or ``__init__``)."""
    if dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        out = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else inspect.Parameter.empty)
            out[f.name] = Parameter(f.name, default, hints.get(f.name, _fallback(default)))
        return out
    hints = _hints(cls.__init__)
    sig = inspect.signature(cls.__init__)
    return {
        p.name: Parameter(p.name, p.default, hints.get(p.name, _fallback(p.default)))
        for p in sig.parameters.values()
        if p.name not in _SKIP and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def parameters_of(cls: type) -> dict[str, Any]:
    """Settable keyword parameters and their defaults (dataclass fields or ``__init__``)."""
    return {name: p.default for name, p in declared_parameters(cls).items()}


_NAMES = {bool: "True or False", int: "an integer", float: "a number", str: "a string",
          type(None): "None", tuple: "a tuple", list: "a list"}
_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
_GOT = {bool: "a bool", int: "an integer", float: "a float", str: "a string", tuple: "a tuple", list: "a list",
        type(None): "None"}


def describe(annotation: Any) -> str:
    """How an error line names a declared type: ``True or False``, ``a number or None``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (tuple, list, collections.abc.Sequence):
        args = typing.get_args(annotation)
        kinds = {a for a in args if a is not Ellipsis}
        if len(kinds) != 1:
            return "a tuple"
        plural = _PLURALS.get(next(iter(kinds)), "values")
        fixed = f"{len(args)} " if Ellipsis not in args and origin is tuple else ""
        return f"a tuple of {fixed}{plural}"
    if isinstance(annotation, type):
        return _NAMES.get(annotation, f"a {annotation.__name__}")
    return str(annotation)


class _MismatchError(Exception):
    pass


def conform(value: Any, annotation: Any) -> Any:
    """``value`` as the declared type: an int stands for a float, a list for a tuple; nothing else converts.

    Raises:
        _MismatchError: the value is not of the declared type (a string is never a bool or a number,
            a bool never a number).
    """
    if annotation is Any or annotation is object:
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return conform(value, option)
            except _MismatchError:
                continue
        raise _MismatchError
    if origin is typing.Literal:
        if any(type(value) is type(a) and value == a for a in typing.get_args(annotation)):
            return value
        raise _MismatchError
    if origin in (tuple, list, collections.abc.Sequence) or annotation in (tuple, list):
        if not isinstance(value, tuple | list):
            raise _MismatchError
        args = typing.get_args(annotation)
        if args and Ellipsis not in args and origin is tuple:
            if len(args) != len(value):
                raise _MismatchError
            items = [conform(v, a) for v, a in zip(value, args, strict=True)]
        else:
            element = args[0] if args else Any
            items = [conform(v, element) for v in value]
        return list(items) if (origin or annotation) is list else tuple(items)
    if annotation is type(None):
        if value is None:
            return None
        raise _MismatchError
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _MismatchError
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _MismatchError
    if annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _MismatchError
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise _MismatchError
    return value  # an annotation optbench cannot check (a protocol, a string that did not resolve)


def checked_params(cls: type, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against the declared names and types of ``cls``, ints for floats made floats.

    Raises:
        ConfigError: an unknown name, or a value not of its declared type; one line naming the
            parameter, the value and what it should be.
    """
    declared = declared_parameters(cls)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        valid = ", ".join(declared) or "none"
        raise ConfigError(f"{name} has no parameter {unknown[0]!r}; valid parameters: {valid}")
    out = {}
    for key, value in params.items():
        annotation = declared[key].annotation
        try:
            out[key] = conform(value, annotation)
        except _MismatchError:
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            got = _GOT.get(type(value), type(value).__name__)
            raise ConfigError(f"{name}: {key}={shown} is {got}, but {key} takes {describe(annotation)}") from None
    return out


def check_library_options(owner: str, target: Any, options: dict[str, Any]) -> None:
    """Check keywords bound for a library callable (``torch.optim.SGD``, a Nevergrad family) against
    its annotations; unannotated ones are left to the library, whose defaults do not say every type
    it takes (``mutation=(0.5, 1)`` also takes a float).

    Raises:
        ConfigError: one line naming the option, the value and the declared type.
    """
    hints = _hints(target)
    for key, value in options.items():
        if key not in hints:
            continue
        try:
            conform(value, hints[key])
        except _MismatchError:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            got = _GOT.get(type(value), type(value).__name__)
            raise ConfigError(f"{owner}: {key}={shown} is {got}, but {key} takes {describe(hints[key])}") from None


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``True == 1`` and ``1 == 1.0`` do not count), tuples and lists alike."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def without_defaults(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` less those equal to their declared default: the canonical form for identity."""
    declared = declared_parameters(cls)
    return {k: v for k, v in params.items() if not (k in declared and _same(v, declared[k].default))}


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


def distinguishing_params(problem: Problem) -> dict[str, Any]:
    """The parameters of a problem that its id must show: those off their default, dimension aside."""
    declared = declared_parameters(type(problem))
    out = {}
    for key, value in problem.params().items():
        if key == "dim" or (key in ("n", "d") and value == problem.space.dim):
            continue  # the id's ``_d<dim>`` already says it
        if key in declared and _same(value, declared[key].default):
            continue
        if key in declared and isinstance(declared[key].default, int | float) and not isinstance(value, bool) \
                and isinstance(value, int | float) and value == declared[key].default:
            continue  # cond=1e6 stored as a float against a default written as an int
        out[key] = value
    return out


def split_dtype(name: str, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A problem call's parameters without ``dtype``, and that precision (checked), or ``None``.

    ``rastrigin(dtype=float32)`` names the precision of the trial, not a parameter of the function:
    it goes into :attr:`~optbench.api.TrialSpec.dtype`, the one place a trial's precision lives.

    Raises:
        ConfigError: a dtype that is not one of :data:`~optbench.api.DTYPES`.
    """
    if "dtype" not in params:
        return params, None
    rest = {k: v for k, v in params.items() if k != "dtype"}
    return rest, check_dtype(params["dtype"], f"{name}: dtype")


def torch_dtype(name: str | None) -> Any:
    """The torch dtype of a precision name (``"float32"``), or ``None`` for the problem's own."""
    if not name:
        return None
    import torch

    return getattr(torch, check_dtype(name))


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


# ``prefix:Name`` runs a whole library's optimizers through one bridge class
BRIDGES = {
    "ng": "optbench.optimizers.nevergrad_bridge:NevergradOptimizer",
    "scipy": "optbench.optimizers.scipy_bridge:ScipyOptimizer",
    "torch": "optbench.optimizers.torch_bridge:TorchOptimOptimizer",
    "optuna": "optbench.optimizers.optuna_bridge:OptunaOptimizer",
    "evotorch": "optbench.optimizers.evotorch_bridge:EvoTorchOptimizer",
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


_EXAMPLES = {"ng": "CMA", "scipy": "L-BFGS-B", "torch": "AdamW", "optuna": "TPESampler", "evotorch": "CMAES"}


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


_BRIDGE_LIBRARIES = {"ng": "nevergrad", "scipy": "scipy", "torch": "torch", "optuna": "optuna", "evotorch": "evotorch"}


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
