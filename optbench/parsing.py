"""The ``name(key=value, ...)`` syntax shared by the command line and suite files."""

from __future__ import annotations

import ast
import re
from typing import Any

from optbench.api import ConfigError

_NAME = re.compile(r"^[A-Za-z_][\w.\-]*(:[\w.\-]+)?$")


def split_top_level(text: str) -> list[str]:
    """Split ``"adam(lr=0.1, betas=(0.9, 0.99)), sgd"`` on commas outside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"unbalanced ')' in {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
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
    :func:`optbench.registry.checked_params`.
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
        raise ConfigError(f"parameters must be named in {text!r}, e.g. {name}(lr=0.01)")
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
