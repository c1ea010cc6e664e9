"""The package keeps its shape: few top-level modules, no import cycles, no private cross-module imports,
one long file (the contract). The figures come from the imports themselves (tests/structure.py)."""

from __future__ import annotations

import structure


def test_no_import_cycles_even_through_imports_inside_functions():
    assert structure.cycles(structure.graph(structure.modules())) == []


def test_no_module_imports_another_modules_private_names():
    assert structure.private_imports(structure.modules()) == []


def test_at_most_twelve_top_level_modules():
    top = structure.top_level(structure.modules())
    assert len(top) <= 12, top


def test_only_the_contract_is_longer_than_four_hundred_lines():
    assert [name for name, _ in structure.long_files(structure.modules())] in ([], ["optbench.api"])


def test_the_contract_imports_nothing_of_optbench_at_run_time():
    known = structure.modules()
    assert structure.graph(known)["optbench.api"] == set()
    assert structure.graph(known)["optbench.params"] == {"optbench.api"}


def test_the_measure_finds_a_cycle_and_a_private_import(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("def f():\n    from optbench.b import _hidden\n")
    (tmp_path / "b.py").write_text("import optbench.a\n_hidden = 1\n")
    (tmp_path / "__init__.py").write_text("")
    monkeypatch.setattr(structure, "SOURCES", {"optbench": tmp_path})
    known = structure.modules()
    assert structure.cycles(structure.graph(known)) == [["optbench.a", "optbench.b"]]
    assert structure.private_imports(known) == ["optbench.a: from optbench.b import _hidden"]
