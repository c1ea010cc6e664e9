"""Plugins without packaging, and the quick way to turn a batched function into a problem.

Installed plugins declare entry points in the groups ``optbench.problems`` and
``optbench.optimizers`` (exactly like the built-ins). For quick experiments a module or a
``.py`` file can be loaded with ``--plugin`` (or ``OPTBENCH_PLUGINS``, separated by commas);
it registers what it defines with :func:`register_problem`, :func:`register_optimizer` or the
:func:`problem` decorator.

``OPTBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` ignores every entry point not shipped by optbench itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import numbers
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optbench.api import LANDSCAPES, Capability, ConfigError, Optimizer, Problem, Space
from optbench.registry import (  # noqa: F401  (LOCAL, DISABLE_AUTOLOAD_ENV: the tables plugin tests reset)
    DISABLE_AUTOLOAD_ENV,
    LOCAL,
    OPTIMIZERS,
    PROBLEMS,
    autoload_disabled,
    register,
)

PLUGINS_ENV = "OPTBENCH_PLUGINS"

_loading: list[str] = []  # the plugin being imported, named as the source of what it registers


def _register(group: str, name: str, obj: Any) -> None:
    source = _loading[-1] if _loading else f"module {getattr(obj, '__module__', '?')}"
    register(group, name, obj, source=source)


def register_problem(cls: type[Problem]) -> type[Problem]:
    """Register a :class:`Problem` subclass under its ``family`` name (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Problem)):
        raise ConfigError(f"register_problem needs a Problem subclass, got {cls!r}")
    _register(PROBLEMS, cls.family, cls)
    return cls


def register_optimizer(cls: type[Optimizer]) -> type[Optimizer]:
    """Register an :class:`Optimizer` subclass under its ``name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise ConfigError(f"register_optimizer needs an Optimizer subclass, got {cls!r}")
    _register(OPTIMIZERS, cls.name, cls)
    return cls


def problem(
    name: str,
    *,
    dim: int | None = None,
    bounds: tuple[float, float] | None = None,
    bits: int | None = None,
    optimal_value: float | Callable[..., float] | None = None,
    target: float = 1e-8,
    differentiable: bool = False,
    landscape: str = "other",
    shift: float = 0.0,
    register: bool = True,
) -> Callable[[Callable[..., Any]], type[Problem]]:
    """Turn a plain batched function ``f(X: (n, d)) -> (n,)`` into a problem class.

    Give ``dim`` and ``bounds`` for a continuous box, or ``bits`` for bit strings. The returned
    class takes ``dim`` as a parameter (the default is ``dim``, or ``bits``), so ``name(dim=20)``
    works too. ``optimal_value`` is a number, or a function of the parameters when the optimum
    depends on them (``optimal_value=lambda dim: -39.16617 * dim``).

    A plain function has no instance data: every instance is the same function, and the class
    says so (``instances_differ = False``, which :func:`optbench.testing.check_problem` honours).
    ``shift=s`` (boxes only) makes instances differ as the built-ins do: instance ``i >= 1``
    evaluates ``f(x - t_i)`` with ``t_i`` uniform in ``[-s, s]^d``, seeded by the name and ``i``
    (instance 0 is the function as written). The optimum value holds while the shifted minimizer
    stays in the box, so keep ``s`` below the minimizer's distance to the box's edge.
    ``landscape`` is one of :data:`optbench.api.LANDSCAPES` (``smooth``, ``rugged``, ``deceptive``,
    ``crypto``, ``training``). ``register=False`` only builds the class (for packages that expose it
    via an entry point).

    Example:
        >>> @problem("shifted_abs", dim=5, bounds=(-3.0, 3.0), optimal_value=0.0)
        ... def shifted_abs(X):
        ...     return (X - 1).abs().sum(dim=1)
    """
    if (bits is None) == (dim is None or bounds is None):
        raise ConfigError(f"problem {name!r}: give dim and bounds for a box, or bits for bit strings")
    if landscape not in LANDSCAPES:
        raise ConfigError(f"problem {name!r}: unknown landscape {landscape!r}; one of {', '.join(LANDSCAPES)}")
    if isinstance(shift, bool) or not isinstance(shift, int | float) or not shift >= 0:
        raise ConfigError(f"problem {name!r}: shift must be a number >= 0, got {shift!r}")
    if shift and bits is not None:
        raise ConfigError(f"problem {name!r}: shift moves a continuous box; bit strings have no shift")

    # a wrong optimum fails where it is written (at import), not at the first run
    _optimum(name, optimal_value, {"dim": bits if bits is not None else dim})

    def wrap(fn: Callable[..., Any]) -> type[Problem]:
        default = bits if bits is not None else dim

        def __init__(self: Problem, *, dim: int = default, instance: int = 0,  # noqa: N807
                     device: Any = "cpu", dtype: Any = None) -> None:
            Problem.__init__(self, instance=instance, device=device, dtype=dtype)
            if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
                raise ConfigError(f"{name}: dim must be a positive integer, got {dim!r}")
            self.dim = dim
            self.space = Space.bits(dim) if bits is not None else Space.box(dim, *bounds)  # type: ignore[misc]
            self.optimal_value = _optimum(name, optimal_value, {"dim": dim})
            self.target = target
            self.capabilities = frozenset({Capability.DIFFERENTIABLE} if differentiable else ())
            self.offset = None  # t_i of shape (d,): instance i evaluates f(x - t_i)
            if shift and instance:
                import torch

                from optbench.seeding import instance_generator

                gen = instance_generator(name, instance)
                offset = (torch.rand(dim, generator=gen, dtype=torch.float64) * 2 - 1) * float(shift)
                self.offset = offset.to(device=self.device, dtype=self.dtype)

        def _evaluate(self: Problem, X: Any) -> Any:
            return fn(X if self.offset is None else X - self.offset)

        cls = type(
            fn.__name__,
            (Problem,),
            {
                "family": name,
                "landscape": landscape,
                "instances_differ": bool(shift),
                "__init__": __init__,
                "_evaluate": _evaluate,
                "params": lambda self: {"dim": self.dim},
                "__doc__": fn.__doc__ or f"{name}: a batched function registered with optbench.plugins.problem",
                "__module__": fn.__module__,
            },
        )
        if register:
            register_problem(cls)
        return cls

    return wrap


def _optimum(name: str, declared: Any, params: dict[str, Any]) -> float | None:
    """The optimum of a decorated problem: a number, or a function of the parameters it names."""
    value = declared
    if callable(declared):
        try:
            accepted = inspect.signature(declared).parameters
        except (TypeError, ValueError):
            accepted = params  # a builtin without a signature gets every parameter
        if any(p.kind is p.VAR_KEYWORD for p in getattr(accepted, "values", lambda: [])()):
            accepted = params
        try:
            value = declared(**{k: v for k, v in params.items() if k in accepted})
        except Exception as exc:
            call = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise ConfigError(f"problem {name!r}: optimal_value({call}) failed: {type(exc).__name__}: {exc}") from None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"problem {name!r}: optimal_value must be a number, None, or a function of the "
                          f"parameters returning a number; got {type(value).__name__}")
    return float(value)


_loaded: set[str] = set()


def load_plugin(spec: str) -> None:
    """Import a plugin given as a path to a ``.py`` file or as a dotted module name."""
    spec = spec.strip()
    if not spec:
        return
    path = Path(spec)
    identity = str(path.resolve()) if spec.endswith(".py") or path.exists() else spec
    if identity in _loaded:  # loading the same plugin again (a worker, a second --plugin) is a no-op
        return
    _loading.append(f"plugin {spec}")
    try:
        if spec.endswith(".py") or path.exists():
            if not path.is_file():
                raise ConfigError(f"plugin file {spec} does not exist")
            module_name = f"optbench_plugin_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None:
                raise ConfigError(f"cannot load plugin file {spec}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except ConfigError:
        raise
    except Exception as exc:
        last = (str(exc).strip().splitlines() or [""])[-1]
        raise ConfigError(f"plugin {spec} failed to import: {type(exc).__name__}: {last}") from None
    finally:
        _loading.pop()
    _loaded.add(identity)


def plugin_specs(specs: list[str] | None = None) -> list[str]:
    """Those in ``OPTBENCH_PLUGINS``, then the ``--plugin`` values: what workers must load too."""
    from_env = [s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(",") if s.strip()]
    return [*from_env, *(specs or [])]


def load_plugins(specs: list[str] | None = None) -> None:
    """Load ``--plugin`` values and those in ``OPTBENCH_PLUGINS``."""
    for spec in plugin_specs(specs):
        load_plugin(spec)
