#include "proxy/admin/status_page.h"

namespace outrigger::admin {
namespace {

// Contract with the tests (tests/integration/test_status_page.py): each backend row carries
// data-pool and data-backend attributes and a `.state` element whose text is the backend's
// state; the page's source names no other origin.
constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outrigger status</title>
<style>
:root {
  --bg: #f5f6f8; --card: #fff; --text: #1d2330; --muted: #667085; --line: #e4e7ec;
  --ready: #12805c; --unready: #b54708; --dead: #b42318; --draining: #5b5bd6;
  --accent: #175cd3;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217; --card: #181c23; --text: #e6e8ec; --muted: #98a2b3; --line: #2a303b;
    --ready: #3ccb7f; --unready: #f79009; --dead: #f97066; --draining: #9b8afb;
    --accent: #53b1fd;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header {
  display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center;
  padding: 12px 20px; background: var(--card); border-bottom: 1px solid var(--line);
  position: sticky; top: 0; z-index: 1;
}
header h1 { font-size: 17px; margin: 0; font-weight: 650; }
#updated { color: var(--muted); font-size: 13px; }
#updated.stale { color: var(--dead); font-weight: 600; }
.spacer { flex: 1; }
header label { color: var(--muted); font-size: 13px; }
#token {
  width: 200px; max-width: 60vw; padding: 5px 8px; border: 1px solid var(--line);
  border-radius: 6px; background: var(--bg); color: var(--text);
}
main { padding: 16px 20px 40px; max-width: 1280px; margin: 0 auto; }
.pool {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  margin-bottom: 18px; overflow: hidden;
}
.pool-head { padding: 14px 16px 10px; display: flex; flex-wrap: wrap; gap: 10px 24px;
  align-items: baseline; }
.pool-head h2 { margin: 0; font-size: 16px; }
.pool-head .balance { color: var(--muted); font-size: 13px; }
.stats { display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 0 16px 12px; }
.stat { min-width: 84px; }
.stat b { display: block; font-size: 18px; font-variant-numeric: tabular-nums; }
.stat span { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .03em; }
.counts { display: flex; gap: 6px; flex-wrap: wrap; }
.count { padding: 2px 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
  border: 1px solid currentColor; }
.count.zero { opacity: .45; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 8px 12px; text-align: right; border-top: 1px solid var(--line);
  white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase;
  letter-spacing: .03em; background: var(--bg); }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
td.name b { font-weight: 600; }
td.name small { display: block; color: var(--muted); }
.state { display: inline-flex; align-items: center; gap: 6px; font-weight: 600; }
.state::before { content: ""; width: 9px; height: 9px; border-radius: 50%;
  background: currentColor; }
.s-ready { color: var(--ready); } .s-unready { color: var(--unready); }
.s-dead { color: var(--dead); } .s-draining { color: var(--draining); }
.s-maint { color: var(--muted); }
.op { color: var(--muted); font-size: 12px; font-weight: 400; }
.circuit-open { color: var(--dead); font-weight: 600; }
.circuit-half_open { color: var(--unready); font-weight: 600; }
svg.spark { width: 120px; height: 28px; vertical-align: middle; display: inline-block; }
svg.spark line { stroke: var(--muted); stroke-width: 1; opacity: .35; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.spark polyline.p95 { stroke: var(--unready); stroke-dasharray: 3 2; }
button {
  padding: 4px 10px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--text); cursor: pointer; font: inherit; font-size: 12px;
}
button:hover { border-color: var(--accent); color: var(--accent); }
.actions button + button { margin-left: 6px; }
.actions { visibility: hidden; }
body.can-act .actions { visibility: visible; }
td.spark-cell svg { display: block; margin-left: auto; }
#error { display: none; margin: 0 0 16px; padding: 10px 14px; border-radius: 8px;
  background: #fef3f2; color: #b42318; border: 1px solid #fecdca; }
#error.shown { display: block; }
.empty { padding: 24px; color: var(--muted); }
@media (max-width: 760px) {
  header { padding: 10px 12px; }
  main { padding: 12px 10px 32px; }
  thead { display: none; }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { border-top: 1px solid var(--line); padding: 8px 12px; }
  td { border: 0; padding: 3px 0; text-align: left; display: flex;
    justify-content: space-between; gap: 12px; white-space: normal; }
  td::before { content: attr(data-label); color: var(--muted); font-size: 12px;
    text-transform: uppercase; }
  td.name::before { content: none; }
  td.name { display: block; font-size: 15px; }
  td.actions { display: none; }
  body.can-act td.actions { display: flex; justify-content: flex-end; padding-top: 6px; }
  td.actions::before { content: none; }
  td.spark-cell svg { margin-left: 0; }
  svg.spark { width: 160px; }
  header label { display: none; }
  #token { flex: 1 1 100%; max-width: none; width: auto; }
}
</style>
</head>
<body>
<header>
  <h1>Outrigger</h1>
  <span id="updated">loading…</span>
  <span class="spacer"></span>
  <label for="token">Admin token</label>
  <input id="token" type="password" autocomplete="off"
         placeholder="for drain / ready" aria-label="admin token">
</header>
<main>
  <div id="error" role="alert"></div>
  <div id="pools"><div class="empty">Waiting for /status…</div></div>
</main>
<script>
"use strict";
const EVERY_MS = 2000;
const KEEP = 90;             // samples of history per backend: 3 minutes at 2 s
const history = new Map();   // "pool/backend" -> {rps: [], p95: []}
let token = "";
let lastOk = 0;

const esc = (s) => String(s).replace(/[&<>"']/g,
  (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const num = (v, digits = 0) => v === null || v === undefined ? "–" :
  Number(v).toLocaleString(undefined, {maximumFractionDigits: digits,
                                       minimumFractionDigits: digits});
const ms = (s) => s === null || s === undefined ? "–" :
  (s * 1000 < 10 ? (s * 1000).toFixed(2) : (s * 1000).toFixed(0)) + " ms";

function remember(key, b) {
  let h = history.get(key);
  if (!h) { h = {rps: [], p95: []}; history.set(key, h); }
  h.rps.push(b.rps || 0);
  h.p95.push(b.latency_seconds ? b.latency_seconds.p95 : null);
  if (h.rps.length > KEEP) { h.rps.shift(); h.p95.shift(); }
  return h;
}

function line(values, cls, w, h) {
  const real = values.filter((v) => v !== null);
  if (real.length < 2) return "";
  const max = Math.max(...real) || 1;
  // Early on, a minute's width; from then on the samples fill it.
  const step = w / (Math.max(values.length, 30) - 1);
  const start = w - (values.length - 1) * step;
  const pts = [];
  values.forEach((v, i) => {
    if (v === null) return;
    pts.push((start + i * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 4)).toFixed(1));
  });
  return '<polyline class="' + cls + '" points="' + pts.join(" ") + '"/>';
}

function spark(h) {
  return '<svg class="spark" viewBox="0 0 120 28" preserveAspectRatio="none" ' +
    'role="img" aria-label="requests per second, p95 latency">' +
    '<line x1="0" y1="27" x2="120" y2="27"/>' + line(h.rps, "rps", 120, 28) + line(h.p95, "p95", 120, 28) + "</svg>";
}

function stat(value, label) {
  return '<div class="stat"><b>' + value + "</b><span>" + esc(label) + "</span></div>";
}

function renderPool(name, p) {
  const counts = {ready: 0, unready: 0, dead: 0, draining: 0};
  for (const b of p.backends) counts[b.state] = (counts[b.state] || 0) + 1;
  const sc = p.scaling || {};
  const lat = p.latency_seconds || {};
  let html = '<section class="pool" data-pool="' + esc(name) + '"><div class="pool-head">' +
    "<h2>" + esc(name) + '</h2><span class="balance">' + esc(p.balance) +
    (p.balancing_panic ? " · panic: balancing over every backend" : "") + "</span>" +
    '<div class="counts">' +
    Object.entries(counts).map(([s, n]) =>
      '<span class="count s-' + esc(s) + (n ? "" : " zero") + '">' + n + " " + esc(s) +
      "</span>").join("") +
    "</div></div><div class=\"stats\">" +
    stat(num(p.rps, 1), "req/s") + stat(num(p.inflight), "in flight") +
    stat(num(p.pending), "pending") +
    stat(ms(lat.p50) + " / " + ms(lat.p95) + " / " + ms(lat.p99), "p50 / p95 / p99") +
    (sc.recommended_backends !== undefined ?
      stat(num(sc.recommended_backends) + ' <small class="op">of ' + num(sc.min_backends) +
           "–" + num(sc.max_backends) + "</small>", "recommended backends") +
      stat(num(sc.desired_backends, 2), "desired") +
      stat(num((sc.utilization || 0) * 100, 0) + " %", "utilization") +
      (sc.panic ? stat("yes", "scaling panic") : "") : "") +
    "</div><table><thead><tr><th>Backend</th><th>State</th><th>Circuit</th><th>Weight</th>" +
    "<th>In flight</th><th>Req/s</th><th>p50</th><th>p95</th><th>p99</th><th>Last 3 min</th>" +
    "<th></th></tr></thead><tbody>";
  for (const b of p.backends) {
    const h = remember(name + "/" + b.backend, b);
    const l = b.latency_seconds || {};
    // An operator's drain or maintenance shows as such ("drained" once idle); the probes'
    // verdict otherwise.
    const shown = b.admin_state && b.admin_state !== "ready" ? b.admin_state : b.state;
    const cls = shown === "drained" ? "draining" : shown;
    const opParts = [];
    if (b.operator && b.operator.state) opParts.push(b.operator.state);
    if (b.operator && b.operator.weight !== undefined) opParts.push("weight " + b.operator.weight);
    const op = opParts.length ?
      ' <span class="op">(operator: ' + esc(opParts.join(", ")) + ")</span>" : "";
    html += '<tr data-pool="' + esc(name) + '" data-backend="' + esc(b.backend) + '">' +
      '<td class="name"><b>' + esc(b.backend) + "</b>" +
      (b.address !== b.backend ? "<small>" + esc(b.address) + "</small>" : "") + "</td>" +
      '<td data-label="State"><span class="state s-' + esc(cls) + '">' + esc(shown) +
      "</span>" + op + "</td>" +
      '<td data-label="Circuit" class="circuit-' + esc(b.circuit) + '">' +
      esc(b.circuit.replace("_", "-")) + "</td>" +
      '<td data-label="Weight">' + num(b.weight) + "</td>" +
      '<td data-label="In flight">' + num(b.inflight) + "</td>" +
      '<td data-label="Req/s">' + num(b.rps, 1) + "</td>" +
      '<td data-label="p50">' + ms(l.p50) + "</td>" +
      '<td data-label="p95">' + ms(l.p95) + "</td>" +
      '<td data-label="p99">' + ms(l.p99) + "</td>" +
      '<td data-label="Last 3 min" class="spark-cell">' + spark(h) + "</td>" +
      '<td class="actions"><button data-act="drain">Drain</button>' +
      '<button data-act="ready">Ready</button></td></tr>';
  }
  return html + "</tbody></table></section>";
}

function showError(text) {
  const e = document.getElementById("error");
  e.textContent = text;
  e.className = text ? "shown" : "";
}

async function refresh() {
  try {
    const r = await fetch("status", {cache: "no-store"});
    if (!r.ok) throw new Error("/status answered " + r.status);
    const s = await r.json();
    const pools = Object.entries(s.pools || {});
    document.getElementById("pools").innerHTML = pools.length ?
      pools.map(([n, p]) => renderPool(n, p)).join("") :
      '<div class="empty">No pools.</div>';
    lastOk = Date.now();
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    showError("");
  } catch (err) {
    showError("Cannot read /status: " + err.message);
  }
  const u = document.getElementById("updated");
  const age = lastOk ? Math.round((Date.now() - lastOk) / 1000) : null;
  u.textContent = lastOk ? "updated " + new Date(lastOk).toLocaleTimeString() : "no data yet";
  u.className = age !== null && age > 6 ? "stale" : "";
}

async function act(row, state) {
  const pool = row.dataset.pool, backend = row.dataset.backend;
  try {
    const r = await fetch("pools/" + encodeURIComponent(pool) + "/backends/" +
                          encodeURIComponent(backend), {
      method: "PATCH",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
      body: JSON.stringify({state}),
    });
    if (!r.ok) {
      let detail = "";
      try { detail = (await r.json()).error || ""; } catch (e) { /* not JSON */ }
      throw new Error(r.status + (detail ? ": " + detail : ""));
    }
    showError("");
  } catch (err) {
    showError(state + " " + pool + "/" + backend + " failed: " + err.message);
  }
  refresh();
}

document.getElementById("token").addEventListener("input", (e) => {
  token = e.target.value.trim();
  document.body.classList.toggle("can-act", token !== "");
});
document.getElementById("pools").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-act]");
  if (button) act(button.closest("tr"), button.dataset.act);
});
refresh();
setInterval(refresh, EVERY_MS);
</script>
</body>
</html>
)page";

}  // namespace

std::string_view StatusPage() { return kPage; }

}  // namespace outrigger::admin
