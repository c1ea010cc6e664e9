"""The documentation covers what ships: every subcommand, every public name, every suite key, every JSON field.

``make docs`` builds the site with warnings as errors and runs every tutorial; these tests fail first, and
fast, when something new has no page: a subcommand without a ``{optbench-cli}`` directive in
``docs/reference/cli.md``, a name of ``optbench.__all__`` without an autodoc directive in
``docs/reference/api.md``, a suite key missing from ``docs/reference/suite-files.md``, a key of a real
``optbench.summary/1`` cell missing from ``docs/reference/json.md``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import optbench

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _cli_parsers():
    spec = importlib.util.spec_from_file_location("cli_parsers", DOCS / "_ext" / "cli_parsers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_subcommand_has_a_reference_section():
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    documented = {tuple(m.split()) for m in re.findall(r"^```\{optbench-cli\}[ \t]*(.*)$", page, flags=re.M)}
    commands = {tuple(words) for words in _cli_parsers().all_commands()}
    assert ("compare",) in commands and ("study", "seeds") in commands
    missing = sorted(" ".join(c) for c in commands - documented)
    assert not missing, f"subcommands without a section in docs/reference/cli.md: {missing}"
    stale = sorted(" ".join(c) for c in documented - commands - {()})
    assert not stale, f"docs/reference/cli.md documents subcommands that do not exist: {stale}"


def test_every_public_name_has_an_api_entry():
    page = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. auto(?:class|function|data|exception):: optbench\.(\w+)", page, flags=re.M))
    public = set(optbench.__all__) - {"__version__"}
    missing, extra = sorted(public - documented), sorted(documented - public)
    assert not missing, f"public names without an entry in docs/reference/api.md: {missing}"
    assert not extra, f"docs/reference/api.md documents non-public names: {extra}"


def test_every_suite_key_is_documented():
    from optbench.problems.suites import _KEYS

    page = (DOCS / "reference" / "suite-files.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(\w+)` \|", page, flags=re.M))
    assert rows == set(_KEYS), f"suite keys: documented {sorted(rows)}, accepted {sorted(_KEYS)}"


@pytest.fixture(scope="module")
def summary() -> dict:
    import json

    result = optbench.compare(problems=["sphere(dim=3)"], optimizers=["cmaes", "sgd"], seeds=2, budget=60,
                              device="cpu")
    return json.loads(result.to_json())


def test_every_key_of_a_summary_cell_is_documented(summary):
    page = (DOCS / "reference" / "json.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(\w[\w-]*)`", page))
    documented |= {k.replace("_T", f"_{t}") for k in documented for t in ("1e-1", "1e-3", "1e-5", "1e-7")}
    assert summary["format"] in page
    keys = {k for cell in summary["cells"] for k in cell}
    assert "median" in keys and "skipped" in keys
    missing = sorted(keys - documented)
    assert not missing, f"keys of optbench.summary/1 cells not described in docs/reference/json.md: {missing}"
    assert not set(summary) - documented, sorted(set(summary) - documented)


def test_every_tutorial_is_a_numbered_script_with_a_title():
    scripts = sorted((DOCS / "tutorials").glob("*.py"))
    assert len(scripts) >= 5
    for script in scripts:
        assert re.match(r"\d\d_\w+\.py$", script.name), script.name
        head = script.read_text(encoding="utf-8").split('"""')[1].strip().splitlines()
        assert len(head) >= 2 and set(head[1]) == {"="} and len(head[1]) >= len(head[0]), script.name
