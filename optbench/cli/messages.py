"""Error lines a person reads: one line, and no user value echoed at any length.

A 100 kB problem name typed (or generated) by mistake must not come back as a 100 kB error line.
:func:`shorten` cuts one value; :func:`one_line` cuts every over-long quoted value and every
over-long unbroken token of a finished message, so no module that raises needs to care.
"""

from __future__ import annotations

import re

LIMIT = 80  # characters of one echoed value

# a Python repr of a string ('...' or "...", with escapes) or a run of non-blank characters
_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")
_TOKEN = re.compile(rf"\S{{{LIMIT + 1},}}")


def shorten(text: str, *, limit: int = LIMIT) -> str:
    """``text`` itself when it has at most ``limit`` characters, else its head and tail around an ellipsis.

    Args:
        text: the value to echo.
        limit: the most characters returned.
    """
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    tail = limit - 1 - head
    return f"{text[:head]}…{text[len(text) - tail:]}"


def one_line(message: str, *, limit: int = LIMIT) -> str:
    """``message`` on one line, each quoted value and each unbroken token cut to ``limit`` characters."""
    flat = " ".join(message.split())

    def quoted(match: re.Match[str]) -> str:
        value = match.group(0)
        if len(value) <= limit:
            return value
        quote = value[0]
        return quote + shorten(value[1:-1], limit=limit - 2) + quote

    flat = _QUOTED.sub(quoted, flat)
    return _TOKEN.sub(lambda m: shorten(m.group(0), limit=limit), flat)
