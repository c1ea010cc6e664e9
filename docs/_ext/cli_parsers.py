"""The parsers of every ``optbench`` subcommand, walked without Sphinx (the docs' extension and tests use it)."""

from __future__ import annotations

import argparse
from importlib import import_module


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subparsers of ``parser`` by name (aliases left out)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: dict[int, str] = {}
            for name, sub in action.choices.items():
                seen.setdefault(id(sub), name)
            return {name: sub for name, sub in action.choices.items() if seen[id(sub)] == name}
    return {}


def resolve(words: list[str]) -> argparse.ArgumentParser:
    """The parser of ``optbench WORDS``."""
    main, study = import_module("optbench.cli.main"), import_module("optbench.cli.study")

    if words and words[0] == "study" and len(words) > 1:
        return study.build_parser(words[1])
    if words == ["study"]:
        return study.build_parser(None)
    parser = main.build_parser()
    for word in words:
        choices = subcommands(parser)
        if word not in choices:
            raise ValueError(f"optbench {' '.join(words)}: no subcommand {word!r} (have {', '.join(choices)})")
        parser = choices[word]
    return parser


def all_commands() -> list[list[str]]:
    """Every subcommand path: ``[["compare"], ["baseline", "save"], ..., ["study", "seeds"], ...]``."""
    from optbench.registry import STUDIES, entries

    main = import_module("optbench.cli.main")

    out: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for name, sub in subcommands(parser).items():
            out.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(main.build_parser(), [])
    out.extend(["study", name] for name in entries(STUDIES))
    return out
