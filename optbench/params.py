"""Parameters of problems and optimizers: the ``name(key=value, ...)`` syntax of the command line and
suite files, values checked against declared types, and the canonical form that gives a trial its identity.

A leaf: it needs only the contract (:mod:`optbench.api`), so anything may use it.
"""

from __future__ import annotations

import ast
import collections.abc
import re
import types
import typing
from typing import Any

from optbench.api import ConfigError, check_dtype, declared_parameters, same_value, type_hints

_NAME = re.compile(r"^[A-Za-z_][\w.\-]*(:[\w.\-]+)?$")


def split_top_level(text: str) -> list[str]:
    """Split ``"adam(lr=0.1, betas=(0.9, 0.99)), sgd"`` on commas outside parentheses and outside quoted strings
    (``"f(name='a, b)')"`` is one item)."""
    parts: list[str] = []
    depth = 0
    quote = ""  # the open string's quote character, "" outside strings
    escaped = False
    current: list[str] = []
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"unbalanced ')' in {text!r}")
        if char == "," and depth == 0 and not quote:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if quote:
        raise ConfigError(f"unterminated string in {text!r}; close the {quote} quote")
    if depth != 0:
        raise ConfigError(f"unbalanced '(' in {text!r}")
    parts.append("".join(current).strip())
    return [p for p in parts if p]


_LOWERCASE = {"true": True, "false": False, "null": None, "none": None}


def parse_call(text: str) -> tuple[str, dict[str, Any]]:
    """Parse ``name`` or ``name(key=literal, ...)`` into the name and its keyword arguments.

    Values are Python literals (numbers, strings, booleans, None, tuples, lists); ``true``,
    ``false`` and ``null`` are accepted too, and ``dtype`` takes a bare name (``dtype=float32``). A key
    given twice is an error. Types are checked against what the problem or optimizer declares by
    :func:`checked_params`.
    """
    text = text.strip()
    name, _, rest = text.partition("(")
    name = name.strip()
    if not _NAME.match(name):
        raise ConfigError(f"bad name {name!r} in {text!r}; expected e.g. adam or adam(lr=0.01)")
    if not rest:
        return name, {}
    if not rest.endswith(")"):
        raise ConfigError(f"missing ')' in {text!r}; expected e.g. adam(lr=0.01)")
    try:
        call = ast.parse(f"f({rest}", mode="eval").body
    except SyntaxError:
        raise ConfigError(f"cannot parse the parameters of {text!r}; expected key=value pairs") from None
    assert isinstance(call, ast.Call)
    if call.args:
        raise ConfigError(f"parameters must be named in {text!r}: write key=value, e.g. {name}(dim=3) for a problem "
                          "(`optbench list problems` and `optbench list optimizers` show each one's parameters)")
    params: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ConfigError(f"'**' is not allowed in {text!r}")
        if kw.arg in params:  # Python's parser accepts f(a=1, a=2); a silent "last one wins" would hide a typo
            raise ConfigError(f"{kw.arg} is given twice in {text!r}; give each parameter once")
        if isinstance(kw.value, ast.Name) and kw.value.id in _LOWERCASE:  # rotate=true, as TOML and shells write it
            params[kw.arg] = _LOWERCASE[kw.value.id]
            continue
        if kw.arg == "dtype" and isinstance(kw.value, ast.Name):  # dtype=float32, unquoted as on the command line
            params[kw.arg] = kw.value.id
            continue
        try:
            params[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            raise ConfigError(
                f"the value of {kw.arg} in {text!r} must be a literal (number, string, True/False, tuple)"
            ) from None
    return name, params


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
    hints = type_hints(target)
    for key, value in options.items():
        if key not in hints:
            continue
        try:
            conform(value, hints[key])
        except _MismatchError:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            got = _GOT.get(type(value), type(value).__name__)
            raise ConfigError(f"{owner}: {key}={shown} is {got}, but {key} takes {describe(hints[key])}") from None


def without_defaults(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` less those equal to their declared default: the canonical form for identity."""
    declared = declared_parameters(cls)
    return {k: v for k, v in params.items() if not (k in declared and same_value(v, declared[k].default))}


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
