// optbench dashboard: the pages (runs, a run's comparison or study, two runs, history), drawn from the JSON API.
"use strict";
const E = OB.el;

OB.valueCell = function (value, text, key, cls) {
  const raw = value === null || value === undefined ? "" : String(value);
  return E("td", { "data-key": key, "data-value": raw, title: raw, class: cls }, text);
};

OB.badge = (run) => (run.state === "complete"
  ? E("span", { class: "badge complete", "data-state": "complete" }, "complete")
  : E("span", { class: "badge partial", "data-state": "partial" }, `partial: ${run.never_ran} of ${run.trials} trials never ran`));

OB.pages.runs = async function () {
  const data = await OB.api("/api/runs");
  const states = ["complete", "failed", "timeout", "crashed", "skipped", "running"];
  const rows = data.runs.map((run) => E("tr", { "data-run": run.id },
    E("td", {}, E("a", { href: `/run/${run.id}` }, `run ${run.id}`)),
    E("td", { class: "text" }, run.study ? `study ${run.study}` : "comparison"),
    E("td", { class: "text" }, OB.date(run.created)),
    E("td", { class: "text wrap mono" }, run.command),
    E("td", { class: "text wrap" }, run.machines.join(", ") || "–"),
    E("td", { class: "text" }, OB.badge(run)),
    E("td", { "data-key": "trials" }, run.trials),
    states.map((s) => E("td", { "data-key": s }, run.counts[s] || "")),
  ));
  const options = data.runs.filter((r) => !r.study).map((r) => E("option", { value: r.id }, `run ${r.id}`));
  const base = E("select", { id: "diff-base" }, options.map((o) => o.cloneNode(true)));
  const cand = E("select", { id: "diff-candidate" }, options);
  if (base.options.length > 1) base.selectedIndex = 1;
  const go = E("button", { id: "diff-go", onclick: () => { window.location.href = `/diff/${base.value}/${cand.value}`; } },
    "compare");
  OB.show(
    E("h1", {}, `${data.runs.length} runs · ${data.trials} trials`),
    options.length > 1 ? E("div", { class: "pick" }, "Regression check: run", cand, "against baseline run", base, go) : null,
    OB.table(["run", { label: "kind", cls: "text" }, { label: "date", cls: "text" }, { label: "command", cls: "text" },
      { label: "machine", cls: "text" }, { label: "state", cls: "text" }, "trials", ...states], rows, { id: "runs" }),
  );
};

OB.filterBar = function (choices, chosen, apply) {
  const selects = [];
  for (const [facet, values] of Object.entries(choices)) {
    const useful = facet === "ruleset" ? values.some((v) => v) : values.length > 1;
    if (!useful) continue;
    const select = E("select", { multiple: "multiple", size: Math.min(values.length, 5), "data-filter": facet },
      values.map((v) => E("option", { value: v, selected: (chosen[facet] || []).includes(v) ? "selected" : null },
        v || (facet === "ruleset" ? "(untuned)" : facet === "dtype" ? "(problem's own)" : "(none)"))));
    selects.push([facet, select]);
  }
  if (!selects.length) return null;
  const read = () => Object.fromEntries(selects.map(([f, s]) => [f, [...s.selectedOptions].map((o) => o.value)]));
  return E("div", { class: "filters" }, selects.map(([f, s]) => E("label", {}, f, s)),
    E("button", { id: "apply-filters", onclick: () => apply(read()) }, "apply"),
    E("button", { onclick: () => apply({}) }, "all"),
    E("span", { class: "muted" }, "ctrl-click picks several; the analysis is redone over the selection"));
};

OB.chosen = function () {
  const params = new URLSearchParams(window.location.search);
  const out = {};
  for (const f of ["problem", "optimizer", "device", "dtype", "ruleset"]) if (params.getAll(f).length) out[f] = params.getAll(f);
  return out;
};

OB.problemTable = function (view, problem) {
  const cells = view.summary.cells;
  const rows = problem.rows.map((i) => cells[i]);
  const usesGap = rows.some((c) => c.score === "gap");
  const withErt = rows.some((c) => typeof c.ert_evaluations === "number");
  const withTest = rows.some((c) => c.test_metric_median !== null);
  const head = [{ label: "optimizer", cls: "text" }, view.show_device ? { label: "device", cls: "text" } : null,
    usesGap ? "gap" : "value", "IQR", "mean [95% CI]", "success", "time", "evals", withErt ? "ERT" : null,
    withTest ? "test" : null, "failed", "trials"].filter(Boolean);
  const body = problem.rows.map((i) => {
    const c = cells[i];
    const lane = c.dtype ? `${c.device} ${c.dtype}` : c.device;
    const cls = c.best ? "best" : c.tied_with_best ? "tied" : "";
    return E("tr", { class: cls, "data-cell": i, "data-problem": c.problem, "data-optimizer": c.optimizer, "data-device": lane },
      E("td", { class: "text", "data-key": "optimizer", "data-value": c.optimizer }, c.optimizer + (c.tied_with_best && !c.best ? " ≈" : "")),
      view.show_device ? E("td", { class: "text" }, lane) : null,
      OB.valueCell(c.median, OB.num(c.median), "median"),
      E("td", {}, c.q1 === null ? "" : `[${OB.num(c.q1)}, ${OB.num(c.q3)}]`),
      E("td", {}, c.mean === null ? "–" : `${OB.num(c.mean)}` + (c.mean_ci_low !== null ? ` [${OB.num(c.mean_ci_low)}, ${OB.num(c.mean_ci_high)}]` : "")),
      E("td", { "data-key": "successes", "data-value": c.successes ?? "" }, c.successes === null ? "–" : `${c.successes}/${c.with_result}`),
      OB.valueCell(c.median_seconds, OB.seconds(c.median_seconds), "median_seconds"),
      OB.valueCell(c.median_evaluations, OB.count(c.median_evaluations), "median_evaluations"),
      withErt ? OB.valueCell(c.ert_evaluations, OB.count(c.ert_evaluations), "ert_evaluations") : null,
      withTest ? OB.valueCell(c.test_metric_median, OB.num(c.test_metric_median), "test_metric_median") : null,
      E("td", { "data-key": "failed" }, c.failed || ""), E("td", { "data-key": "trials" }, c.trials));
  });
  return OB.table(head, body, { class: "cells" });
};

OB.comparison = function (run, view) {
  const nodes = [];
  const apply = (chosen) => {
    const params = new URLSearchParams();
    for (const [f, values] of Object.entries(chosen)) for (const v of values) params.append(f, v);
    window.history.replaceState(null, "", `${window.location.pathname}${params.toString() ? "?" + params : ""}`);
    OB.refresh();
  };
  nodes.push(OB.filterBar(view.choices, OB.chosen(), apply));
  if (view.empty) return [...nodes, E("p", { class: "warn" }, "No trial matches the filters.")];
  nodes.push(E("p", {}, E("a", { href: `/api/runs/${run.id}/summary` }, "this run's JSON summary"),
    " (the same document as ", E("code", {}, `optbench report --run ${run.id} --format json`), ")"), OB.axisControls());
  const plots = view.plots;
  for (const problem of view.problems) {
    const series = plots.problems[problem.problem];
    const conv = OB.div(), seeds = OB.div();
    nodes.push(E("h2", { "data-problem": problem.problem }, problem.problem), OB.problemTable(view, problem),
      problem.notes.length ? E("ul", { class: "notes" }, problem.notes.map((n) => E("li", {}, n))) : null,
      E("div", { class: "plots2" }, conv, seeds));
    OB.later.push(() => {
      if (series.convergence) OB.convergencePlot(conv, series.convergence, series.target, `convergence (${OB.axes.cost})`);
      else conv.replaceChildren(E("p", { class: "muted" }, "no traces recorded"));
      OB.seedPlot(seeds, series.seeds, "final score per seed");
    });
  }
  nodes.push(E("h2", {}, "Across problems"));
  if (view.standings.length) {
    nodes.push(OB.table([{ label: "optimizer", cls: "text" }, "problems", "avg rank", "best or tied", "success"],
      view.standings.map((s, i) => E("tr", { class: i === 0 ? "best" : "", "data-optimizer": s.optimizer },
        E("td", { class: "text" }, s.optimizer), E("td", {}, s.problems),
        E("td", { "data-key": "average_rank", "data-value": s.average_rank }, s.average_rank.toFixed(2)),
        E("td", {}, `${s.best_or_tied}/${s.problems}`), E("td", {}, s.trials ? `${s.successes}/${s.trials}` : "–"))),
      { id: "standings" }),
    E("p", { class: "muted" }, "≈: not significantly different from the best (two-sided Mann–Whitney U, Holm, α = 0.05); avg rank over the problems each optimizer ran"));
  }
  if (view.resolution_warning) nodes.push(E("p", { class: "warn" }, view.resolution_warning));
  const ecdf = OB.div(), perf = OB.div(), mwData = OB.div(), mwPerf = OB.div();
  const mw = plots.more_wild;
  const tauPick = E("select", { id: "tau", onchange: () => drawMoreWild() }, mw.taus.map((t, i) => E("option", { value: i }, `τ = ${t}`)));
  const drawMoreWild = () => {
    const p = mw.profiles[Number(tauPick.value)];
    if (!p) return;
    OB.stepPlot(mwData, { x: p.data.alphas, curves: p.data.curves }, { title: `Moré–Wild data profile (τ = ${p.tau})`, xtitle: p.data.unit, ytitle: "share of runs solved" });
    OB.stepPlot(mwPerf, { x: p.performance.alphas, curves: p.performance.curves }, { title: `Moré–Wild performance profile (τ = ${p.tau})`, xtitle: p.performance.unit, ytitle: "share of problems" });
  };
  nodes.push(E("div", { class: "plots2" }, ecdf, perf), E("div", { class: "controls" }, "Moré–Wild tolerance ", tauPick),
    E("div", { class: "plots2" }, mwData, mwPerf));
  OB.later.push(() => {
    const cost = OB.axes.cost;
    OB.stepPlot(ecdf, plots.ecdf[cost], { title: `runtime ECDF (${cost}), problems weighted equally`, xtitle: cost, ytitle: "share of (problem, target) pairs" });
    OB.stepPlot(perf, plots.performance[cost], { title: `Dolan–Moré performance profile (${cost})`, xtitle: "τ: ERT / best ERT", ytitle: `share of ${plots.performance[cost].problems} problems` });
    drawMoreWild();
  });
  if (view.summary.tuning) nodes.push(E("h2", {}, `Tuning (${view.summary.tuning.ruleset})`), OB.jsonTable(view.summary.tuning.cells || []));
  if (view.failures.length) {
    nodes.push(E("h2", {}, `Failures (${view.failures.length})`), OB.table(["problem", "optimizer", "seed", "state", { label: "error", cls: "text" }],
      view.failures.map((f) => E("tr", { class: "failure" }, E("td", { class: "text" }, f.problem), E("td", { class: "text" }, f.optimizer),
        E("td", {}, f.seed), E("td", {}, f.state), E("td", { class: "text wrap mono" }, f.reason.join(" "))))));
  }
  return nodes;
};

// A table of plain records (the tuning cells): scalar fields as columns.
OB.jsonTable = function (records) {
  const keys = [...new Set(records.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] !== "object" || r[k] === null)))];
  return OB.table(keys.map((k) => ({ label: k, cls: "text" })), records.map((r) => E("tr", {},
    keys.map((k) => E("td", { class: "text" }, typeof r[k] === "number" ? OB.num(r[k]) : r[k] ?? "–")))));
};

OB.studyCell = function (value) { // optbench.studies.render.fmt
  if (value === null || value === undefined) return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : OB.num(value);
  if (Array.isArray(value)) return value.length === 2 && value.every((v) => typeof v === "number") ? `[${OB.studyCell(value[0])}, ${OB.studyCell(value[1])}]` : value.map(OB.studyCell).join(", ");
  return String(value);
};

OB.study = function (run, view) {
  const p = view.payload;
  const nodes = [E("p", { class: "muted" }, p.question || "")];
  nodes.push(E("h2", {}, "Settings"), OB.table(["setting", { label: "value", cls: "text" }],
    Object.entries(p.settings || {}).map(([k, v]) => E("tr", {}, E("td", {}, k), E("td", { class: "text wrap" }, OB.studyCell(v))))));
  for (const t of p.tables) {
    nodes.push(E("h2", {}, t.title), OB.table(t.columns.map((c, i) => ({ label: c, cls: i === 0 ? "text" : "" })),
      t.rows.map((row) => E("tr", {}, row.map((v, i) => E("td", { class: i === 0 ? "text" : "", "data-value": v === null ? "" : JSON.stringify(v) }, OB.studyCell(v))))), { class: "study" }),
    t.notes.length ? E("ul", { class: "notes" }, t.notes.map((n) => E("li", {}, n))) : null);
  }
  if (p.findings.length) nodes.push(E("h2", {}, "Findings"), E("ul", {}, p.findings.map((f) => E("li", {}, f))));
  if (p.failed_tasks) nodes.push(E("p", { class: "warn" }, `${p.failed_tasks} task(s) failed and are left out`));
  if (view.figure_problem) nodes.push(E("p", { class: "warn" }, view.figure_problem));
  for (const f of view.figures) nodes.push(E("h3", {}, f.caption), E("img", { class: "figure", alt: f.caption, src: `data:image/png;base64,${f.png}` }));
  return nodes;
};

OB.pages.run = async function (id) {
  const params = new URLSearchParams(window.location.search);
  const data = await OB.api(`/api/runs/${id}${params.toString() ? "?" + params : ""}`);
  const run = data.run;
  OB.later = [];
  const head = [E("h1", {}, `Run ${run.id}` + (run.study ? ` · study ${run.study}` : "")),
    E("p", {}, E("code", {}, run.command), ` · ${OB.date(run.created)} · ${run.trials} trials `,
      run.never_ran ? E("span", { class: "badge partial", "data-state": "partial" }, `partial: ${run.never_ran} of ${run.trials} trials never ran`)
        : E("span", { class: "badge complete", "data-state": "complete" }, "complete"))];
  let body;
  if (data.study) body = OB.study(run, data.study);
  else if (!data.comparison) body = [E("p", { class: "muted" }, "No stored results yet; this page fills in as trials finish.")];
  else body = OB.comparison(run, data.comparison);
  OB.show(...head, ...body);
  for (const draw of OB.later) draw();
};

OB.pages.diff = async function (base, cand) {
  const data = await OB.api(`/api/diff/${base}/${cand}`);
  const c = data.check;
  const fmtCi = (r) => (r.speed_ratio === null ? "–" : `×${r.speed_ratio.toFixed(2)}` + (r.speed_ci ? ` [${r.speed_ci[0].toFixed(2)}, ${r.speed_ci[1].toFixed(2)}]` : ""));
  const rows = c.cells.map((r) => E("tr", { class: r.regressed ? "regressed" : "", "data-quality": r.quality, "data-speed": r.speed },
    E("td", { class: "text" }, r.problem), E("td", { class: "text" }, r.optimizer), E("td", { class: "text" }, r.device),
    E("td", {}, r.n_baseline), E("td", {}, r.n_candidate), OB.valueCell(r.baseline_median, OB.num(r.baseline_median), "baseline_median"),
    OB.valueCell(r.candidate_median, OB.num(r.candidate_median), "candidate_median"),
    OB.valueCell(r.p_holm, r.p_holm === null ? "–" : OB.pyG(r.p_holm, 2), "p_holm"),
    E("td", { class: r.quality === "worse" || r.quality === "failing" || r.quality === "missing" ? "error" : "" }, r.quality),
    E("td", {}, fmtCi(r)), E("td", { class: r.speed === "slower" ? "error" : "" }, r.speed)));
  const s = c.settings;
  OB.show(E("h1", {}, `Run ${cand} against run ${base}`),
    E("p", {}, E("span", { class: `badge ${c.regressed ? "regression" : "ok"}`, id: "verdict", "data-verdict": c.verdict },
      c.regressed ? `regression: ${c.regressed} cell(s)` : "no regression"),
    ` · baseline: `, E("a", { href: `/run/${base}` }, `run ${base}`), E("code", {}, ` ${data.base.command}`),
    ` · candidate: `, E("a", { href: `/run/${cand}` }, `run ${cand}`), E("code", {}, ` ${data.candidate.command}`)),
    E("p", { class: "muted" }, `The tests of optbench check: quality by a one-sided Wilcoxon signed-rank test on paired seeds (Mann–Whitney U otherwise), Holm-corrected, α = ${s.alpha}, minimum effect ${s.min_effect * 100}%; speed when the whole bootstrap 95% interval of the time ratio lies beyond 1 + ${s.tolerance}. `
      + (c.timings_compared ? "Timings compared: both runs on the same machine." : `Timings not compared: the runs ran on different machines (${c.machines.map((m) => m.join(", ") || "?").join(" vs ")}).`)),
    OB.table(["problem", "optimizer", "device", "n base", "n cand", "base median", "cand median", "p (Holm)", "quality", "time ratio [95% CI]", "speed"], rows, { id: "diff" }));
};

OB.pages.history = async function () {
  const machine = new URLSearchParams(window.location.search).get("machine");
  const data = await OB.api(`/api/history${machine ? "?machine=" + encodeURIComponent(machine) : ""}`);
  if (!data.timeline) { OB.show(E("h1", {}, "History"), E("p", { class: "muted", id: "history-note" }, data.note)); return; }
  const tl = data.timeline;
  OB.later = [];
  const pick = E("select", { id: "machine", onchange: (e) => { window.location.search = `?machine=${encodeURIComponent(e.target.value)}`; } },
    data.machines.map((m) => E("option", { value: m, selected: m === tl.machine ? "selected" : null }, m)));
  const nodes = [E("h1", {}, `History · ${tl.versions.length} commit(s), ${tl.cells.length} cell(s)`), E("div", { class: "controls" }, "machine ", pick),
    OB.table(["commit", { label: "subject", cls: "text" }, "recorded", "trials"], tl.versions.map((v) => E("tr", {},
      E("td", { class: "mono" }, v.label), E("td", { class: "text wrap" }, v.subject || ""), E("td", {}, OB.date(v.recorded)), E("td", {}, v.trials)))),
    E("h2", {}, `Steps marked by check (${tl.steps.length})`),
    OB.table(["commit", "problem", "optimizer", "device", "quality", "speed", "p (Holm)", "time ratio"], tl.steps.map((s) => E("tr", { class: "step" },
      E("td", { class: "mono" }, s.version), E("td", { class: "text" }, s.problem), E("td", { class: "text" }, s.optimizer), E("td", { class: "text" }, s.device),
      E("td", {}, s.quality || ""), E("td", {}, s.speed || ""), E("td", {}, s.p_holm === null ? "–" : OB.pyG(s.p_holm, 2)),
      E("td", {}, s.speed_ratio === null ? "–" : `×${s.speed_ratio.toFixed(2)}`))), { id: "steps" })];
  for (const cell of tl.cells) {
    const q = OB.div(), t = OB.div();
    nodes.push(E("h3", {}, `${cell.problem} · ${cell.optimizer} @${cell.device}`), E("div", { class: "plots2" }, q, t));
    OB.later.push(() => { OB.historyPlot(q, cell, tl.versions, "quality"); OB.historyPlot(t, cell, tl.versions, "time"); });
  }
  OB.show(...nodes);
  for (const draw of OB.later) draw();
};
