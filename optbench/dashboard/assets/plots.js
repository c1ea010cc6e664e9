// optbench dashboard: interactive plots (Plotly, served from the plotly wheel). Hover shows values, a click on a
// legend entry hides that optimizer in every plot of the page (kept across live redraws), axes switch log/linear.
"use strict";

// matplotlib's tab10, as the HTML report: one color per optimizer in all plots of a page
OB.COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
OB.colorOf = {};
OB.hidden = new Set();
OB.axes = { y: "log", x: "log", cost: "evaluations" };

OB.color = function (name) {
  if (!(name in OB.colorOf)) OB.colorOf[name] = OB.COLORS[Object.keys(OB.colorOf).length % OB.COLORS.length];
  return OB.colorOf[name];
};

OB.visible = (name) => (OB.hidden.has(name) ? "legendonly" : true);

OB.plot = function (node, traces, layout) {
  const base = {
    margin: { l: 60, r: 10, t: 36, b: 48 }, hovermode: "closest", legend: { orientation: "h", y: -0.22 },
    font: { size: 11 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
  };
  const merged = { ...base, ...layout };
  if (merged.title && typeof merged.title === "string") merged.title = { text: OB.plain(merged.title), font: { size: 12 } };
  window.Plotly.newPlot(node, traces, merged, { displaylogo: false, responsive: true });
  node.on("plotly_legendclick", (event) => {
    const name = event.data[event.curveNumber].legendgroup || event.data[event.curveNumber].meta;
    if (OB.hidden.has(name)) OB.hidden.delete(name); else OB.hidden.add(name);
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
      const indices = [], values = [];
      plot.data.forEach((trace, i) => {
        const group = trace.legendgroup || trace.meta;
        if (group !== undefined) { indices.push(i); values.push(OB.visible(group)); }
      });
      if (indices.length) window.Plotly.restyle(plot, { visible: values }, indices);
    }
    return false; // handled here, for every plot
  });
  return node;
};

OB.div = (id) => OB.el("div", { class: "plot", id });

// Median best-so-far gap per optimizer with its IQR band (q1..q3).
OB.convergencePlot = function (node, series, target, title) {
  const curves = (series && series[OB.axes.cost]) || [];
  const traces = [];
  for (const c of curves) {
    const color = OB.color(c.name), label = OB.plain(c.name);
    traces.push({ x: c.x, y: c.q3, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false,
      legendgroup: c.name, visible: OB.visible(c.name), name: label });
    traces.push({ x: c.x, y: c.q1, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: color + "26",
      hoverinfo: "skip", showlegend: false, legendgroup: c.name, visible: OB.visible(c.name), name: label });
    traces.push({ x: c.x, y: c.median, mode: "lines", line: { color, width: 2 }, name: label, legendgroup: c.name,
      visible: OB.visible(c.name), customdata: c.q1.map((q, i) => [q, c.q3[i]]),
      hovertemplate: `${label}<br>${OB.axes.cost} %{x:.4g}<br>median gap %{y:.4g}<br>IQR [%{customdata[0]:.3g}, %{customdata[1]:.3g}]<extra></extra>` });
  }
  const shapes = target ? [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: target, y1: target,
    line: { color: "#595959", dash: "dot", width: 1 } }] : [];
  return OB.plot(node, traces, { title, shapes, xaxis: { title: { text: OB.axes.cost }, type: OB.axes.x },
    yaxis: { title: { text: "best-so-far gap (median, IQR band)" }, type: OB.axes.y, exponentformat: "power" } });
};

// Final score per seed: a box per optimizer, every seed a point (hover: seed and instance).
OB.seedPlot = function (node, boxes, title) {
  const traces = boxes.map((b) => ({
    type: "box", y: b.values, name: OB.plain(b.name), legendgroup: b.name, visible: OB.visible(b.name),
    boxpoints: "all", jitter: 0.35, pointpos: 0, marker: { color: OB.color(b.name), size: 6 },
    text: b.seeds.map((s, i) => `seed ${s} · instance ${b.instances[i]}`),
    hovertemplate: `${OB.plain(b.name)}<br>%{text}<br>${b.score || "score"} %{y:.6g}<extra></extra>`,
  }));
  return OB.plot(node, traces, { title, showlegend: true, yaxis: { type: OB.axes.y, exponentformat: "power",
    title: { text: boxes.length && boxes[0].score === "gap" ? "final gap" : "final value" } } });
};

// Step curves (ECDFs and profiles): x grid, one curve per optimizer, right-continuous.
OB.stepPlot = function (node, data, { title, xtitle, ytitle, xtype }) {
  const traces = Object.entries(data.curves).map(([name, ys]) => ({
    x: data.x, y: ys, mode: "lines", line: { shape: "hv", color: OB.color(name), width: 2 }, name: OB.plain(name),
    legendgroup: name, visible: OB.visible(name),
    hovertemplate: `${OB.plain(name)}<br>x %{x:.4g}<br>share %{y:.3f}<extra></extra>`,
  }));
  return OB.plot(node, traces, { title, xaxis: { title: { text: xtitle }, type: xtype || OB.axes.x },
    yaxis: { title: { text: ytitle }, range: [-0.02, 1.02] } });
};

// One history cell: median with its 95% interval per commit, the steps `check` found marked.
OB.historyPlot = function (node, cell, versions, kind) {
  const order = versions.map((v) => v.label);
  const points = cell.points.filter((p) => (kind === "quality" ? p.quality : p.seconds) !== null);
  const value = (p) => (kind === "quality" ? p.quality : p.seconds);
  const ci = (p) => (kind === "quality" ? p.quality_ci : p.seconds_ci);
  const finite = (v) => typeof v === "number";
  const shown = points.filter((p) => finite(value(p)));
  const step = (p) => (kind === "quality" ? p.quality_step : p.speed_step);
  const trace = {
    x: shown.map((p) => order.indexOf(p.version)), y: shown.map(value), mode: "lines+markers", name: kind,
    error_y: { type: "data", symmetric: false, array: shown.map((p) => (ci(p) ? ci(p)[1] - value(p) : 0)),
      arrayminus: shown.map((p) => (ci(p) ? value(p) - ci(p)[0] : 0)) },
    text: shown.map((p) => OB.plain(p.version)), marker: { size: 7, color: "#1f77b4" },
    hovertemplate: `%{text}<br>${kind} %{y:.4g}<extra></extra>`,
  };
  const marked = shown.filter(step);
  const marks = {
    x: marked.map((p) => order.indexOf(p.version)), y: marked.map(value), mode: "markers", name: "step",
    text: marked.map((p) => OB.plain(`${step(p)} at ${p.version}`)), hovertemplate: "%{text}<extra></extra>",
    marker: { size: 13, symbol: marked.map((p) => (/worse|slower|failing/.test(step(p)) ? "triangle-up" : "triangle-down")),
      color: marked.map((p) => (/worse|slower|failing/.test(step(p)) ? "#d62728" : "#2ca02c")) },
  };
  return OB.plot(node, [trace, marks], { title: kind === "quality" ? "median gap (95% CI)" : "median time, s (95% CI)",
    showlegend: false, xaxis: { tickvals: order.map((_, i) => i), ticktext: order.map(OB.plain), title: { text: "commit" } },
    yaxis: { type: OB.axes.y, exponentformat: "power" } });
};

// The log/linear and evaluations/seconds switches above a page's plots; a switch redraws the page.
OB.axisControls = function () {
  const pick = (label, key, options) => OB.el("label", {}, `${label} `,
    OB.el("select", { "data-axis": key, onchange: (e) => { OB.axes[key] = e.target.value; OB.refresh(); } },
      options.map((o) => OB.el("option", { value: o, selected: OB.axes[key] === o ? "selected" : null }, o))));
  return OB.el("div", { class: "controls" }, pick("y axis", "y", ["log", "linear"]), pick("x axis", "x", ["log", "linear"]),
    pick("cost", "cost", ["evaluations", "seconds"]),
    OB.el("span", { class: "muted" }, "click a legend entry to hide or show an optimizer in every plot"));
};
