"""Rendering of ``optbench history``: rich tables, a JSON document and a self-contained HTML page with plots."""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from optbench.gate.history import Point, Timeline
from optbench.report.jsonout import dumps

MARKS = {"worse": ("▲ worse", "bold red"), "failing": ("▲ failing", "bold red"), "slower": ("▲ slower", "bold red"),
         "better": ("▼ better", "green"), "faster": ("▼ faster", "green")}
LEGEND = ("Steps between neighbouring commits, with the tests of `optbench check`: quality by a one-sided "
          "Wilcoxon signed-rank test on paired seeds (Mann–Whitney U otherwise), Holm-corrected over the cells of "
          "the two commits, and the minimum effect; speed when the whole bootstrap 95% interval of the time ratio "
          "lies beyond the tolerance. Intervals: bootstrap 95% of the median over seeds.")


def _num(value: float | None) -> str:
    from optbench.report.numbers import fmt_number

    return fmt_number(value)


def _secs(value: float | None) -> str:
    from optbench.report.numbers import fmt_seconds

    return fmt_seconds(value)


def _interval(p: Point, kind: str) -> str:
    if kind == "quality":
        return _num(p.quality) + (f" [{_num(p.quality_ci[0])}, {_num(p.quality_ci[1])}]" if p.quality_ci else "")
    return _secs(p.seconds) + (f" [{_secs(p.seconds_ci[0])}, {_secs(p.seconds_ci[1])}]" if p.seconds_ci else "")


def _steps(p: Point) -> list[tuple[str, str]]:
    out = []
    if p.quality_step:
        text, style = MARKS[p.quality_step]
        out.append((text + (f" (p={p.p_holm:.2g})" if p.p_holm is not None else ""), style))
    if p.speed_step:
        text, style = MARKS[p.speed_step]
        ratio = "" if p.speed_ratio is None else f" ×{p.speed_ratio:.2f}"
        if p.speed_ratio_ci:
            ratio += f" [{p.speed_ratio_ci[0]:.2f}, {p.speed_ratio_ci[1]:.2f}]"
        out.append((text + ratio, style))
    return out


def cell_name(cell: tuple[str, str, str], several_devices: bool) -> str:
    problem, optimizer, device = cell
    return f"{problem} · {optimizer}" + (f" @{device}" if several_devices else "")


def terminal(tl: Timeline, *, last: int | None = None) -> Any:
    """One table per cell (versions as rows, the latest ``last``), then every marked step."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    subjects = {v.label: v.subject for v in tl.versions}
    several = len({c[2] for c in tl.cells}) > 1
    blocks: list[Any] = [Text(f"history of machine {tl.machine}: {len(tl.versions)} commit(s), "
                              f"{len(tl.cells)} cell(s)", style="bold")]
    for cell, points in tl.cells.items():
        table = Table(title=cell_name(cell, several), title_justify="left", title_style="bold")
        for column in ("commit", "subject", "seeds", "median gap [95% CI]", "median time [95% CI]", "step"):
            table.add_column(column, overflow="fold", no_wrap=column in ("commit", "seeds"),
                             justify="right" if column == "seeds" else "left")
        for p in points[-last:] if last else points:
            step = Text()
            for i, (text, style) in enumerate(_steps(p)):
                step.append(("\n" if i else "") + text, style=style)
            table.add_row(p.version, subjects.get(p.version, "")[:40], str(p.n), _interval(p, "quality"),
                          _interval(p, "time"), step)
        blocks.append(table)
    marked = tl.marked
    if marked:
        steps = Table(title="significant steps", title_justify="left", title_style="bold")
        for column in ("commit", "cell", "step"):
            steps.add_column(column, overflow="fold")
        for version in (v.label for v in tl.versions if v.label in marked):
            for cell, p in marked[version]:
                step = Text()
                for i, (text, style) in enumerate(_steps(p)):
                    step.append(("; " if i else "") + text, style=style)
                steps.add_row(version, cell_name(cell, several), step)
        blocks.append(steps)
    else:
        blocks.append(Text("no significant step between neighbouring commits", style="green"))
    if tl.other_machines:
        others = ", ".join(f"{m} ({n} entries)" for m, n in tl.other_machines.items())
        blocks.append(Text(f"other machines in the history (pass --machine ID): {others}", style="dim"))
    blocks.append(Text(LEGEND, style="dim"))
    return Group(*blocks)


def to_json(tl: Timeline) -> str:
    """The timeline as JSON (``optbench.history-view/1``); infinities as the string ``"inf"``."""
    data = {
        "format": "optbench.history-view/1", "machine": tl.machine,
        "versions": [{"label": v.label, "commit": v.commit, "subject": v.subject, "commit_time": v.commit_time,
                      "recorded": v.recorded, "trials": len(v.results)} for v in tl.versions],
        "cells": [{"problem": c[0], "optimizer": c[1], "device": c[2],
                   "points": [{**asdict(p), "regressed": p.regressed} for p in points]}
                  for c, points in tl.cells.items()],
        "steps": [{"version": version, "problem": c[0], "optimizer": c[1], "device": c[2],
                   "quality": p.quality_step, "speed": p.speed_step, "p_holm": p.p_holm,
                   "speed_ratio": p.speed_ratio}
                  for version, items in tl.marked.items() for c, p in items],
        "other_machines": tl.other_machines,
    }
    return dumps(data, nonfinite="string", indent=2)


def _figure(tl: Timeline, cell: tuple[str, str, str], points: Sequence[Point], title: str) -> bytes:
    from optbench.report.plots import png, pyplot

    plt = pyplot()
    order = [v.label for v in tl.versions]
    xs = [order.index(p.version) for p in points]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, kind in zip(axes, ("quality", "time"), strict=True):
        ys = [(p.quality if kind == "quality" else p.seconds) for p in points]
        cis = [(p.quality_ci if kind == "quality" else p.seconds_ci) for p in points]
        finite = [(x, y, ci) for x, y, ci in zip(xs, ys, cis, strict=True) if y is not None and abs(y) != float("inf")]
        if finite:
            fx, fy = [f[0] for f in finite], [f[1] for f in finite]
            low = [y - (ci[0] if ci else y) for _, y, ci in finite]
            high = [(ci[1] if ci else y) - y for _, y, ci in finite]
            ax.errorbar(fx, fy, yerr=[[max(v, 0) for v in low], [max(v, 0) for v in high]], marker="o",
                        color="#1f77b4", capsize=3, linewidth=1.4)
            if min(fy) > 0 and max(fy) / min(fy) > 30:
                ax.set_yscale("log")
        for p, x in zip(points, xs, strict=True):
            step = p.quality_step if kind == "quality" else p.speed_step
            y = p.quality if kind == "quality" else p.seconds
            if step and y is not None:
                color = "#d62728" if step in ("worse", "failing", "slower") else "#2ca02c"
                ax.scatter([x], [y], s=140, facecolors="none", edgecolors=color, linewidths=2, zorder=5)
                ax.annotate(step, (x, y), textcoords="offset points", xytext=(6, 8), color=color, fontsize=8)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=45, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.set_ylabel("median gap (or value)" if kind == "quality" else "median time (s)")
        ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return png(fig)


_STYLE = ("body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;"
          "text-align:left}th{background:#f3f3f5}.bad{color:#c00;font-weight:600}.good{color:#080}"
          ".note{color:#666;font-size:.92em}img{max-width:100%}")


def write_html(tl: Timeline, out_dir: str | Path, *, title: str = "optbench history") -> Path:
    """``history.html`` in ``out_dir``: the steps, and per cell its plots (quality, time) and table."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    subjects = {v.label: v.subject for v in tl.versions}
    several = len({c[2] for c in tl.cells}) > 1
    esc = html.escape
    parts = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>", f"<title>{esc(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>",
             f"<p class=note>machine {esc(tl.machine)} · {len(tl.versions)} commits · {len(tl.cells)} cells · "
             f"generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC</p><h2>Significant steps</h2>"]
    marked = tl.marked
    if marked:
        parts.append("<table><tr><th>commit</th><th>subject</th><th>cell</th><th>step</th></tr>")
        for version in (v.label for v in tl.versions if v.label in marked):
            for cell, p in marked[version]:
                steps = "; ".join(f"<span class={'bad' if '▲' in t else 'good'}>{esc(t)}</span>" for t, _ in _steps(p))
                parts.append(f"<tr><td>{esc(version)}</td><td>{esc(subjects.get(version, ''))}</td>"
                             f"<td>{esc(cell_name(cell, several))}</td><td>{steps}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No significant step between neighbouring commits.</p>")
    parts.append(f"<p class=note>{esc(LEGEND)}</p><h2>Cells</h2>")
    for cell, points in tl.cells.items():
        name = cell_name(cell, several)
        png = base64.b64encode(_figure(tl, cell, points, name)).decode("ascii")
        parts.append(f"<h3>{esc(name)}</h3><figure><img alt='{esc(name)}' src='data:image/png;base64,{png}'></figure>")
        parts.append("<table><tr><th>commit</th><th>subject</th><th>seeds</th><th>median gap [95% CI]</th>"
                     "<th>median time [95% CI]</th><th>step</th></tr>")
        for p in points:
            steps = "; ".join(f"<span class={'bad' if '▲' in t else 'good'}>{esc(t)}</span>" for t, _ in _steps(p))
            parts.append(f"<tr><td>{esc(p.version)}</td><td>{esc(subjects.get(p.version, ''))}</td><td>{p.n}</td>"
                         f"<td>{esc(_interval(p, 'quality'))}</td><td>{esc(_interval(p, 'time'))}</td>"
                         f"<td>{steps}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    page = root / "history.html"
    page.write_text("".join(parts), encoding="utf-8")
    return page
