"""A fresh ``optbench study NAME --quick`` reproduces the ``--quick`` rows the documentation shows.

``make docs-data`` (``docs/generate.py``) writes each study's ``--quick`` tables to
``docs/generated/studies/NAME-quick.json`` with the machine they were measured on; the study pages include the
same run as Markdown. Here the study runs again through the CLI and its tables are compared with that file:

- everywhere: the same tables, columns and rows, and the same row labels (the text cells);
- on a machine with the same fingerprint (CPU model and count, platform, torch and its thread count): every
  number too, to a relative 1e-9 — the studies are seeded and run single-process on the CPU, so the same code on
  the same machine gives the same bits; the slack only absorbs the decimal round trip of JSON;
- timings are never compared (columns measured in seconds, and the crossover study, whose tables are timings);
  another CPU or BLAS gives other rounding, and training amplifies it, so elsewhere the numbers are not compared.

The seeds and landscape studies run in CI; the three others take 15-60 s each and are marked slow
(``make test-all``).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from clirun import run

GENERATED = Path(__file__).resolve().parent.parent / "docs" / "generated" / "studies"
TIMING = re.compile(r"\(s\)|seconds|time|\bs\b|÷|speed|wall", re.I)
TIMED_STUDIES = {"crossover"}  # every table is a timing or a winner decided by timings
FINGERPRINT = ("cpu", "cores", "machine", "system", "torch", "torch_threads")


def _same_machine(recorded: dict) -> bool:
    from optbench.gate.baseline import fingerprint

    here = fingerprint()
    return all(here.get(k) == recorded.get(k) for k in FINGERPRINT)


def _close(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("name", [
    "seeds",
    pytest.param("connectivity", marks=pytest.mark.slow),
    pytest.param("lottery", marks=pytest.mark.slow),
    "landscape",
    pytest.param("crossover", marks=pytest.mark.slow),
])
def test_a_fresh_quick_run_reproduces_the_documented_rows(name, tmp_path):
    recorded = json.loads((GENERATED / f"{name}-quick.json").read_text(encoding="utf-8"))
    proc = run("study", name, "--quick", "--format", "json", "-q", "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fresh = json.loads(proc.stdout)["tables"]
    assert [t["title"] for t in fresh] == [t["title"] for t in recorded["tables"]], \
        "the study's tables changed: rerun `make docs-data`"
    numbers = _same_machine(recorded["machine"]) and name not in TIMED_STUDIES
    for old, new in zip(recorded["tables"], fresh, strict=True):
        assert new["columns"] == old["columns"], f"{old['title']}: columns changed; rerun `make docs-data`"
        count = f"{old['title']}: {len(new['rows'])} rows, documented {len(old['rows'])}"
        assert len(new["rows"]) == len(old["rows"]), count
        timed = [bool(TIMING.search(str(c))) for c in old["columns"]]
        for row_old, row_new in zip(old["rows"], new["rows"], strict=True):
            for column, was, now, is_timed in zip(old["columns"], row_old, row_new, timed, strict=True):
                if isinstance(was, str) and not is_timed and column == old["columns"][0]:
                    assert now == was, f"{old['title']}: row label {now!r}, documented {was!r}"
                elif numbers and not is_timed:
                    assert _close(was, now), f"{old['title']} / {column}: {now!r}, documented {was!r}"
