"""A study's payload as rich tables, Markdown, JSON and a self-contained HTML report (plots embedded).

Everything here reads the stored payload alone, so ``optbench report`` redraws a study without
importing its plugins or rerunning a task. Numbers, figures and JSON are those of
:mod:`optbench.report` (``fmt_number``, ``Figure``, ``jsonout.dumps``); only the payload's layout is here.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optbench.studies.base import Payload

if TYPE_CHECKING:
    from optbench.report.document import Figure


def fmt(value: Any) -> str:
    """One table cell: numbers to 3 significant digits, booleans as yes/no, lists joined."""
    from optbench.report.numbers import fmt_number

    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt_number(value)
    if isinstance(value, list | tuple):
        if len(value) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return f"[{fmt(value[0])}, {fmt(value[1])}]"
        return ", ".join(fmt(v) for v in value)
    return str(value)


def print_payload(console: Any, data: Payload) -> None:
    """Rich tables of the payload, then its findings."""
    from rich.table import Table

    for table in data["tables"]:
        rich_table = Table(title=table["title"], title_justify="left", header_style="bold")
        for i, column in enumerate(table["columns"]):
            rich_table.add_column(column, justify="left" if i == 0 else "right", overflow="fold")
        for row in table["rows"]:
            rich_table.add_row(*(fmt(v) for v in row))
        console.print(rich_table)
        for note in table["notes"]:
            console.print(f"  {note}", markup=False, highlight=False, soft_wrap=True)
    if data["findings"]:
        console.print("[bold]Findings[/bold]")
        for finding in data["findings"]:
            console.print(f"  • {finding}", markup=False, highlight=False, soft_wrap=True)
    if data.get("failed_tasks"):
        console.print(f"  {data['failed_tasks']} task(s) failed and are left out; see the store for tracebacks",
                      markup=False)


def _md_cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(data: Payload) -> str:
    """The payload's tables and findings as Markdown."""
    parts: list[str] = []
    for table in data["tables"]:
        parts.append(f"### {table['title']}\n")
        parts.append("| " + " | ".join(_md_cell(c) for c in table["columns"]) + " |")
        parts.append("|" + "|".join(["---"] + ["---:"] * (len(table["columns"]) - 1)) + "|")
        parts.extend("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table["rows"])
        parts.extend(f"\n{note}" for note in table["notes"])
        parts.append("")
    if data["findings"]:
        parts.append("### Findings\n")
        parts.extend(f"- {f}" for f in data["findings"])
    return "\n".join(parts) + "\n"


def to_json(data: Payload) -> str:
    """The payload as strict JSON (non-finite numbers become ``null``)."""
    from optbench.report.jsonout import dumps

    return dumps(data, indent=2, sort_keys=True)


def write_report(data: Payload, figures: Sequence[Figure], out_dir: str | Path, *, title: str) -> Path:
    """Write ``report.html`` (plots embedded), ``summary.md``, ``summary.json`` and ``plots/*.png``."""
    root = Path(out_dir)
    (root / "plots").mkdir(parents=True, exist_ok=True)
    for figure in figures:
        (root / "plots" / figure.name).write_bytes(figure.png)
    (root / "summary.json").write_text(to_json(data) + "\n", encoding="utf-8")
    md = f"# {title}\n\n{data.get('question', '')}\n\n{to_markdown(data)}"
    md += "".join(f"\n![{f.caption}](plots/{f.name})\n" for f in figures)
    (root / "summary.md").write_text(md, encoding="utf-8")
    body = [f"<h1>{html.escape(title)}</h1>"]
    if data.get("question"):
        body.append(f"<p><em>{html.escape(data['question'])}</em></p>")
    settings = ", ".join(f"{k}={v}" for k, v in data["settings"].items())
    body.append(f"<p class=settings>{html.escape(settings)}</p>")
    for table in data["tables"]:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table["columns"])
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>"
                       for row in table["rows"])
        notes = "".join(f"<p class=note>{html.escape(n)}</p>" for n in table["notes"])
        body.append(f"<h2>{html.escape(table['title'])}</h2><table><tr>{head}</tr>{rows}</table>{notes}")
    if data["findings"]:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in data["findings"])
        body.append(f"<h2>Findings</h2><ul>{items}</ul>")
    for figure in figures:
        src = "data:image/png;base64," + base64.b64encode(figure.png).decode("ascii")
        body.append(f"<figure><img src='{src}' alt='{html.escape(figure.caption)}'>"
                    f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
             ".note,.settings{color:#555;font-size:90%}")
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    path = root / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
