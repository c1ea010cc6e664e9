"""The one JSON encoder of optbench's outputs: strict JSON, with one policy for non-finite numbers.

JSON has no ``inf`` or ``NaN``. Two policies exist, each kept where readers rely on it:

* ``"null"`` (the default): ``null``, as a study's payload documents (docs/reference/json.md: "Non-finite numbers are
  ``null``");
* ``"string"``: the strings ``"inf"``, ``"-inf"`` and ``"nan"``, as the comparison summary
  (``optbench.summary/1``: its rows and ``more_wild``) and the history view (``optbench.history-view/1``)
  have always written them, so a reader can still tell an infinite ERT from a missing value.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

NonFinite = Literal["null", "string"]


def nonfinite_value(value: float, nonfinite: NonFinite) -> str | None:
    """What a non-finite ``value`` is written as under the policy."""
    if nonfinite == "null":
        return None
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def to_jsonable(obj: Any, *, nonfinite: NonFinite = "null") -> Any:
    """``obj`` with every non-finite float replaced under the policy; dicts, lists and tuples recursed
    (tuples become lists, keys are kept as they are), everything else returned unchanged."""
    if nonfinite not in ("null", "string"):
        raise ValueError(f"nonfinite must be 'null' or 'string', got {nonfinite!r}")
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else nonfinite_value(obj, nonfinite)
    if isinstance(obj, dict):
        return {k: to_jsonable(v, nonfinite=nonfinite) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, nonfinite=nonfinite) for v in obj]
    return obj


def dumps(obj: Any, *, nonfinite: NonFinite = "null", **kwargs: Any) -> str:
    """``json.dumps`` of :func:`to_jsonable` ``(obj)``; ``kwargs`` (``indent``, ``sort_keys``, ...) pass through.

    Non-finite numbers never reach the encoder (``allow_nan=False``), so the text is strict JSON.
    """
    return json.dumps(to_jsonable(obj, nonfinite=nonfinite), allow_nan=False, **kwargs)
