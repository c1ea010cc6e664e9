"""``{optbench-cli} WORDS``: the reference of one subcommand, generated from its argparse parser.

``{optbench-cli} compare`` renders ``optbench compare``; ``{optbench-cli} study seeds`` the parser of
``optbench study seeds``; ``{optbench-cli} baseline save`` a nested subcommand. The page is built from the
parsers that ship, so it cannot drift from ``--help``; ``tests/test_docs.py`` checks that every subcommand has
a directive.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli_parsers import resolve, subcommands
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _flags(action: argparse.Action, formatter: argparse.HelpFormatter) -> str:
    if not action.option_strings:
        return action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = formatter._format_args(action, action.dest.upper())
    return ", ".join(f"{flag} {metavar}" for flag in action.option_strings)


class CliDirective(SphinxDirective):
    required_arguments = 0
    optional_arguments = 4
    has_content = False

    def run(self) -> list[nodes.Node]:
        words = list(self.arguments)
        try:
            parser = resolve(words)
        except Exception as exc:  # a wrong name in the page: a build error naming it
            raise self.error(str(exc)) from exc
        formatter = parser._get_formatter()
        out: list[nodes.Node] = [nodes.literal_block(text=parser.format_usage().strip(), language="text")]
        if parser.description:
            out.append(nodes.paragraph(text=parser.description))
        items = nodes.definition_list()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name in subcommands(parser):
                    items += self._item(f"{' '.join(['optbench', *words, name])}", "a subcommand (below)")
                continue
            if action.help == argparse.SUPPRESS:
                continue
            text = formatter._expand_help(action) if action.help else ""
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                text = f"{text} (one of: {', '.join(map(str, action.choices))})".strip()
            items += self._item(_flags(action, formatter), text)
        if len(items):
            out.append(items)
        if parser.epilog:
            out.append(nodes.literal_block(text=parser.epilog.strip(), language="text"))
        return out

    @staticmethod
    def _item(term: str, text: str) -> nodes.definition_list_item:
        item = nodes.definition_list_item()
        item += nodes.term("", "", nodes.literal(text=term))
        definition = nodes.definition()
        definition += nodes.paragraph(text=text)
        item += definition
        return item


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("optbench-cli", CliDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
