"""`optbench list` reads at 80 columns and when piped: no line wider than the console, no column of fragments."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from optbench.report.listing import Column, Listing

_SCRIPT = Path(sys.executable).with_name("optbench")
OPTBENCH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from optbench.cli import main; main()"]


def list_output(what: str, columns: int) -> list[str]:
    """``optbench list WHAT`` with its stdout piped (not a terminal) and COLUMNS set, as lines."""
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run([*OPTBENCH, "list", what], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout.splitlines()


@pytest.mark.parametrize("what", ["suites", "optimizers", "problems"])
def test_list_fits_80_columns_piped_one_short_block_per_entry(what):
    lines = list_output(what, 80)
    assert lines[0].strip() == what
    too_wide = [line for line in lines if len(line) > 80]
    assert too_wide == []
    entries = [line.split()[0] for line in lines[1:] if line and not line[0].isspace()]
    assert len(entries) >= 5
    assert len(lines) < 10 * len(entries)  # was 794 lines for 8 suites
    # no column of fragments (the table squeezed to 80 columns gave cells one character wide)
    assert [line for line in lines if len(line.strip()) < 3] == []


def test_the_stacked_suites_keep_every_description_whole():
    from optbench.problems.suites import load_suite, suite_names

    lines = list_output("suites", 80)
    flowing = re.sub(r"\s+", " ", " ".join(lines))
    for name in suite_names():
        assert any(line.startswith(f"{name} ") for line in lines), name
        assert re.sub(r"\s+", " ", load_suite(name).description) in flowing, name


def test_a_wide_console_gets_the_table_with_the_description_column():
    lines = list_output("suites", 200)
    header = next(line for line in lines if "description" in line)
    assert "name" in header and "budget" in header
    assert max(len(line) for line in lines) <= 200
    assert len(lines) < 4 * 10  # one to three lines per suite plus the frame


def test_a_field_wider_than_the_console_is_folded_not_cut():
    listing = Listing("things", [Column("name"), Column("kind"), Column("notes", long=True)])
    word = "x" * 70
    listing.add_row("alpha", Text("broken", style="red"), f"starts {word} ends")
    listing.add_row("beta", "", "")
    out = io.StringIO()
    Console(file=out, width=40, force_terminal=False, color_system=None).print(listing)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["things", "alpha  broken"]
    assert all(len(line) <= 40 for line in lines)
    assert all(line.startswith("    ") for line in lines[2:-1])
    assert "".join(line.strip() for line in lines[2:-1]).replace(" ", "") == f"notes:starts{word}ends"
    assert lines[-1] == "beta"  # empty fields are left out


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Listing("things", [Column("name"), Column("kind"), Column("notes", long=True)]).add_row("a", "b")


def test_the_shipped_catalog_is_what_building_every_entry_gives():
    """`optbench list` reads optbench's own rows from report/catalog.json (no torch, no data sets); they must be
    exactly what building each entry gives (regenerate with `python -m optbench.report.listing`)."""
    import json

    from optbench.report import catalog
    from optbench.report.listing import build_catalog

    def rows(tables: dict) -> dict:  # `needs` depends on what this process imported before: not compared here
        return {group: {name: (row["value"], row["cells"]) for name, row in table.items()}
                for group, table in tables.items()}

    shipped = json.loads(catalog.CATALOG.read_text(encoding="utf-8"))
    assert rows(build_catalog()) == rows(shipped), "report/catalog.json is stale: run python -m optbench.report.listing"
    needs = {name: row.get("needs") for name, row in shipped["optbench.problems"].items() if row.get("needs")}
    assert needs == {"bbob": ["cocoex"], "pbo": ["ioh"]}


def test_listing_imports_no_torch():
    code = ("import sys\nfrom optbench.cli import main\n"
            "for what in ('problems', 'optimizers', 'suites'):\n    main(['list', what])\n"
            "assert 'torch' not in sys.modules, 'list imported torch'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "120"})
    assert done.returncode == 0, done.stderr
