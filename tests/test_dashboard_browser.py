"""``optbench dashboard`` in a real headless Chromium (Debian's package, driven by Playwright).

One store is built with the real command line (two comparison runs, one with a plugin problem whose
name carries ``<script>`` and one that fails with markup in its error, a landscape study, a history of
two commits), one server and one browser serve every test of this module. The pages are checked for
console errors, their numbers against ``optbench report --format json``, the planted markup for never
running, and a campaign started beside the open page for appearing without a reload. The screenshots
of docs/_static/dashboard/ are taken here.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clirun import ENV, OPTBENCH, run
from tests.test_dashboard import start_server, stop

playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need Playwright "
                                     "(make install puts it in .venv)")
CHROMIUM = os.environ.get("OPTBENCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium; "
                                "make install does it as root)")

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "_static" / "dashboard"
SCRIPT_NAME = "<script>window.__xss=1</script>"
ERROR_MARKUP = "<img src=x onerror=window.__xss=2>"
PLUGIN = f'''
import optbench
from optbench.problems.classic import Sphere


@optbench.register_problem
class Tagged(Sphere):
    """A sphere with a free-text tag, which lands in its name."""

    family = "tagged"

    def __init__(self, *, tag: str = "", dim: int = 3, rotate: bool = False, instance: int = 0, device="cpu",
                 dtype=None):
        super().__init__(dim=dim, rotate=rotate, instance=instance, device=device, dtype=dtype)


@optbench.problem("broken", dim=2, bounds=(-1.0, 1.0), optimal_value=0.0)
def broken(X):
    raise RuntimeError({ERROR_MARKUP!r})
'''


def _compare(store: Path, plugin: Path, budget: int, *extra: str) -> None:
    proc = run("compare", "--plugin", str(plugin), "--problems", f'sphere(dim=3),tagged(tag="{SCRIPT_NAME}"),broken',
               "--optimizers", "random,cmaes", "--seeds", "8", "--budget", str(budget), "--store", str(store), "-q",
               "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _history(store: Path, path: Path) -> None:
    """Two commits of the history, one per run (the second with a tenth of the budget: worse)."""
    from optbench.gate.history import record
    from optbench.store import Store

    with Store(store) as s:
        for run_id, commit in ((1, "a" * 40), (2, "b" * 40)):
            git = {"commit": commit, "time": 1_700_000_000 + run_id, "depth": run_id, "subject": f"change {run_id}",
                   "branch": "main", "dirty": False}
            results = [r for r in s.results(s.run(run_id)[1]) if r.spec.problem_label == "sphere(dim=3)"]
            record(results, path, source="test", command=f"run {run_id}", git=git)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("dashboard")
    store, plugin, history = root / "store.sqlite", root / "plugin.py", root / "history.jsonl"
    plugin.write_text(PLUGIN, encoding="utf-8")
    _compare(store, plugin, 2000)  # run 1
    _compare(store, plugin, 200)  # run 2: a tenth of the budget
    study = run("study", "landscape", "--quick", "--store", str(store), "-q", "--format", "json")  # run 3
    assert study.returncode == 0, study.stderr[-2000:]
    _history(store, history)
    proc, url = start_server(store, "--history", str(history), "--refresh", "0.3")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        try:
            yield {"store": store, "plugin": plugin, "url": url.rstrip("/"), "context": context, "root": root}
        finally:
            context.close()
            browser.close()
            stop(proc)


def open_page(site: dict, path: str, *, plots: bool = True) -> tuple[object, list[str]]:
    """The page at ``path``, loaded (its data drawn), and the list its console errors go to."""
    page = site["context"].new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site["url"] + path)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    if plots:
        page.wait_for_selector(".js-plotly-plot, img.figure", timeout=30_000)
    return page, errors


def wait_until(page: object, expression: str, *, timeout: float = 30.0) -> None:
    """Poll ``expression`` in the page until it is true (``wait_for_function`` evaluates strings, which the
    dashboard's Content-Security-Policy forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"never true: {expression}"
        time.sleep(0.1)


PAGES = {"runs": ("/", False), "run": ("/run/1", True), "study": ("/run/3", True), "diff": ("/diff/1/2", False),
         "history": ("/history", True)}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_without_console_errors_and_is_photographed(site: dict, name: str) -> None:
    path, plots = PAGES[name]
    page, errors = open_page(site, path, plots=plots)
    assert not page.query_selector("#page-error"), page.inner_text("#page-error")
    page.wait_for_timeout(300)  # plots finish their transitions
    assert errors == [], (path, errors)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=name in ("runs", "diff"))
    if name == "runs":
        assert page.locator("tr[data-run]").count() >= 3
        assert page.locator("tr[data-run='3'] td").nth(1).inner_text() == "study landscape"
    elif name == "diff":  # a tenth of the budget is worse, and check's tests say so
        assert page.get_attribute("#verdict", "data-verdict") == "regression"
    elif name == "history":  # the step between the two commits
        assert page.locator("#steps tbody tr").count() >= 1
    elif name == "study":
        assert page.locator("table.study").count() >= 1 and page.locator("img.figure").count() >= 1
    page.close()


def _same(shown: str, expected: object) -> bool:
    if expected is None:
        return shown == ""
    if isinstance(expected, str):  # "inf", "-inf", "nan" as the summary writes them
        return shown == expected
    if isinstance(expected, bool):
        return shown == str(expected).lower()
    value = float(shown)
    return value == expected or (math.isnan(value) and math.isnan(float(expected)))


def test_numbers_shown_equal_the_command_lines_json(site: dict) -> None:
    from optbench.report.numbers import fmt_number

    cli = run("report", "--run", "1", "--format", "json", "--store", str(site["store"]))
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    page, _ = open_page(site, "/run/1")
    served = page.evaluate("fetch('/api/runs/1/summary').then(r => r.text())")
    assert served == cli.stdout.rstrip("\n")  # the summary the page links is the CLI's, byte for byte
    cells = page.eval_on_selector_all(
        "tr[data-cell]", "rows => rows.map(r => ({i: Number(r.dataset.cell), problem: r.dataset.problem, "
        "optimizer: r.dataset.optimizer, values: Object.fromEntries([...r.querySelectorAll('td[data-value]')]"
        ".map(td => [td.dataset.key, [td.dataset.value, td.textContent]]))}))")
    with_result = [c for c in expected["cells"] if c["with_result"]]
    # every cell with a result is a row (the terminal's order); those without one are named under the table
    assert sorted(c["i"] for c in cells) == [i for i, c in enumerate(expected["cells"]) if c["with_result"]]
    assert len(with_result) == 4 and "failed: random, cmaes" in page.inner_text("main")
    checked = 0
    for row in cells:
        cell = expected["cells"][row["i"]]
        assert (row["problem"], row["optimizer"]) == (cell["problem"], cell["optimizer"])
        for key, (value, _text) in row["values"].items():
            if key == "optimizer":
                continue
            assert _same(value, cell[key]), (cell["problem"], cell["optimizer"], key, value, cell[key])
            checked += 1
        median = cell["median"]
        shown = row["values"]["median"][1]
        assert shown == (fmt_number(median) if not isinstance(median, str) else median.replace("nan", "NaN"))
    assert checked >= 5 * len(with_result)
    page.close()


def test_planted_markup_shows_as_text_and_never_runs(site: dict) -> None:
    page, errors = open_page(site, "/run/1")
    assert page.evaluate("window.__xss") is None
    headings = page.eval_on_selector_all("h2[data-problem]", "hs => hs.map(h => h.textContent)")
    assert f'tagged(tag=\'{SCRIPT_NAME}\')' in headings
    assert ERROR_MARKUP in page.inner_text("body")  # the failure's message, as text
    sources = page.eval_on_selector_all("script", "ss => ss.map(s => s.getAttribute('src'))")
    assert all(src and src.startswith("/assets/") for src in sources)
    assert page.locator("img:not(.figure)").count() == 0  # the planted <img> is no element
    legend = page.eval_on_selector_all(".legendtext", "ts => ts.map(t => t.textContent)")
    assert not any("<" in t and "script" in t and t != SCRIPT_NAME for t in legend)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None and errors == []
    page.close()


def test_filters_redo_the_analysis_and_a_legend_click_hides_an_optimizer(site: dict) -> None:
    page, errors = open_page(site, "/run/1")
    page.select_option("select[data-filter='optimizer']", ["cmaes"])
    page.click("#apply-filters")
    wait_until(page, "document.querySelectorAll('tr[data-cell]').length > 0 && "
                     "[...document.querySelectorAll('tr[data-cell]')].every(r => r.dataset.optimizer === 'cmaes')")
    assert "optimizer=cmaes" in page.url
    page.goto(site["url"] + "/run/1")
    page.wait_for_selector(".js-plotly-plot")
    page.locator(".legendtoggle").first.click()
    wait_until(page, "[...document.querySelectorAll('.js-plotly-plot')].some(p => p.data.some(t => "
                     "t.visible === 'legendonly'))")
    page.select_option("select[data-axis='y']", "linear")
    wait_until(page, "[...document.querySelectorAll('.js-plotly-plot')].some(p => p.layout.yaxis.type === "
                     "'linear')")
    assert errors == []
    page.close()


def test_a_campaign_started_beside_the_open_page_appears_without_a_reload(site: dict) -> None:
    page, errors = open_page(site, "/", plots=False)
    page.evaluate("window.__sameDocument = true")
    assert page.locator("tr[data-run='4']").count() == 0
    campaign = subprocess.Popen(
        [*OPTBENCH, "compare", "--problems", "sphere(dim=3)", "--optimizers", "random", "--seeds", "8",
         "--budget", "30000", "--store", str(site["store"]), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        page.wait_for_selector("tr[data-run='4']", timeout=60_000)
        page.wait_for_selector("tr[data-run='4'] [data-state='complete']", timeout=90_000)
        assert campaign.wait(timeout=60) == 0, campaign.stderr.read() if campaign.stderr else ""
    finally:
        if campaign.poll() is None:
            campaign.kill()
    assert page.evaluate("window.__sameDocument") is True  # the same document: nothing reloaded it
    assert page.inner_text("tr[data-run='4'] td[data-key='complete']") == "8"
    assert errors == []
    page.close()

