// optbench dashboard: helpers, the router and the live poll. Every string from the store goes into the
// page as text (textContent), never as markup; attributes are set one by one, never parsed.
"use strict";

const OB = {
  pages: {},
  refresh: null, // the current page's redraw, called when the store changes
  config: null,
};

OB.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "href") node.setAttribute("href", OB.safeHref(value));
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

// Links go to this server only (a path beginning with one slash).
OB.safeHref = function (href) {
  const text = String(href);
  return text.startsWith("/") && !text.startsWith("//") ? text : "#";
};

// Plotly reads a subset of HTML in names and titles: give it entities for <, > and &, so a name shows as written.
OB.plain = function (text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
};

// Python's format(value, ".Ne") and ".Ng": exponents with two digits and a sign, g without trailing zeros.
OB.pyExp = function (value, digits) {
  const [mantissa, exp] = value.toExponential(digits).split("e");
  const n = Number(exp);
  return `${mantissa}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
};
OB.pyG = function (value, digits) {
  const exp = Math.floor(Math.log10(Math.abs(value)));
  let text = value.toPrecision(digits);
  if (text.includes("e") || exp < -4 || exp >= digits) {
    const [m, e] = OB.pyExp(value, digits - 1).split("e");
    return (m.includes(".") ? m.replace(/0+$/, "").replace(/\.$/, "") : m) + "e" + e;
  }
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
};
OB.num = function (value) { // optbench.report.numbers.fmt_number
  if (value === null || value === undefined) return "–";
  if (value === "nan") return "NaN";
  if (value === "inf") return "inf";
  if (value === "-inf") return "-inf";
  if (value === 0) return "0";
  return Math.abs(value) < 1e-2 || Math.abs(value) >= 1e4 ? OB.pyExp(value, 2) : OB.pyG(value, 3);
};
OB.seconds = function (value) { // fmt_seconds
  if (value === null || value === undefined) return "–";
  if (value < 1e-3) return `${(value * 1e6).toFixed(0)} µs`;
  if (value < 1) return `${(value * 1e3).toFixed(1)} ms`;
  return `${value.toFixed(2)} s`;
};
OB.count = function (value) { // fmt_count
  if (value === null || value === undefined) return "–";
  if (value === "inf") return "∞";
  if (value >= 10 || value === Math.trunc(value)) return Math.round(value).toLocaleString("en-US");
  return OB.pyG(value, 3);
};
OB.date = function (seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

OB.api = async function (path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
};

OB.show = function (...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
};

OB.fail = function (error) {
  OB.show(OB.el("p", { class: "error", id: "page-error" }, String(error.message || error)));
};

OB.table = function (head, rows, attrs) {
  return OB.el("table", attrs || {},
    OB.el("thead", {}, OB.el("tr", {}, head.map((h) => OB.el("th", { class: h.cls }, h.label || h)))),
    OB.el("tbody", {}, rows));
};

// The live poll: the store's change token; a change redraws the current page (no reload).
OB.poll = async function () {
  const live = document.getElementById("live");
  let last = null;
  const tick = async () => {
    try {
      const { token } = await OB.api("/api/changes");
      if (last !== null && token !== last && OB.refresh) await OB.refresh();
      last = token;
      live.textContent = `live · checked ${new Date().toLocaleTimeString()}`;
      live.className = "live on";
      live.dataset.token = token;
    } catch (error) {
      live.textContent = `store unreadable: ${error.message}`;
      live.className = "live error";
    }
    setTimeout(tick, OB.config.poll_ms);
  };
  await tick();
};

OB.route = async function () {
  const path = window.location.pathname;
  let match;
  try {
    if (path === "/") OB.refresh = () => OB.pages.runs();
    else if ((match = path.match(/^\/run\/(\d+)$/))) OB.refresh = () => OB.pages.run(Number(match[1]));
    else if ((match = path.match(/^\/diff\/(\d+)\/(\d+)$/))) OB.refresh = () => OB.pages.diff(Number(match[1]), Number(match[2]));
    else if (path === "/history") OB.refresh = () => OB.pages.history();
    else throw new Error(`no page at ${path}`);
    await OB.refresh();
  } catch (error) {
    OB.fail(error);
  }
};

window.addEventListener("DOMContentLoaded", async () => {
  try {
    OB.config = await OB.api("/api/config");
    document.getElementById("store").textContent = OB.config.store;
  } catch (error) {
    OB.fail(error);
    return;
  }
  await OB.route();
  document.body.dataset.ready = "1";
  OB.poll();
});
