"""Search spaces of hyperparameters: each dimension maps a unit coordinate ``u`` in ``[0, 1)`` to a value.

A space is a mapping from hyperparameter name to a :class:`Dimension` (or a tuple of them, for a
tuple-valued hyperparameter such as Adam's ``betas``). Quasi-random draws and samplers work in the unit
cube; the dimension decides the scale, so every ruleset sees the same space.

Kinds, as written in ``--space`` and suite files:

- ``loguniform(lo, hi)``: ``lo * (hi / lo) ** u``, for learning rates and scales;
- ``uniform(lo, hi)``: ``lo + (hi - lo) * u``;
- ``one_minus_log(lo, hi)``: ``1 - 10 ** (lo + (hi - lo) * u)`` with ``lo < hi <= 0``, for momentum and betas
  (``one_minus_log(-3, -1)`` spans 0.9 to 0.999);
- ``zero_or_loguniform(lo, hi)``: ``0`` for the first fifth of ``u``, else log-uniform: weight decay with an
  explicit zero;
- ``int_loguniform(lo, hi)``: the log-uniform value rounded to an integer (population sizes);
- ``choice(a, b, ...)``: one of the values, equally likely (batch sizes, booleans).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optbench.api import ConfigError
from optbench.params import split_top_level

ZERO_SHARE = 0.2  # of zero_or_loguniform's unit interval that maps to exactly 0
DIGITS = 4  # significant digits of a drawn float hyperparameter


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter's range: ``kind`` (see the module doc) and its arguments."""

    kind: str
    args: tuple[Any, ...]

    def value(self, u: float) -> Any:
        """The hyperparameter at unit coordinate ``u`` in ``[0, 1)``.

        Floats are rounded to :data:`DIGITS` significant digits: a configuration then prints short and
        is the same trial (the same key) on every machine, whatever the last bit of its ``pow``.
        """
        u = min(max(float(u), 0.0), math.nextafter(1.0, 0.0))
        if self.kind == "choice":
            return self.args[min(int(u * len(self.args)), len(self.args) - 1)]
        value = self._number(u)
        return value if isinstance(value, int) else float(f"{value:.{DIGITS}g}")

    def _number(self, u: float) -> float | int:
        lo, hi = (float(a) for a in self.args)
        if self.kind == "uniform":
            return lo + (hi - lo) * u
        if self.kind == "loguniform":
            return lo * (hi / lo) ** u
        if self.kind == "int_loguniform":
            return round(lo * (hi / lo) ** u)
        if self.kind == "one_minus_log":
            return 1.0 - 10.0 ** (lo + (hi - lo) * u)
        if self.kind == "zero_or_loguniform":
            return 0.0 if u < ZERO_SHARE else lo * (hi / lo) ** ((u - ZERO_SHARE) / (1 - ZERO_SHARE))
        raise AssertionError(self.kind)

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(repr(a) for a in self.args)})"


Range = Dimension | tuple[Dimension, ...]  # a tuple-valued hyperparameter has one dimension per entry
Space = dict[str, Range]


def _check(kind: str, args: tuple[Any, ...], where: str) -> Dimension:
    numbers = all(isinstance(a, int | float) and not isinstance(a, bool) and math.isfinite(a) for a in args)
    if kind == "choice":
        if not args:
            raise ConfigError(f"{where}: choice() needs at least one value, e.g. choice(32, 64, 128)")
        return Dimension(kind, args)
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown range {kind!r}; ranges: {', '.join(sorted(KINDS))}")
    if len(args) != 2 or not numbers:
        raise ConfigError(f"{where}: {kind} takes two finite numbers lo, hi, e.g. {kind}{KINDS[kind]}")
    lo, hi = args
    if not lo < hi:
        raise ConfigError(f"{where}: {kind}({lo!r}, {hi!r}) needs lo < hi")
    if kind in ("loguniform", "int_loguniform", "zero_or_loguniform") and lo <= 0:
        raise ConfigError(f"{where}: {kind} needs 0 < lo < hi, got lo={lo!r}")
    if kind == "one_minus_log" and hi > 0:
        raise ConfigError(f"{where}: one_minus_log(lo, hi) gives 1 - 10**u and needs hi <= 0, got hi={hi!r}")
    return Dimension(kind, (lo, hi))


# each kind with an example of its arguments (for error lines)
KINDS = {"uniform": "(0.0, 1.0)", "loguniform": "(1e-4, 1.0)", "int_loguniform": "(4, 256)",
         "one_minus_log": "(-3, -1)", "zero_or_loguniform": "(1e-6, 1e-2)", "choice": "(32, 64)"}


def loguniform(lo: float, hi: float) -> Dimension:
    return _check("loguniform", (lo, hi), "loguniform")


def uniform(lo: float, hi: float) -> Dimension:
    return _check("uniform", (lo, hi), "uniform")


def one_minus_log(lo: float, hi: float) -> Dimension:
    return _check("one_minus_log", (lo, hi), "one_minus_log")


def zero_or_loguniform(lo: float, hi: float) -> Dimension:
    return _check("zero_or_loguniform", (lo, hi), "zero_or_loguniform")


def int_loguniform(lo: float, hi: float) -> Dimension:
    return _check("int_loguniform", (lo, hi), "int_loguniform")


def choice(*values: Any) -> Dimension:
    return _check("choice", tuple(values), "choice")


def _range(node: ast.expr, where: str) -> Range:
    if isinstance(node, ast.Tuple):
        return tuple(_dimension(item, where) for item in node.elts)  # type: ignore[misc]
    return _dimension(node, where)


def _dimension(node: ast.expr, where: str) -> Dimension:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)) or node.keywords:
        raise ConfigError(f"{where}: expected a range such as loguniform(1e-4, 1.0), got {ast.unparse(node)!r}")
    try:
        args = tuple(ast.literal_eval(arg) for arg in node.args)
    except ValueError:
        raise ConfigError(f"{where}: the arguments of {ast.unparse(node)!r} must be numbers or literals") from None
    return _check(node.func.id, args, where)


def parse_space(text: str) -> tuple[str, Space]:
    """``adam(lr=loguniform(1e-5, 1), betas=(one_minus_log(-3, -1), one_minus_log(-4, -2)))`` -> name, space.

    Raises:
        ConfigError: one line naming what is wrong and what a range looks like.
    """
    text = text.strip()
    name, _, rest = text.partition("(")
    name = name.strip()
    if not name or not rest.endswith(")"):
        raise ConfigError(f"--space expects optimizer(name=range, ...), e.g. \"adam(lr=loguniform(1e-5, 1))\", "
                          f"got {text!r}")
    try:
        call = ast.parse(f"f({rest}", mode="eval").body
    except SyntaxError:
        raise ConfigError(f"cannot parse the space {text!r}; expected e.g. adam(lr=loguniform(1e-5, 1))") from None
    assert isinstance(call, ast.Call)
    if call.args or any(kw.arg is None for kw in call.keywords):
        raise ConfigError(f"every range of {text!r} must be named, e.g. {name}(lr=loguniform(1e-5, 1))")
    space: Space = {}
    for kw in call.keywords:
        assert kw.arg is not None
        if kw.arg in space:
            raise ConfigError(f"{kw.arg} is given twice in the space {text!r}")
        space[kw.arg] = _range(kw.value, f"{name}: {kw.arg}")
    if not space:
        raise ConfigError(f"the space {text!r} names no hyperparameter")
    return name, space


def parse_spaces(values: list[str] | None) -> dict[str, Space]:
    """Every ``--space`` value, by optimizer name (one space per optimizer)."""
    out: dict[str, Space] = {}
    for value in values or []:
        for item in split_top_level(value):
            name, space = parse_space(item)
            if name in out:
                raise ConfigError(f"--space gives two spaces for {name}; give one")
            out[name] = space
    return out


def flat(space: Mapping[str, Range]) -> list[tuple[str, int | None, Dimension]]:
    """``(name, index in a tuple or None, dimension)`` for every unit coordinate, in the space's order."""
    out: list[tuple[str, int | None, Dimension]] = []
    for name, rng in space.items():
        if isinstance(rng, tuple):
            out.extend((name, i, dim) for i, dim in enumerate(rng))
        else:
            out.append((name, None, rng))
    return out


def config(space: Mapping[str, Range], unit: list[float] | tuple[float, ...]) -> dict[str, Any]:
    """The hyperparameters at a point of the unit cube (one coordinate per :func:`flat` dimension)."""
    dims = flat(space)
    if len(unit) != len(dims):
        raise ValueError(f"the space has {len(dims)} dimensions, got a point of {len(unit)}")
    out: dict[str, Any] = {}
    for (name, index, dim), u in zip(dims, unit, strict=True):
        if index is None:
            out[name] = dim.value(u)
        else:
            out[name] = (*out.get(name, ()), dim.value(u))
    return out


def describe(space: Mapping[str, Range]) -> str:
    """``lr=loguniform(1e-05, 1.0), betas=(one_minus_log(-3, -1), ...)`` as ``optbench list`` shows it."""
    def one(rng: Range) -> str:
        return f"({', '.join(str(d) for d in rng)})" if isinstance(rng, tuple) else str(rng)

    return ", ".join(f"{name}={one(rng)}" for name, rng in space.items())


def checked_space(space: Mapping[str, Range], cls: Any, name: str) -> Space:
    """``space`` with every hyperparameter one that the optimizer ``cls`` declares."""
    from optbench.params import parameters_of

    known = parameters_of(cls)
    unknown = [key for key in space if key not in known]
    if unknown:
        raise ConfigError(f"{name} has no hyperparameter {unknown[0]!r} to tune; its hyperparameters: "
                          f"{', '.join(known) or 'none'}")
    return dict(space)
