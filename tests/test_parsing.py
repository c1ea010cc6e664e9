from __future__ import annotations

import pytest

from optbench.api import ConfigError
from optbench.parsing import parse_call, split_top_level
from optbench.suites import load_suite, suite_names


def test_parse_call_reads_literals():
    assert parse_call("adam") == ("adam", {})
    assert parse_call("adam(lr=0.01, betas=(0.9, 0.99), amsgrad=True)") == (
        "adam", {"lr": 0.01, "betas": (0.9, 0.99), "amsgrad": True})
    assert parse_call(" ng:CMA(popsize=8) ") == ("ng:CMA", {"popsize": 8})


@pytest.mark.parametrize("text", ["adam(lr=)", "adam(0.1)", "adam(lr=0.1", "adam(lr=os.system('x'))", "1adam",
                                  "adam(**kw)"])
def test_parse_call_rejects_malformed_text(text):
    with pytest.raises(ConfigError):
        parse_call(text)


def test_split_top_level_respects_parentheses():
    assert split_top_level("adam(lr=0.1, betas=(0.9, 0.99)), sgd,cmaes") == [
        "adam(lr=0.1, betas=(0.9, 0.99))", "sgd", "cmaes"]
    with pytest.raises(ConfigError):
        split_top_level("adam(lr=0.1")


def test_every_shipped_suite_loads():
    assert "quick" in suite_names()
    for name in suite_names():
        suite = load_suite(name)
        assert suite.problems and suite.optimizers and suite.seeds


def test_malformed_suite_names_file_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('problems = ["sphere"]\noptimizers = ["random"\nbudget = 10\n')
    with pytest.raises(ConfigError, match=r"bad\.toml.*line"):
        load_suite(str(path))


def test_suite_without_budget_is_refused(tmp_path):
    path = tmp_path / "nobudget.toml"
    path.write_text('problems = ["sphere"]\noptimizers = ["random"]\n')
    with pytest.raises(ConfigError, match="budget"):
        load_suite(str(path))
