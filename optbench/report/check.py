"""The rich table of ``optbench check``: every cell's quality and speed verdict."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from optbench.gate.check import CellCheck
from optbench.report.numbers import fmt_number

_STYLE = {"worse": "bold red", "failing": "bold red", "missing": "bold red", "slower": "bold red",
          "better": "green", "faster": "green", "same": "", "too fast": "dim", "not comparable": "dim"}


def check_table(cells: Sequence[CellCheck]) -> Table:
    table = Table(title="check against the baseline", title_justify="left", title_style="bold")
    for column in ("problem", "optimizer", "quality", "median base → now", "p (Holm)", "speed", "time ratio [95% CI]"):
        table.add_column(column, overflow="fold", justify="left" if column in ("problem", "optimizer") else "right")
    for c in sorted(cells, key=lambda c: (not c.regressed, c.problem, c.optimizer)):
        medians = ("–" if c.baseline_median is None
                   else f"{fmt_number(c.baseline_median)} → {fmt_number(c.candidate_median)}")
        ratio = "–" if c.speed_ratio is None else f"{c.speed_ratio:.2f}"
        if c.speed_ci is not None:
            ratio += f" [{c.speed_ci[0]:.2f}, {c.speed_ci[1]:.2f}]"
        device = f"@{c.device}" if c.device != "cpu" else ""
        table.add_row(c.problem, c.optimizer + device, Text(c.quality, style=_STYLE[c.quality]), medians,
                      "–" if c.p_holm is None else f"{c.p_holm:.3g}",
                      Text("–" if c.speed == "not comparable" else c.speed, style=_STYLE[c.speed]), ratio)
    return table
