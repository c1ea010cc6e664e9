"""The shareable report: a self-contained HTML file (plots embedded) and a Markdown summary.

Built from stored results alone: no trial reruns and no optimizer or problem plugin is imported.
Every number, test and profile comes from the :class:`~optbench.analysis.Comparison`; nothing here
computes a statistic. Every file name derived from a problem or optimizer name is sanitized, and
nothing is written outside the report directory.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from optbench.analysis.stats import Cell, wrong_optimum_note
from optbench.api import TrialState
from optbench.report.export import cell_rows, lane_of, summary
from optbench.report.terminal import fmt_evaluations, fmt_number, fmt_seconds, identity, precision_of, without_result

if TYPE_CHECKING:
    from optbench.analysis.comparison import Comparison

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, suffix: str) -> str:
    """A file name for ``text``: safe characters only, bounded length, a hash against collisions."""
    stem = _UNSAFE.sub("_", text).strip("._-")[:60] or "item"
    return f"{stem}-{hashlib.sha1(text.encode()).hexdigest()[:8]}{suffix}"


def _inside(root: Path, name: str) -> Path:
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"refusing to write outside {root}: {name!r}")
    return path


@dataclass(frozen=True)
class Figure:
    name: str  # file name under plots/
    caption: str
    png: bytes


def _cell_table(cells: Sequence[Cell], tied: Collection[tuple[str, str, str]],
                best_cells: Mapping[tuple[str, str], Cell]) -> str:
    best = {id(c) for c in best_cells.values()}
    several_devices = len({c.device for c in cells}) > 1
    head = ("optimizer", "device", "median", "IQR", "min – max", "mean [95% CI]", "success", "ERT (evals)",
            "ERT (s)", "time", "evals", "test metric")
    rows = []
    for c in sorted((c for c in cells if c.score is not None), key=lambda c: c.order_key):
        s = c.score
        assert s is not None
        mark = " ★" if id(c) in best else (" ≈" if (c.problem, c.device, c.optimizer) in tied else "")
        ci = f" [{fmt_number(s.ci[0])}, {fmt_number(s.ci[1])}]" if s.ci else ""
        # seeds without a result would otherwise vanish from a row that has some
        failed = sum(n for state, n in c.states.items() if TrialState(state).is_failure)
        caveats = [f"{s.nonfinite} non-finite"] * bool(s.nonfinite) + [f"{failed} failed"] * bool(failed)
        values = (
            c.optimizer + mark, c.device,
            fmt_number(s.median) + (f" ({', '.join(caveats)})" if caveats else ""),
            f"[{fmt_number(s.q1)}, {fmt_number(s.q3)}]",
            f"{fmt_number(s.minimum)} – {fmt_number(s.maximum)}", fmt_number(s.mean) + ci,
            f"{c.successes}/{c.with_result}" if c.gap is not None else "–", fmt_evaluations(c.ert_evaluations),
            "–" if c.ert_seconds is None else ("∞" if math.isinf(c.ert_seconds) else fmt_seconds(c.ert_seconds)),
            fmt_seconds(c.seconds.median if c.seconds else None),
            fmt_evaluations(c.evaluations.median if c.evaluations else None),
            fmt_number(c.test_metric.median) if c.test_metric else "–",
        )
        rows.append(values)
    keep = [i for i, h in enumerate(head) if (h != "device" or several_devices)
            and (h != "test metric" or any(c.test_metric is not None for c in cells))]
    head, rows = tuple(head[i] for i in keep), [tuple(r[i] for i in keep) for r in rows]
    # ranges may break at their spaces (never inside a number) so that the table fits the page
    return _html_table(head, rows, wrap={h for h in head if h in ("median", "IQR", "min – max", "mean [95% CI]")})


def _html_cell(value: object, *, wrap: bool) -> str:
    text = html.escape(str(value))
    if not wrap:
        return text
    return " ".join(f"<span class=nw>{part}</span>" for part in text.split(" ") if part)


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], *, wrap: Collection[str] = (),
                text: Collection[str] = (), prose: Collection[str] = ()) -> str:
    """A table; ``wrap`` columns may break between words, ``text`` columns align left, ``prose`` both."""
    def attrs(h: str) -> str:
        classes = " ".join(name for name, columns in (("w", wrap), ("t", text), ("p", prose)) if h in columns)
        return f" class='{classes}'" if classes else ""

    out = ["<div class=scroll><table><thead><tr>", *(f"<th{attrs(h)}>{html.escape(h)}</th>" for h in head),
           "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td{attrs(h)}>{_html_cell(v, wrap=h in wrap)}</td>"
                                    for h, v in zip(head, row, strict=True)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1180px;
color:#1d1d1f;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
h3{font-size:1.05em;margin-top:1.6em}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap;vertical-align:top}
th:first-child,td:first-child,.t,.p{text-align:left}th{background:#f3f3f5}
td.w{white-space:normal}.nw{white-space:nowrap}td.p{white-space:normal;min-width:16em;overflow-wrap:anywhere}
img{max-width:100%;height:auto;display:block;margin:.4em 0}.note{color:#666;font-size:.92em}
code{background:#f3f3f5;padding:0 3px;border-radius:3px}
@media print{body{max-width:none;margin:0}.scroll{overflow:visible}figure{break-inside:avoid}}
"""


def write_report(analysis: Comparison, out_dir: str | Path, *, title: str) -> Path:
    """Write ``report.html``, ``summary.md``, ``summary.json``, ``summary.csv`` and ``plots/*.png`` of ``analysis``.

    Returns:
        The path of the HTML report.
    """
    from optbench.analysis.significance import ALPHA
    from optbench.report import morewild, plots
    from optbench.report.drawing import Drawings

    root = Path(out_dir)
    (root / "plots").mkdir(parents=True, exist_ok=True)
    results, cells, tied, best = analysis.results, analysis.cells, analysis.tied, analysis.best_keys
    runs = analysis.runs
    several_devices = analysis.show_device
    # one color and line style per optimizer in every figure (and per optimizer@device where curves are per device)
    optimizers = list(dict.fromkeys(c.optimizer for c in cells if c.with_result))
    per_device = [f"{c.optimizer}@{c.device}" for c in cells if c.with_result] if several_devices else []
    style = plots.styles(optimizers + per_device)

    # every figure is queued first and drawn at once (in parallel where that is safe: report.drawing)
    drawings = Drawings()
    queued: list[tuple[str, str, int]] = []  # the overview's figures: name, caption, index of its PNG
    standings = analysis.standings
    board_head = ("optimizer", "problems", "avg rank", "best or tied", "success")
    board = [(s.optimizer, str(s.problems), f"{s.average_rank:.2f}", f"{s.best_or_tied}/{s.problems}",
              f"{s.successes}/{s.trials}" if s.trials else "–") for s in standings]
    if runs:
        queued.append(("ecdf.png", "Runtime ECDFs", drawings.add(plots.ecdfs, *analysis.ecdfs, style=style)))
        profiles = analysis.performance
        if profiles[0].problems:
            queued.append(("performance_profiles.png", "Performance profiles",
                           drawings.add(plots.performance_profile, *profiles, style=style)))
        # Moré–Wild data and performance profiles at each tolerance (None: no problem to draw)
        queued.append(("more_wild.png", "Moré–Wild data and performance profiles",
                       drawings.add(morewild.figure, analysis.more_wild, style=style)))
    by_problem = analysis.by_problem
    queued_by_problem: dict[str, list[tuple[str, str, int]]] = {}
    for problem, group in by_problem.items():
        mine = queued_by_problem[problem] = []
        problem_runs = [g for g in runs if g.problem == problem]
        if problem_runs:
            mine.append((safe_name(f"convergence-{problem}", ".png"), f"Convergence on {problem}",
                         drawings.add(plots.convergence, problem_runs, problem, style=style)))
        if any(c.samples for c in group):
            mine.append((safe_name(f"seeds-{problem}", ".png"), f"Final score per seed on {problem}",
                         drawings.add(plots.seed_spread, group, f"{problem}: final score per seed", style=style)))
    pngs = drawings.draw()

    def drawn(entries: list[tuple[str, str, int]]) -> list[Figure]:
        return [Figure(name, caption, png) for name, caption, i in entries if (png := pngs[i]) is not None]

    figures = drawn(queued)
    names, rates = list(analysis.win_names), analysis.win_rates
    win_rows = [(a, *("–" if math.isnan(rates[i, j]) else f"{rates[i, j]:.0%}" for j in range(len(names))))
                for i, a in enumerate(names)]

    sections_html, sections_md = [], []
    for problem, group in by_problem.items():
        first = group[0]
        ids, optimum = identity(first)
        facts = [*ids, *filter(None, [precision_of(group)])]  # float32, where every row chose it
        if optimum is not None:
            facts.append(f"{optimum}, success at gap ≤ {fmt_number(first.target)}")
        if first.blind_search_evaluations:
            facts.append(f"blind search ≈ {fmt_evaluations(first.blind_search_evaluations)} evaluations")
        problem_figs = drawn(queued_by_problem[problem])
        figures += problem_figs
        missing = [f"{state}: {', '.join(names)}" + (f" ({reason})" if reason else "")
                   for state, reason, names in without_result(group, show_device=several_devices)]
        outliers = [f"{c.optimizer}: seeds {', '.join(map(str, c.outlier_seeds))}" for c in group if c.outlier_seeds]
        table = _cell_table(group, tied, analysis.best)
        body = [f"<h3>{html.escape(problem)}</h3><p class=note>{html.escape(' · '.join(facts))}</p>", table]
        wrong = wrong_optimum_note(group, show_device=several_devices)  # results beat the declared optimum
        body += [f"<p class=note style='color:#b00020'>⚠ {html.escape(wrong or '')}</p>"] * bool(wrong)
        body += [f"<p class=note>outlier seeds (beyond 3 IQR): {html.escape('; '.join(outliers))}</p>"] * bool(outliers)
        body += [f"<p class=note>no result · {'<br>no result · '.join(map(html.escape, missing))}</p>"] * bool(missing)
        body += [_img(f) for f in problem_figs]
        sections_html.append("".join(body))
        rows = [r for r in cell_rows(group, tied, best) if r["median"] is not None]
        md = [f"### {problem}\n", " · ".join(facts) + "\n",
              _md_table(("optimizer", "device", "median", "IQR", "mean [95% CI]", "success", "ERT (evals)", "tied"),
                        [(r["optimizer"], lane_of(r), _num(r["median"]), f"[{_num(r['q1'])}, {_num(r['q3'])}]",
                          f"{_num(r['mean'])} [{_num(r['mean_ci_low'])}, {_num(r['mean_ci_high'])}]",
                          "–" if r["success_rate"] is None else f"{r['success_rate']:.0%}",
                          _num(r["ert_evaluations"]), "best" if r["best"] else "≈" if r["tied_with_best"] else "")
                         for r in rows])]
        md += [f"**⚠ {wrong}**\n"] * bool(wrong)
        md += [f"![{f.caption}](plots/{f.name})\n" for f in problem_figs]
        sections_md.append("\n".join(md))

    for figure in figures:
        _inside(root, f"plots/{figure.name}").write_bytes(figure.png)
    failed = [r for r in results if r.state.is_failure]
    fail_head = ("problem", "optimizer", "seed", "device", "state", "error")
    fail_rows = [(r.spec.problem_label, r.spec.optimizer_label, str(r.spec.seed), r.spec.lane, str(r.state),
                  ((r.reason or "").strip().splitlines() or [""])[-1][:160]) for r in failed]
    if not several_devices:
        fail_head, fail_rows = fail_head[:3] + fail_head[4:], [r[:3] + r[4:] for r in fail_rows]
    sources = sorted({s for r in results for s in (r.problem_source, r.optimizer_source) if s})
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    intro = (f"{len(results)} trials · {len(by_problem)} problems · generated {stamp} · "
             f"sources: {', '.join(sources) or '–'}")
    legend = (f"★ best median; ≈ not significantly different from the best (two-sided Mann–Whitney U, Holm, "
              f"α = {ALPHA}); ERT: COCO's expected running time to the target (∞: never reached).")
    warning = analysis.resolution_warning
    if warning:  # every ≈ then says "too few seeds", not "as good"
        legend += f" {warning[0].upper()}{warning[1:]}."
    overview = [f"<h1>{html.escape(title)}</h1><p class=note>{html.escape(intro)}</p>",
                "<h2>Across problems</h2>", _html_table(board_head, board),
                f"<p class=note>{html.escape(legend)}</p>"]
    overview += [_img(f) for f in figures if f.name in ("ecdf.png", "performance_profiles.png", "more_wild.png")]
    if len(names) > 1:
        overview += ["<h3>Win rate</h3><p class=note>Share of the problems both ran where the row optimizer beats "
                     "the column one significantly.</p>", _html_table(("", *names), win_rows)]
    page = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>", *overview,
            "<h2>Problems</h2>", *sections_html]
    tuning_md = ""
    if analysis.tuning is not None:  # the tuning table, verdicts, expected-best curves and sensitivity scatters
        from optbench.report import tuning

        tuning_figures = [Figure(name, caption, png) for name, caption, png in tuning.figures(analysis.tuning)]
        for figure in tuning_figures:
            _inside(root, f"plots/{figure.name}").write_bytes(figure.png)
        page += [f"<h2>Tuning: {html.escape(analysis.tuning.ruleset)}</h2>",
                 _html_table(tuning.HEAD, tuning.rows(analysis.tuning), prose=("selected",)),
                 *(f"<p class=note>{html.escape(line)}</p>" for line in tuning.verdict_lines(analysis.tuning)),
                 *(_img(f) for f in tuning_figures)]
        tuning_md = tuning.markdown(analysis.tuning) + "".join(
            f"\n![{f.caption}](plots/{f.name})\n" for f in tuning_figures)
    if fail_rows:
        page += ["<h2>Failed trials</h2>", _html_table(fail_head, fail_rows, text=("optimizer", "device", "state"),
                                                       prose=("error",))]
    page.append("</body></html>")
    report = _inside(root, "report.html")
    report.write_text("".join(page), encoding="utf-8")

    markdown = [f"# {title}\n", intro + "\n", "## Across problems\n", _md_table(board_head, board), legend + "\n"]
    markdown += [f"![{f.caption}](plots/{f.name})\n" for f in figures if f.name in ("ecdf.png",
                                                                                  "performance_profiles.png",
                                                                                  "more_wild.png")]
    if len(names) > 1:
        markdown += ["### Win rate\n", _md_table(("", *names), win_rows)]
    markdown += ["## Problems\n", *sections_md]
    if fail_rows:
        markdown += ["## Failed trials\n", _md_table(fail_head, fail_rows)]
    more_wild_md = morewild.markdown(analysis.more_wild)
    _inside(root, "summary.md").write_text("\n".join(markdown) + "\n" + more_wild_md + (tuning_md and "\n" + tuning_md),
                                           encoding="utf-8")
    _inside(root, "summary.json").write_text(summary(analysis, "json"), encoding="utf-8")
    _inside(root, "summary.csv").write_text(summary(analysis, "csv"), encoding="utf-8")
    return report


def _num(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return "∞" if value == "inf" else value
    return fmt_number(float(value))  # type: ignore[arg-type]


def _img(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return f'<figure><img alt="{html.escape(figure.caption)}" src="data:image/png;base64,{data}"></figure>'
