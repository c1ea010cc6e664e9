"""Rich tables for the terminal: one table per problem, optimizers as rows.

Everything shown comes from the :class:`~optbench.analysis.Comparison` (cells, ties, best, speedups,
standings, Moré–Wild profiles); nothing here computes a statistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from optbench.analysis.profiles import Standing
from optbench.analysis.stats import Cell, table_order, without_result, wrong_optimum_note
from optbench.api import TrialResult, TrialState
from optbench.report.numbers import fmt_count, fmt_number, fmt_seconds

if TYPE_CHECKING:
    from optbench.analysis.comparison import Comparison



def precision_of(cells: Sequence[Cell]) -> str:
    """The precision every cell of a problem was chosen to run in (``float32``), or ``""`` when they
    run in the problem's own or differ (then each row's device says it: ``cpu float32``)."""
    chosen = {c.dtype for c in cells}
    return chosen.pop() if len(chosen) == 1 else ""


def instance_span(instances: Sequence[int]) -> str:
    """``instances 0–2`` for a run of consecutive instances, else ``instances 0, 3, 5``."""
    ordered = sorted(instances)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"instances {ordered[0]}–{ordered[-1]}"
    return "instances " + ", ".join(map(str, ordered))


def identity(cell: Cell) -> tuple[list[str], str | None]:
    """What a problem's header says of its id and its optimum: one instance's own, or, with instances
    pooled, the id without the instance, which instances, and their optimum (one value where they share
    it, else per instance: every gap is taken against its own instance's optimum)."""
    optima = dict(cell.instance_optima)
    if len(optima) <= 1:
        known = cell.optimal_value is not None
        return [cell.problem_id], f"optimum {fmt_number(cell.optimal_value)}" if known else None
    ids = [cell.pooled_id, instance_span(list(optima))]
    values = set(optima.values())
    if values == {None}:
        return ids, None
    if len(values) == 1:
        return ids, f"optimum {fmt_number(values.pop())} (every instance)"
    if len(optima) <= 4:
        each = ", ".join(f"{i}: {'unknown' if v is None else fmt_number(v)}" for i, v in optima.items())
        return ids, f"optimum per instance ({each})"
    known = [v for v in values if v is not None]
    return ids, f"optimum per instance ({fmt_number(min(known))} to {fmt_number(max(known))})"


def _title(cells: Sequence[Cell]) -> str:
    cell = cells[0]
    ids, optimum = identity(cell)
    parts = [cell.problem, *ids]
    if precision_of(cells):
        parts.append(precision_of(cells))
    if optimum is not None:
        parts.append(optimum)
    if cell.target is not None and cell.optimal_value is not None:
        parts.append(f"success: gap ≤ {fmt_number(cell.target)}")
    if cell.blind_search_evaluations is not None:
        parts.append(f"blind search ≈ {fmt_evaluations(cell.blind_search_evaluations)} evals")
    return "  ·  ".join(parts)


def fmt_evaluations(value: float | None) -> str:
    """Counts that may be huge or infinite: ``1,024``, ``2^40``, ``∞``."""
    if value is None:
        return "–"
    if math.isinf(value):
        return "∞"
    if value >= 1e6 and math.log2(value).is_integer():
        return f"2^{int(math.log2(value))}"
    return fmt_count(value) if value < 1e6 else f"{value:.2e}"


def _caption(cells: Sequence[Cell], *, show_device: bool) -> Text | None:
    """Optimizers with no result on this problem, grouped by reason (skips are not failures)."""
    groups = without_result(cells, show_device=show_device)
    if not groups:
        return None
    text = Text()
    for i, (state, reason, names) in enumerate(groups):
        if i:
            text.append("\n")
        text.append(f"{state}: ", style="bold" if state == "skipped" else "bold red")
        text.append(", ".join(names))
        if reason:
            text.append(f" ({reason})", style="dim")
    return text


def _outliers(cells: Sequence[Cell], *, show_device: bool) -> Text | None:
    flagged = [(c, c.outlier_seeds) for c in cells if c.outlier_seeds]
    if not flagged:
        return None
    text = Text("outlier seeds (beyond 3 IQR): ", style="yellow")
    text.append("; ".join(f"{c.optimizer}{'@' + c.device if show_device else ''} seed "
                          f"{', '.join(map(str, seeds))}" for c, seeds in flagged))
    return text


def _wrong_optimum(cells: Sequence[Cell], *, show_device: bool) -> Text | None:
    """The note that results beat the declared optimum (the first of :func:`notes`, when there)."""
    note = wrong_optimum_note(cells, show_device=show_device)
    return None if note is None else Text("⚠ " + note, style="bold red")


def problem_block(analysis: Comparison, problem: str) -> Group:
    """Title line, table, outlier seeds and the optimizers without results, for one problem."""
    cells, show_device = analysis.by_problem[problem], analysis.show_device
    parts: list[Text | Table] = [Text("\n" + _title(cells), style="bold")]
    if any(c.with_result for c in cells):
        parts.append(problem_table(analysis, problem))
    for extra in (_wrong_optimum(cells, show_device=show_device), _outliers(cells, show_device=show_device),
                  _caption(cells, show_device=show_device)):
        if extra is not None:
            parts.append(extra)
    return Group(*parts)


def problem_table(analysis: Comparison, problem: str) -> Table:
    """The table of one problem: gap median and IQR, success, ERT, median time and evaluations.

    The best median is bold green; optimizers statistically tied with it (Mann–Whitney U, Holm)
    are green and marked ``≈``. Optimizers without any result (skipped, or failed on every seed)
    are listed under the table with the reason instead of as empty rows.
    """
    cells, show_device = analysis.by_problem[problem], analysis.show_device
    tied, best, ups = analysis.tied, analysis.best, analysis.speedups
    shown = [c for c in cells if c.with_result]
    with_test = any(c.test_metric is not None for c in shown)
    # ERT only where someone reached the target; against blind search where the problem has that bar
    with_ert = any(c.ert_evaluations is not None and math.isfinite(c.ert_evaluations) for c in shown)
    blind = next((c.blind_search_evaluations for c in shown if c.blind_search_evaluations), None)
    uses_gap = any(c.gap is not None for c in shown) or not shown
    table = Table(expand=False)
    table.add_column("optimizer", overflow="fold")
    if show_device:
        table.add_column("device", no_wrap=True)
    table.add_column("gap" if uses_gap else "value", justify="right", no_wrap=True)
    table.add_column("IQR", style="dim", overflow="fold")
    table.add_column("success", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("evals", justify="right", no_wrap=True)
    if with_ert:
        table.add_column("ERT", justify="right", no_wrap=True)
    if with_ert and blind:
        table.add_column("÷ blind", justify="right", no_wrap=True)
    if with_test:
        table.add_column("test", justify="right", no_wrap=True)
    if show_device:
        table.add_column("speedup", justify="right", no_wrap=True)
    for cell in table_order(cells):
        is_best = best.get((cell.problem, cell.device)) is cell
        is_tied = not is_best and (cell.problem, cell.device, cell.optimizer) in tied
        style = "bold green" if is_best else "green" if is_tied else ""
        row: list[Text | str] = [Text(cell.optimizer + (" ≈" if is_tied else ""), style=style)]
        if show_device:
            row.append(cell.device)
        score = cell.score
        median = Text(fmt_number(score.median if score else None), style=style)
        if score is not None and score.nonfinite:
            median.append(f" ⚠{score.nonfinite}", style="yellow")
        failed = sum(n for state, n in cell.states.items() if TrialState(state).is_failure)
        if failed:
            median.append(f" ({failed} failed)", style="red")
        row.append(median)
        row.append(f"[{fmt_number(score.q1)}, {fmt_number(score.q3)}]" if score and score.n > 1 else "")
        success = Text(f"{cell.successes}/{cell.with_result}" if cell.gap is not None else "–")
        if cell.below_optimum:
            success.append(f" ⚠{cell.below_optimum} below optimum", style="bold red")
        row.append(success)
        row.append(fmt_seconds(cell.seconds.median if cell.seconds else None))
        row.append(fmt_count(cell.evaluations.median if cell.evaluations else None))
        if with_ert:
            row.append(fmt_evaluations(cell.ert_evaluations))
        if with_ert and blind:
            ratio = None if cell.ert_evaluations is None else cell.ert_evaluations / blind
            row.append("∞" if ratio is not None and math.isinf(ratio) else fmt_number(ratio))
        if with_test:
            row.append(fmt_number(cell.test_metric.median) if cell.test_metric else "–")
        if show_device:
            up = ups.get((cell.problem, cell.optimizer, cell.device))
            row.append(f"{up:.2f}×" if up else "")
        table.add_row(*row)
    return table


def leaderboard_table(standings: Sequence[Standing]) -> Table:
    """Optimizers across problems: average rank, problems won or tied, successes."""
    table = Table(title="across problems", title_justify="left", title_style="bold")
    for column in ("optimizer", "problems", "avg rank", "best or tied", "success"):
        table.add_column(column, justify="left" if column == "optimizer" else "right", overflow="fold")
    for i, s in enumerate(standings):
        style = "bold green" if i == 0 else ""
        table.add_row(Text(s.optimizer, style=style), str(s.problems), f"{s.average_rank:.2f}",
                      f"{s.best_or_tied}/{s.problems}", f"{s.successes}/{s.trials}" if s.trials else "–")
    return table


def comparison(analysis: Comparison) -> Group:
    """All problem tables of a campaign, in the order problems first appear, then the leaderboard."""
    blocks: list[Group | Text | Table] = [problem_block(analysis, problem) for problem in analysis.by_problem]
    if len(analysis.by_problem) > 1:
        blocks.append(Text(""))
        blocks.append(leaderboard_table(analysis.standings))
        blocks.append(Text("≈: not significantly different from the best (two-sided Mann–Whitney U, Holm, "
                           "α = 0.05); avg rank over the problems each optimizer ran", style="dim"))
    warning = analysis.resolution_warning
    if warning:
        blocks.append(Text(warning, style="yellow"))
    return Group(*blocks)


def failures(results: Sequence[TrialResult]) -> Table | None:
    """The failed trials with the last line of their error, or ``None`` when none failed."""
    failed = [r for r in results if r.state.is_failure]
    if not failed:
        return None
    table = Table(title="failed trials", title_justify="left", title_style="bold red")
    for column in ("problem", "optimizer", "seed", "device", "error"):
        table.add_column(column, overflow="fold")
    for r in failed:
        lines = (r.reason or "").strip().splitlines()
        table.add_row(r.spec.problem_label, r.spec.optimizer_label, str(r.spec.seed), r.spec.lane,
                      lines[-1] if lines else str(r.state))
    return table


def print_comparison(console: Console, analysis: Comparison) -> None:
    """The problem tables and the leaderboard, the Moré–Wild table, the tuning table and the failed trials."""
    console.print(comparison(analysis))
    from optbench.report.morewild import terminal_table  # Moré–Wild profiles: say something on any problem set

    profiles = terminal_table(analysis.more_wild)
    if profiles is not None:
        console.print(profiles)
    if analysis.tuning is not None:
        from optbench.report.tuning import tuning_block

        console.print(tuning_block(analysis.tuning))
    table = failures(analysis.results)
    if table is not None:
        console.print(table)
